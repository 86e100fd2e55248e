"""Who may see patrols: tracks are personal location data (个人位置信息).

The one rule, used by every way out of patrol data (API, maps, KPIs):

- raw tracks and check-in positions: the worker herself (her own patrols), the command centre
  of her region and admins (:func:`may_see_raw`);
- aggregates (km, hours, coverage share, key points visited): also planners, with the
  worker's name as the workers' field policy (:mod:`geo.auth.fields`) lets them read it
  (:func:`may_see_aggregates`);
- departments and viewers: nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo.auth.principal import Principal
from geo.errors import Forbidden

RAW_ROLES = ("admin", "command")
AGGREGATE_ROLES = ("admin", "command", "planner", "worker")


def may_see_raw(principal: Principal, region_code: str, worker_id: int | None = None,
                own_worker_id: int | None = None) -> bool:
    """True when the caller may read the raw track (points, lines) of a worker's patrol.

    Admins and the command centre within their regions; a worker only her own
    (``worker_id == own_worker_id``); nobody else.
    """
    if not principal.in_region(region_code):
        return False
    if principal.role in RAW_ROLES:
        return True
    return (principal.role == "worker" and worker_id is not None
            and worker_id == own_worker_id)


def check_raw(principal: Principal, region_code: str) -> None:
    """Raise Forbidden unless the caller reads every raw track of the region (command/admin)."""
    if principal.role not in RAW_ROLES or not principal.in_region(region_code):
        raise Forbidden(
            "巡查轨迹属个人位置信息, 仅指挥中心和管理员可查看全部轨迹; 网格员请用 GET /me/patrols, "
            "规划人员请用 GET /analysis/patrols (汇总) / patrol tracks are personal location "
            "data: only the command centre and admins read all tracks; a grid worker reads her "
            "own at GET /me/patrols, planners the aggregates at GET /analysis/patrols",
            role=principal.role)


def check_aggregates(principal: Principal, region_code: str) -> None:
    """Raise Forbidden unless the caller may read patrol aggregates of the region."""
    if principal.role not in AGGREGATE_ROLES or not principal.in_region(region_code):
        raise Forbidden(
            f"角色 {principal.role} 无权查看巡查统计 (指挥中心、管理员、规划人员、网格员本人可以)"
            " / "
            f"role {principal.role} may not read patrol figures (command centre, admins, "
            "planners and grid workers for themselves may)", role=principal.role)


def own_worker(conn: Connection, principal: Principal) -> tuple[int, str]:
    """The grid worker (id, region) the caller is, for the ``/me/patrols`` routes.

    Raises
    ------
    Forbidden
        The caller is not a grid worker, or her account is linked to no grid worker.
    """
    row = None
    if principal.role == "worker" and principal.user_id is not None:
        row = conn.execute(text(
            "SELECT w.id, w.region_code FROM app_user u JOIN grid_worker w ON w.id = u.worker_id "
            "WHERE u.id = :u"), {"u": principal.user_id}).first()
    if row is None:
        raise Forbidden(
            "只有关联了网格员的账户可以记录巡查和签到 / only an account linked to a grid worker "
            "records patrols and check-ins (ask an admin: wangge users add --role worker "
            "--worker CODE)", role=principal.role)
    return int(row[0]), str(row[1])


def worker_scope_sql(principal: Principal, own_worker_id: int | None,
                     alias: str = "p") -> tuple[str, dict[str, object]]:
    """SQL condition on a table with ``worker_id`` and ``region_code``: the rows of patrol
    figures the caller may read (a worker: her own; command, admin, planner: their regions)."""
    conds = []
    params: dict[str, object] = {}
    if principal.regions is not None:
        conds.append(f"{alias}.region_code = ANY(:scope_regions)")
        params["scope_regions"] = sorted(principal.regions)
    if principal.role == "worker":
        conds.append(f"{alias}.worker_id = :scope_worker")
        params["scope_worker"] = own_worker_id if own_worker_id is not None else -1
    elif principal.role not in AGGREGATE_ROLES:
        conds.append("FALSE")
    return " AND ".join(conds) or "TRUE", params
