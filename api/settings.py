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
    extra: dict[str, str] = field(default_factory=dict)

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
        )


def local_database_url(port: int, dbname: str = "wangge") -> str:
    """URL of the project-local cluster started by ``wangge db start``."""
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{dbname}"
