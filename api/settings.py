"""Runtime settings, read from the environment by the app factory (never at import time)."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from geo.notify.deliver import SMS_TEMPLATE
from geo.notify.rules import ESCALATE_AFTER_H
from geo.patrols.retention import DEFAULT_RETENTION_DAYS

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
    secret_key: str = ""  # from_env: WANGGE_SECRET_KEY or the installation's own (see below)
    tianditu_key: str = ""
    # Access control (issue 8): see docs/ACCESS.md.
    demo_open: bool = False  # demo mode only: anonymous callers act as the command centre
    token_ttl_s: int = 8 * 3600  # session tokens from POST /auth/login
    login_max_failures: int = 5  # failed logins per (address, name) in login_lockout_s: 429
    login_lockout_s: int = 15 * 60  # the window of that count (no account is ever locked)
    rate_login_per_min: int = 10  # per client address; 0 disables
    rate_expensive_per_min: int = 300  # per client on routes marked EXPENSIVE; 0 disables
    cors_origins: tuple[str, ...] = ()  # closed by default
    db_rls: bool = False  # PostgreSQL row-level security as a second line (geo.auth.rls)
    # Patrol tracks and check-ins are kept this many days (wangge patrols purge).
    patrol_retention_days: int = DEFAULT_RETENTION_DAYS
    # Live events and notifications (issue 18): see README "Live events and notifications".
    events_max_per_user: int = 5  # concurrent GET /events streams per user (429 beyond)
    webhook_url: str = ""  # departments, command centre, townships (JSON, HMAC-signed)
    sms_url: str = ""  # SMS gateway (HTTP POST {phone, text})
    sms_template: str = SMS_TEMPLATE
    hotline_url: str = ""  # the 12345 system's write-back webhook
    escalate_after_h: float = ESCALATE_AFTER_H  # overdue this long: escalate to the township
    notify_max_attempts: int = 8  # then the message is dead
    notify_backoff_s: float = 30.0  # first retry delay, doubled each attempt (max 1 h)
    extra: dict[str, str] = field(default_factory=dict)

    def region_or_default(self, region: str | None,
                          regions: frozenset[str] | None = None) -> str:
        """``region`` if given, else the service's default region: the one rule (API and CLI).

        ``regions``: the caller's counties (``Principal.regions``; None: every one). When the
        service's region is not among them (a user of a second county), her own county
        (the lowest code) is the default.
        """
        if region:
            return region
        if regions and self.default_region not in regions:
            return min(regions)
        return self.default_region

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
            secret_key=os.environ.get("WANGGE_SECRET_KEY") or installation_secret(data_dir),
            tianditu_key=os.environ.get("WANGGE_TIANDITU_KEY", ""),
            demo_open=os.environ.get("WANGGE_DEMO_OPEN", "0") in ("1", "true", "yes"),
            token_ttl_s=_env_int("WANGGE_TOKEN_TTL_S", 8 * 3600),
            login_max_failures=_env_int("WANGGE_LOGIN_MAX_FAILURES", 5),
            login_lockout_s=_env_int("WANGGE_LOGIN_LOCKOUT_S", 15 * 60),
            rate_login_per_min=_env_int("WANGGE_RATE_LOGIN_PER_MIN", 10),
            rate_expensive_per_min=_env_int("WANGGE_RATE_EXPENSIVE_PER_MIN", 300),
            max_body_bytes=_env_int("WANGGE_MAX_BODY_BYTES", 50 * 1024 * 1024),
            db_rls=os.environ.get("WANGGE_DB_RLS", "0") in ("1", "true", "yes"),
            patrol_retention_days=_env_int("WANGGE_PATROL_RETENTION_DAYS",
                                           DEFAULT_RETENTION_DAYS),
            events_max_per_user=_env_int("WANGGE_EVENTS_MAX_PER_USER", 5),
            webhook_url=os.environ.get("WANGGE_WEBHOOK_URL", ""),
            sms_url=os.environ.get("WANGGE_SMS_URL", ""),
            sms_template=os.environ.get("WANGGE_SMS_TEMPLATE") or SMS_TEMPLATE,
            hotline_url=os.environ.get("WANGGE_12345_URL", ""),
            escalate_after_h=float(os.environ.get("WANGGE_ESCALATE_AFTER_H")
                                   or ESCALATE_AFTER_H),
            notify_max_attempts=_env_int("WANGGE_NOTIFY_MAX_ATTEMPTS", 8),
            notify_backoff_s=float(os.environ.get("WANGGE_NOTIFY_BACKOFF_S") or 30.0),
            cors_origins=tuple(
                o.strip() for o in os.environ.get("WANGGE_CORS_ORIGINS", "").split(",")
                if o.strip()
            ),
        )


# Published in earlier releases as the demo's signing secret: never accepted (a token for any
# user could be forged with it).
DEFAULT_SECRET = "wangge-demo-secret"
SECRET_FILE = "secret_key"


WEBHOOK_SECRET_FILE = "webhook_secret"


def webhook_secret(settings: Settings) -> str:
    """The key of the notifications' HMAC signature (``X-Wangge-Signature``).

    ``WANGGE_WEBHOOK_SECRET``, else the installation's own, made at random on first use and
    kept in ``data_dir/webhook_secret`` like the signing secret (:func:`installation_secret`);
    there is no default. It is not the signing secret: receivers are given this one
    (``wangge notify secret``), and rotating it does not end anyone's session. Refuses a short
    value like :func:`check_secret`.
    """
    secret = (os.environ.get("WANGGE_WEBHOOK_SECRET")
              or installation_secret(settings.data_dir, WEBHOOK_SECRET_FILE))
    if len(secret) < 32 or secret == DEFAULT_SECRET:
        raise RuntimeError(
            "WANGGE_WEBHOOK_SECRET 须为至少 32 个字符的随机值 (不设置则自动生成) / "
            "WANGGE_WEBHOOK_SECRET must be a random value of at least 32 characters; leave it "
            f"unset and one is made and kept in the data directory ({WEBHOOK_SECRET_FILE})")
    return secret


def installation_secret(data_dir: Path, name: str = SECRET_FILE) -> str:
    """This installation's signing secret: made at random on first start, then kept.

    Stored in ``data_dir/secret_key`` (mode 600, git-ignored with the rest of ``.wangge/``).
    Every process of the installation reads the same file; delete it to rotate the secret
    (every session token signed with the old one stops working; API tokens are unaffected).
    """
    path = data_dir / name
    for _ in range(50):
        if path.exists():
            secret = path.read_text(encoding="ascii").strip()
            if secret:
                return secret
            time.sleep(0.05)  # another process is writing it
            continue
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        secret = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secret + "\n")
        return secret
    raise RuntimeError(f"密钥文件为空 / the secret file {path} stays empty: delete it and restart")


def check_secret(settings: Settings) -> None:
    """Refuse to run with the published default, an empty or a short secret key (any mode).

    Raises
    ------
    RuntimeError
        With the fix: unset ``WANGGE_SECRET_KEY`` (a random one is made) or set it to a long
        random value.
    """
    if settings.secret_key == DEFAULT_SECRET or len(settings.secret_key) < 32:
        raise RuntimeError(
            "拒绝启动: WANGGE_SECRET_KEY 须为至少 32 个字符的随机值 (不设置则自动生成) / "
            "refusing to start: WANGGE_SECRET_KEY must be a random value of at least 32 "
            "characters and never the published demo default; leave it unset and a random "
            f"secret is made and kept in the data directory ({SECRET_FILE}), or set it, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )


def local_database_url(port: int, dbname: str = "wangge") -> str:
    """URL of the project-local cluster started by ``wangge db start``."""
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{dbname}"
