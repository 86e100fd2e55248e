"""Runtime settings, read from the environment by the app factory (never at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass(frozen=True)
class Settings:
    """Wangge settings. Environment variables are prefixed ``WANGGE_``."""

    database_url: str
    data_dir: Path
    pg_port: int
    default_region: str = "141123"
    boundary_tolerance_m: float = 10.0
    max_batch_points: int = 100_000
    max_page_size: int = 10_000
    max_body_bytes: int = 50 * 1024 * 1024
    demo_mode: bool = True
    secret_key: str = "wangge-demo-secret"
    tianditu_key: str = ""
    # Access control (issue 8): see docs/ACCESS.md.
    demo_open: bool = False  # demo mode only: anonymous callers act as the command centre
    token_ttl_s: int = 8 * 3600  # session tokens from POST /auth/login
    login_max_failures: int = 5  # then the account is locked for login_lockout_s
    login_lockout_s: int = 15 * 60
    rate_login_per_min: int = 10  # per client address; 0 disables
    rate_expensive_per_min: int = 300  # per client on routes marked EXPENSIVE; 0 disables
    cors_origins: tuple[str, ...] = ()  # closed by default
    db_rls: bool = False  # PostgreSQL row-level security as a second line (geo.auth.rls)
    extra: dict[str, str] = field(default_factory=dict)

    def region_or_default(self, region: str | None) -> str:
        """``region`` if given, else the service's default region: the one rule (API and CLI)."""
        return region or self.default_region

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from ``WANGGE_*`` environment variables."""
        data_dir = Path(os.environ.get("WANGGE_DATA_DIR", PROJECT_ROOT / ".wangge"))
        pg_port = _env_int("WANGGE_PG_PORT", 54329)
        url = os.environ.get("WANGGE_DATABASE_URL") or local_database_url(pg_port)
        return cls(
            database_url=url,
            data_dir=data_dir,
            pg_port=pg_port,
            default_region=os.environ.get("WANGGE_REGION", "141123"),
            boundary_tolerance_m=float(os.environ.get("WANGGE_BOUNDARY_TOLERANCE_M", "10")),
            demo_mode=os.environ.get("WANGGE_DEMO_MODE", "1") not in ("0", "false", "no"),
            secret_key=os.environ.get("WANGGE_SECRET_KEY", "wangge-demo-secret"),
            tianditu_key=os.environ.get("WANGGE_TIANDITU_KEY", ""),
            demo_open=os.environ.get("WANGGE_DEMO_OPEN", "0") in ("1", "true", "yes"),
            token_ttl_s=_env_int("WANGGE_TOKEN_TTL_S", 8 * 3600),
            login_max_failures=_env_int("WANGGE_LOGIN_MAX_FAILURES", 5),
            login_lockout_s=_env_int("WANGGE_LOGIN_LOCKOUT_S", 15 * 60),
            rate_login_per_min=_env_int("WANGGE_RATE_LOGIN_PER_MIN", 10),
            rate_expensive_per_min=_env_int("WANGGE_RATE_EXPENSIVE_PER_MIN", 300),
            max_body_bytes=_env_int("WANGGE_MAX_BODY_BYTES", 50 * 1024 * 1024),
            db_rls=os.environ.get("WANGGE_DB_RLS", "0") in ("1", "true", "yes"),
            cors_origins=tuple(
                o.strip() for o in os.environ.get("WANGGE_CORS_ORIGINS", "").split(",")
                if o.strip()
            ),
        )


DEFAULT_SECRET = "wangge-demo-secret"


def check_secret(settings: Settings) -> None:
    """Refuse to run outside demo mode with the default (or a short) secret key.

    Raises
    ------
    RuntimeError
        With the fix: set ``WANGGE_SECRET_KEY`` to a long random value.
    """
    if settings.demo_mode:
        return
    if settings.secret_key == DEFAULT_SECRET or len(settings.secret_key) < 32:
        raise RuntimeError(
            "拒绝启动: 非演示模式下必须设置 WANGGE_SECRET_KEY (至少 32 个字符的随机值) / "
            "refusing to start: outside demo mode (WANGGE_DEMO_MODE=0) set WANGGE_SECRET_KEY "
            "to a random value of at least 32 characters, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )


def local_database_url(port: int, dbname: str = "wangge") -> str:
    """URL of the project-local cluster started by ``wangge db start``."""
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{dbname}"
