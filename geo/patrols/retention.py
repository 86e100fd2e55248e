"""Retention of patrol data (personal location data): purge what is older than N days.

The default is :data:`DEFAULT_RETENTION_DAYS` (180); the service setting
``WANGGE_PATROL_RETENTION_DAYS`` (api.settings) overrides it, ``wangge patrols purge
--older-than-days N`` overrides both for one run. A patrol goes when it started before the
cut-off (its points with it); check-ins go by their own time. Key points stay.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from geo import localtime
from geo.errors import InvalidInput

DEFAULT_RETENTION_DAYS = 180
MIN_RETENTION_DAYS = 1


def purge(conn: Connection, older_than_days: int = DEFAULT_RETENTION_DAYS,
          region_code: str | None = None, dry_run: bool = False,
          now: dt.datetime | None = None) -> dict[str, Any]:
    """Delete patrols started and check-ins made before now - ``older_than_days`` days.

    Returns the cut-off and the counts (what would go, with ``dry_run``).
    """
    if older_than_days < MIN_RETENTION_DAYS:
        raise InvalidInput(f"保留天数须至少 {MIN_RETENTION_DAYS} 天 / older_than_days must be at "
                           f"least {MIN_RETENTION_DAYS}", field="older_than_days")
    cutoff = (now or localtime.now()) - dt.timedelta(days=older_than_days)
    params = {"c": cutoff, "r": region_code}
    where_r = "(CAST(:r AS text) IS NULL OR region_code = :r)"
    counts = {
        "patrols": conn.execute(text(
            f"SELECT count(*) FROM patrol WHERE started_at < :c AND {where_r}"), params).scalar(),
        "points": conn.execute(text(
            f"SELECT count(*) FROM patrol_point pp WHERE pp.patrol_id IN (SELECT id FROM patrol "
            f"WHERE started_at < :c AND {where_r})"), params).scalar(),
        "checkins": conn.execute(text(
            f"SELECT count(*) FROM patrol_checkin WHERE at < :c AND {where_r}"), params).scalar(),
    }
    if not dry_run:
        conn.execute(text(f"DELETE FROM patrol_checkin WHERE at < :c AND {where_r}"), params)
        conn.execute(text(f"DELETE FROM patrol WHERE started_at < :c AND {where_r}"), params)
    return {"cutoff": cutoff.astimezone(localtime.CST).isoformat(),
            "older_than_days": older_than_days, "region_code": region_code,
            "dry_run": dry_run, **{k: int(v or 0) for k, v in counts.items()}}
