"""Property-management (物业) coverage of residential compounds, as of a date, against targets.

A compound's mode on a date comes from ``compound_mgmt_history`` (the row valid that day); a
compound without any history row uses its current ``compound.mgmt_mode``; a compound whose
history starts after the date did not exist yet (or is unknown) and is left out (counted in
``summary.compounds_without_record``). "Managed" means any mode but ``none``.

Targets (the seed document): 80 % of compounds managed by end 2022, 90 % by end 2023, and no
unmanaged compound in the urban area from April 2022. The binding target on a date is the
highest share whose deadline has passed, or the next one when none has.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.common import check_region, check_unit, read_gdf, result
from geo.auth.principal import Principal
from geo.boundaries.sets import valid_at_sql
from geo.db.tables import vocab
from geo.errors import InvalidInput

DEFAULT_TARGETS: list[tuple[dt.date, float]] = [
    (dt.date(2022, 12, 31), 0.80),
    (dt.date(2023, 12, 31), 0.90),
]
NO_UNMANAGED_URBAN_FROM = dt.date(2022, 4, 30)
MODE_NAMES = vocab.MGMT_MODE.labels("zh")  # the one list of labels (geo.db.tables.vocab)

COMPOUNDS_SQL = f"""
SELECT c.id, c.code, c.name, c.address, c.community_code, a.name AS community_name,
       a.parent_code AS township_code, t.name AS township_name, c.households, c.buildings,
       CASE WHEN h.id IS NOT NULL THEN h.mgmt_mode
            WHEN NOT EXISTS (SELECT 1 FROM compound_mgmt_history x WHERE x.compound_id = c.id)
            THEN c.mgmt_mode END AS mgmt_mode,
       CASE WHEN h.id IS NOT NULL THEN coalesce(h.owners_committee, c.owners_committee)
            ELSE c.owners_committee END AS owners_committee,
       CASE WHEN h.id IS NOT NULL THEN h.company_name ELSE c.company_name END AS company_name,
       c.company_credit, c.complaint_phone_posted, h.valid_from AS mode_since,
       ST_AsBinary(c.geom) AS geom
  FROM compound c
  LEFT JOIN admin_unit a ON a.region_code = c.region_code AND a.code = c.community_code
  LEFT JOIN admin_unit t ON t.region_code = c.region_code AND t.code = a.parent_code
  LEFT JOIN LATERAL (
       SELECT * FROM compound_mgmt_history h WHERE h.compound_id = c.id
          AND {valid_at_sql("h", ":d")}
        ORDER BY h.valid_from DESC LIMIT 1) h ON TRUE
 WHERE c.region_code = :r
 ORDER BY c.code
"""


def parse_targets(spec: str | None) -> list[tuple[dt.date, float]]:
    """Parse ``"2022-12-31:80,2023-12-31:90"`` (percent or fraction) into sorted targets.

    ``None`` or an empty string gives the seed's targets.
    """
    if not spec:
        return list(DEFAULT_TARGETS)
    out: list[tuple[dt.date, float]] = []
    for part in spec.split(","):
        try:
            day, share = part.strip().split(":")
            d = dt.date.fromisoformat(day.strip())
            s = float(share)
        except ValueError as exc:
            raise InvalidInput(
                f"目标格式错误 {part!r}, 应为 日期:百分比, 如 2023-12-31:90 / bad target "
                f"{part!r}: write DATE:PERCENT, e.g. 2022-12-31:80,2023-12-31:90",
                field="targets",
            ) from exc
        s = s / 100.0 if s > 1.0 else s
        if not 0.0 < s <= 1.0:
            raise InvalidInput(f"目标比例须在 (0, 100] / target share {share} must be in "
                               "(0, 100] percent", field="targets")
        out.append((d, s))
    return sorted(out)


def region_targets(conn: Connection, region_code: str
                   ) -> tuple[list[tuple[dt.date, float]], str]:
    """The region's configured targets (table ``pm_target``) and their source.

    Returns the seed's targets with source ``"seed default"`` when none are configured.
    """
    rows = conn.execute(text("SELECT due_date, share FROM pm_target WHERE region_code = :r "
                             "ORDER BY due_date"), {"r": region_code}).all()
    if rows:
        return [(d, float(s)) for d, s in rows], "pm_target table"
    return list(DEFAULT_TARGETS), "seed default"


def set_region_targets(conn: Connection, region_code: str,
                       targets: list[tuple[dt.date, float]], set_by: str | None = None) -> None:
    """Replace the region's property-management targets (caller commits)."""
    if not targets:
        raise InvalidInput("至少需要一个目标 / give at least one target", field="targets")
    conn.execute(text("DELETE FROM pm_target WHERE region_code = :r"), {"r": region_code})
    conn.execute(text("INSERT INTO pm_target (region_code, due_date, share, set_by) "
                      "VALUES (:r, :d, :s, :u)"),
                 [{"r": region_code, "d": d, "s": s, "u": set_by} for d, s in targets])


