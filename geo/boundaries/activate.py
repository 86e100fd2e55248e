"""Switching a pending boundary set on.

Activation, in one transaction, closes the current set (``valid_to`` = the new set's
``valid_from``; it stays for history, and incidents of earlier dates still resolve in it),
opens the new one (``valid_to`` NULL, ``is_active``) and re-routes the incidents reported since
``valid_from`` (:func:`geo.incidents.routing.route_incidents`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, text

from geo.boundaries.checks import DEFAULT_MIN_AREA_M2, check_boundary_set, describe_checks
from geo.boundaries.sets import find_set
from geo.errors import Conflict
from geo.incidents.routing import route_incidents
from geo.localtime import local_date_sql


def activate_set(
    conn: Connection,
    region_code: str | None,
    ref: str,
    force: bool = False,
    valid_from: dt.date | None = None,
    min_area_m2: float = DEFAULT_MIN_AREA_M2,
    checks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Switch a pending boundary set on (in the caller's transaction).

    Parameters
    ----------
    conn
        Open connection (its transaction holds the whole switch).
    region_code
        The county, or None when ``ref`` is unique.
    ref
        The set's id or name.
    force
        Switch it on even when its checks fail.
    valid_from
        First day of validity (default: the set's ``valid_from``).
    min_area_m2
        Smallest overlap or gap the checks report.
    checks
        The set's checks as :func:`check_boundary_set` made them with ``min_area_m2`` in the
        caller's transaction, the set unchanged since (the import that just created it, with
        ``--activate``); made here when None.

    Returns
    -------
    dict
        activated, id, region, valid_from, previous, checks, incidents_rerouted.

    Raises
    ------
    Conflict
        The set is already active, its checks fail (unless ``force``), or it would start
        before the current set.
    """
    bs = find_set(conn, region_code, ref)
    region = bs["region_code"]
    if bs["is_active"]:
        raise Conflict(f"边界集 {bs['name']} 已经生效 / boundary set {bs['name']} is already "
                       "active")
    vf = valid_from or bs["valid_from"]
    if checks is None:
        checks = check_boundary_set(conn, int(bs["id"]), min_area_m2)
    if not checks["ok"] and not force:
        raise Conflict(
            "边界集检查未通过，未启用；修正文件后重新导入，或用 --force 强制启用 / the boundary "
            "set fails its checks and was not switched on; fix the file and import it again, or "
            "use --force. " + " ".join(describe_checks(checks)[:1]),
            checks=checks,
        )
    current = conn.execute(
        text("SELECT id, name, valid_from FROM boundary_set WHERE region_code = :r AND "
             "is_active FOR UPDATE"), {"r": region}
    ).mappings().first()
    if current is not None and current["valid_from"] >= vf:
        raise Conflict(
            f"新边界集的生效日期 {vf} 必须晚于当前边界集的 {current['valid_from']} / the new set's "
            f"valid_from {vf} must be after the current set's {current['valid_from']}"
        )
    # Close every set still valid on or after vf (the current one, and any history).
    conn.execute(
        text("UPDATE boundary_set SET is_active = false, valid_to = :vf WHERE region_code = :r "
             "AND id <> :id AND valid_from < :vf AND (valid_to IS NULL OR valid_to > :vf)"),
        {"r": region, "id": bs["id"], "vf": vf},
    )
    conn.execute(
        text("UPDATE boundary_set SET is_active = true, valid_from = :vf, valid_to = NULL, "
             "activated_at = now(), checks = COALESCE(checks, '{}'::jsonb) || CAST(:c AS jsonb) "
             "WHERE id = :id"),
        {"vf": vf, "id": bs["id"], "c": json.dumps(checks, default=str)},
    )
    rerouted = conn.execute(
        text("UPDATE incident SET boundary_set_id = NULL, cell_code = NULL, "
             "community_code = NULL, township_code = NULL, worker_id = NULL "
             f"WHERE region_code = :r AND {local_date_sql('reported_at')} >= :vf"),
        {"r": region, "vf": vf},
    ).rowcount
    route_incidents(conn, region)
    return {"activated": bs["name"], "id": bs["id"], "region": region,
            "valid_from": vf.isoformat(),
            "previous": current["name"] if current else None, "checks": checks,
            "incidents_rerouted": int(rerouted or 0)}
