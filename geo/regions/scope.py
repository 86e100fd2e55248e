"""The counties a caller oversees: one county for a county user, every county below her
prefecture or province for a prefecture or province user (:attr:`Principal.regions`, whose
rule of "below" is :mod:`geo.regions.codes`), every county for a built-in principal (None)."""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo.auth.principal import Principal


def counties_in_scope(conn: Connection, principal: Principal) -> list[tuple[str, str]]:
    """(code, name) of every county the caller may see, by code. More than one: the caller
    gets the views across counties (dispatch map, ``/board?group_by=county``, the monthly
    report's county table)."""
    codes = sorted(principal.regions) if principal.regions is not None else None
    return [(str(c), str(n)) for c, n in conn.execute(text(
        "SELECT code, name FROM region WHERE CAST(:all AS boolean) OR code = ANY(:codes) "
        "ORDER BY code"), {"all": codes is None, "codes": codes or []}).all()]



def scope_code(conn: Connection, principal: Principal, counties: list[tuple[str, str]]) -> str:
    """The code of the whole scope a reader sees across counties: her prefecture or province
    (``app_user.scope_code``, e.g. 141100), else the counties' codes joined by ``+`` (a reader
    holding several counties one by one). What an answer about all of her counties names
    instead of one county's code (``/kpi?group_by=county``, the monthly report of the scope)."""
    code = conn.execute(text("SELECT scope_code FROM app_user WHERE username = :u"),
                        {"u": principal.user}).scalar()
    return str(code) if code else "+".join(c for c, _n in counties)
