"""The demo's building and standard-address register (一标三实 标准地址), synthetic.

示例数据: 县城小区的楼栋与标准地址均为合成数据, 不是兴县的真实地址. For every compound of the
county seat: its buildings (``N号楼``, as many as the compound says it has, at most
:data:`MAX_BUILDINGS`, at points spread over the compound by PostGIS with a fixed seed), each
building's units (``N单元``) as standard addresses, and one door number on a road for the
compound's gate (``蔚汾路 12号``: roads are synthetic east-west streets, numbered from west to
east, odd on the north side). The offline address matcher (:mod:`geo.addresses.match`) reads
them; intake places a hotline row that names a building at the building, not at the gate.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, text

MAX_BUILDINGS = 12
SEED = 20231
SOURCE = "示例数据 synthetic (demo)"
# Synthetic street names of the county seat, south to north (not a survey of real streets).
ROADS = ("滨河路", "蔚汾路", "兴州路", "晋绥路", "文化街", "府前街", "北关路", "石楼山路")


def demo_delete_hook(conn: Connection, region_code: str) -> None:
    """Remove the region's register (before its compounds and the region go)."""
    conn.execute(text("DELETE FROM std_address WHERE region_code = :r"), {"r": region_code})
    conn.execute(text("DELETE FROM building WHERE region_code = :r"), {"r": region_code})


def demo_hook(conn: Connection, region_code: str, rng: np.random.Generator) -> None:
    """Buildings, unit addresses and gate numbers of the region's compounds (``rng`` unused:
    the register draws from its own seed, so the rest of the demo stays as it was)."""
    demo_delete_hook(conn, region_code)
    p = {"r": region_code, "seed": SEED, "max": MAX_BUILDINGS, "src": SOURCE}
    conn.execute(text("""
        INSERT INTO building (region_code, code, name, compound_code, address, floors, units,
                              geom, point, source, synthetic)
        SELECT c.region_code, c.code || '-' || lpad(d.path[1]::text, 2, '0'),
               d.path[1] || '号楼', c.code, c.address || d.path[1] || '号楼',
               4 + (hashtext(c.code || d.path[1]) & 15) % 15,
               1 + (hashtext(c.code || 'u' || d.path[1]) & 3) % 3,
               d.geom, d.geom, :src, true
        FROM (SELECT code, region_code, address, buildings,
                     ST_SetSRID(ST_Buffer(geom::geography, -8)::geometry, 4490) AS inner_geom
              FROM compound WHERE region_code = :r) c
        CROSS JOIN LATERAL ST_Dump(ST_GeneratePoints(
            c.inner_geom, LEAST(GREATEST(COALESCE(c.buildings, 2), 1), :max), :seed)) d
        WHERE NOT ST_IsEmpty(c.inner_geom)
    """), p)
    # the county seat's townships and communities by name, for the address text
    conn.execute(text("""
        INSERT INTO std_address (region_code, code, township, community, compound,
            compound_code, building, building_code, unit, full_text, level, geom, source,
            synthetic)
        SELECT b.region_code, b.code || '-' || u, t.name, m.name, c.name, c.code,
               split_part(b.name, '号楼', 1), b.code, u::text,
               '兴县' || t.name || m.name || c.name || b.name || u || '单元', 'building',
               ST_Translate(b.point, (u - 1) * 0.00008, 0), :src, true
        FROM building b
        JOIN compound c ON c.region_code = b.region_code AND c.code = b.compound_code
        LEFT JOIN admin_unit m ON m.region_code = c.region_code AND m.code = c.community_code
        LEFT JOIN admin_unit t ON t.region_code = m.region_code AND t.code = m.parent_code
        CROSS JOIN LATERAL generate_series(1, COALESCE(b.units, 1)) u
        WHERE b.region_code = :r
    """), p)
    # gates on synthetic streets: bands south to north, numbers west to east
    conn.execute(text("""
        WITH g AS (
            SELECT c.*, COALESCE(c.entrance, ST_PointOnSurface(c.geom)) AS gate,
                   ntile(:n) OVER (ORDER BY ST_Y(COALESCE(c.entrance,
                                                      ST_PointOnSurface(c.geom))))
                     AS band
            FROM compound c WHERE c.region_code = :r),
        n AS (SELECT g.*, (CAST(:roads AS text[]))[band] AS road,
                     row_number() OVER (PARTITION BY band ORDER BY ST_X(gate)) AS k FROM g)
        INSERT INTO std_address (region_code, code, township, community, road, number,
            compound, compound_code, full_text, level, geom, source, synthetic)
        SELECT n.region_code, n.code || '-gate', t.name, m.name, n.road,
               (2 * n.k - 1)::text, n.name, n.code,
               '兴县' || t.name || n.road || (2 * n.k - 1) || '号' || n.name,
               'compound', n.gate, :src, true
        FROM n
        LEFT JOIN admin_unit m ON m.region_code = n.region_code AND m.code = n.community_code
        LEFT JOIN admin_unit t ON t.region_code = m.region_code AND t.code = m.parent_code
    """), {**p, "n": len(ROADS), "roads": list(ROADS)})