def binding_target(targets: list[tuple[dt.date, float]], as_of: dt.date
                   ) -> tuple[dt.date, float, str] | None:
    """The target that applies on ``as_of``: (deadline, share, "due" | "upcoming")."""
    due = [t for t in targets if t[0] <= as_of]
    if due:
        d, s = max(due, key=lambda t: (t[1], t[0]))
        return d, s, "due"
    if targets:
        d, s = min(targets)
        return d, s, "upcoming"
    return None


def _aggregate(df: pd.DataFrame, key: str) -> pd.DataFrame:
    g = df.groupby(key, dropna=False)
    out = pd.DataFrame({
        "compounds": g.size(),
        "households": g["households"].sum(),
        "managed_compounds": g["managed"].sum(),
        "managed_households": g["managed_hh"].sum(),
    })
    for mode in vocab.MGMT_MODE.codes:
        sel = df["mgmt_mode"] == mode
        out[f"compounds_{mode}"] = df[sel].groupby(key).size().reindex(out.index).fillna(0)
        out[f"households_{mode}"] = (df[sel].groupby(key)["households"].sum()
                                     .reindex(out.index).fillna(0))
    for oc in ("established", "preparing", "none"):
        out[f"owners_committee_{oc}"] = (df[df["owners_committee"] == oc].groupby(key).size()
                                         .reindex(out.index).fillna(0))
    for col in out.columns:
        out[col] = out[col].astype(int)
    out["managed_pct"] = (100.0 * out["managed_compounds"] / out["compounds"]).round(2)
    out["managed_households_pct"] = (
        100.0 * out["managed_households"] / out["households"].where(out["households"] > 0)
    ).round(2)
    for mode in vocab.MGMT_MODE.codes:
        out[f"share_{mode}_pct"] = (100.0 * out[f"compounds_{mode}"] / out["compounds"]).round(2)
    return out


def target_result(item: dict[str, Any]) -> str:
    """Where a target of the summary (``targets`` or ``no_unmanaged_urban``) stands, as a
    :data:`geo.db.tables.vocab.TARGET_RESULT` code: ``met`` / ``not_met`` once due,
    ``upcoming`` before; ``no_data`` when there is nothing to measure (no compounds: a
    county whose compounds are not imported has met no target; walk 12)."""
    if item.get("no_data"):
        return "no_data"
    if item.get("state") != "due":
        return "upcoming"
    return "met" if item.get("met") else "not_met"


def property_management(conn: Connection, principal: Principal, region_code: str,
                        as_of: dt.date | None = None, unit: str = "community",
                        targets: list[tuple[dt.date, float]] | None = None) -> dict[str, Any]:
    """Share of compounds and households under each management mode per unit, as of a date.

    Parameters
    ----------
    conn
        Open connection.
    principal
        The caller (only aggregates and public compound attributes are returned).
    region_code
        County code.
    as_of
        Date of the state (default today); modes come from ``compound_mgmt_history``.
    unit
        ``community`` (communities/villages holding compounds), ``township`` or ``county``.
    targets
        ``[(deadline, share)]``; default the region's configured targets (table
        ``pm_target``), else the seed's 80 % by 2022-12-31, 90 % by 2023-12-31.

    Returns
    -------
    dict
        Tables ``units`` (counts and households per mode, managed shares, owners' committee
        status, target, ``meets_target``, ``compounds_to_target``; unit polygon),
        ``unmanaged_compounds`` and ``compounds`` (every compound with its mode that day).
    """
    check_unit(unit, ("community", "township", "county"))
    check_region(conn, principal, region_code)
    as_of = as_of or dt.date.today()
    if targets is None:
        targets, target_source = region_targets(conn, region_code)
    else:
        target_source = "request"
    comp = read_gdf(conn, COMPOUNDS_SQL, {"r": region_code, "d": as_of})
    n_all = len(comp)
    comp = comp[comp["mgmt_mode"].notna()].copy()
    comp["households"] = comp["households"].fillna(0).astype(int)
    comp["managed"] = comp["mgmt_mode"] != "none"
    comp["managed_hh"] = comp["households"].where(comp["managed"], 0)
    comp["mgmt_mode_name"] = comp["mgmt_mode"].map(MODE_NAMES)
    comp["county_code"] = region_code
    key = {"community": "community_code", "township": "township_code",
           "county": "county_code"}[unit]
    agg = _aggregate(comp, key)
    bt = binding_target(targets, as_of)
    units = read_gdf(conn, """
        SELECT code, name, level, parent_code, ST_AsBinary(geom) AS geom FROM admin_unit
         WHERE region_code = :r AND code = ANY(:codes) ORDER BY code""",
                     {"r": region_code, "codes": [str(c) for c in agg.index if c]})
    units = units.merge(agg, left_on="code", right_index=True, how="left")
    if bt is not None:
        d, share, state = bt
        units["target_pct"] = round(100.0 * share, 2)
        units["target_by"] = d.isoformat()
        units["target_state"] = state
        units["meets_target"] = units["managed_compounds"] >= units["compounds"] * share - 1e-9
        units["target_result"] = [target_result({"state": state, "met": bool(m)})
                                  for m in units["meets_target"]]
        units["compounds_to_target"] = [
            max(0, math.ceil(n * share - 1e-9) - m)
            for n, m in zip(units["compounds"], units["managed_compounds"], strict=True)
        ]
    units = units[[c for c in units.columns if c != "geometry"] + ["geometry"]]
    cols = ["code", "name", "address", "community_code", "community_name", "township_code",
            "township_name", "households", "buildings", "mgmt_mode", "mgmt_mode_name",
            "mode_since", "owners_committee", "company_name", "company_credit",
            "complaint_phone_posted", "geometry"]
    comp_out = comp[cols].reset_index(drop=True)
    unmanaged = comp_out[comp_out["mgmt_mode"] == "none"].sort_values(
        ["households", "code"], ascending=[False, True]).reset_index(drop=True)

    total = _aggregate(comp, "county_code")
    tot = total.iloc[0].to_dict() if len(total) else {}
    summary: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "compounds": int(tot.get("compounds", 0)),
        "compounds_without_record": n_all - len(comp),
        "households": int(tot.get("households", 0)),
        "managed_pct": float(tot.get("managed_pct", 0.0)),
        "managed_households_pct": float(tot.get("managed_households_pct", 0.0) or 0.0),
        "by_mode": {m: {"name": MODE_NAMES[m], "compounds": int(tot.get(f"compounds_{m}", 0)),
                        "households": int(tot.get(f"households_{m}", 0)),
                        "share_pct": float(tot.get(f"share_{m}_pct", 0.0))}
                    for m in vocab.MGMT_MODE.codes},
        "owners_committee": {oc: int(tot.get(f"owners_committee_{oc}", 0))
                             for oc in ("established", "preparing", "none")},
        "unmanaged_compounds": len(unmanaged),
        "targets": [
            {"by": d.isoformat(), "target_pct": round(100 * s, 2),
             "state": "due" if d <= as_of else "upcoming",
             "met": bool(tot.get("managed_compounds", 0) >= tot.get("compounds", 0) * s - 1e-9),
             "units_meeting": int((units["managed_compounds"]
                                   >= units["compounds"] * s - 1e-9).sum()),
             "units": len(units)}
            for d, s in targets
        ],
        "no_unmanaged_urban": {
            "from": NO_UNMANAGED_URBAN_FROM.isoformat(),
            "state": "due" if NO_UNMANAGED_URBAN_FROM <= as_of else "upcoming",
            "met": len(unmanaged) == 0,
        },
    }
    for item in [*summary["targets"], summary["no_unmanaged_urban"]]:
        if not summary["compounds"]:
            item["no_data"] = True
        item["result"] = target_result(item)
    if bt is not None:
        summary["binding_target"] = {"by": bt[0].isoformat(), "target_pct": round(100 * bt[1], 2),
                                     "state": bt[2]}
    inputs = {"region": region_code, "as_of": as_of.isoformat(), "unit": unit,
              "targets": [{"by": d.isoformat(), "share_pct": round(100 * s, 2)}
                          for d, s in targets],
              "targets_source": target_source,
              "managed_means": "mgmt_mode <> 'none'",
              "mode_source": "compound_mgmt_history valid on as_of; compound.mgmt_mode when a "
                             "compound has no history"}
    return result("property-management", inputs, summary,
                  {"units": units, "unmanaged_compounds": unmanaged, "compounds": comp_out})
