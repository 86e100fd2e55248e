"""Migration 0007: rows cannot point at another region's parent rows (Citus-ready keys)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError


def test_cross_region_references_are_refused(fresh_demo_url: str) -> None:
    engine = create_engine(fresh_demo_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO region (code, region_code, name) "
                          "VALUES ('141124', '141124', '临县')"))
        worker = conn.execute(text("SELECT id FROM grid_worker WHERE region_code = '141123' "
                                   "LIMIT 1")).scalar_one()
        incident = conn.execute(text("SELECT id FROM incident WHERE region_code = '141123' "
                                     "LIMIT 1")).scalar_one()
        set_id = conn.execute(text("SELECT id FROM boundary_set WHERE region_code = '141123' "
                                   "LIMIT 1")).scalar_one()
    bad = [
        ("INSERT INTO worker_assignment (region_code, worker_id, cell_code, valid_from) "
         "VALUES ('141124', :w, 'x', '2026-01-01')"),
        ("INSERT INTO incident_event (region_code, incident_id, kind, at) "
         "VALUES ('141124', :i, 'note', now())"),
        ("INSERT INTO incident (region_code, code, category_code, channel, reported_at, "
         "boundary_set_id) VALUES ('141124', 'SJX1', 'water', '12345', now(), :s)"),
        ("UPDATE incident SET worker_id = :w WHERE region_code = '141124'"),
    ]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO incident (region_code, code, category_code, channel, "
                          "reported_at) VALUES ('141124', 'SJX0', 'water', '12345', now())"))
    for sql in bad:
        with pytest.raises(IntegrityError, match="fk_.*_region_"), engine.begin() as conn:
            conn.execute(text(sql), {"w": worker, "i": incident, "s": set_id})
    # The same rows inside one region are fine.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO incident_event (region_code, incident_id, kind, at) "
                          "VALUES ('141123', :i, 'note', now())"), {"i": incident})
        conn.execute(text("INSERT INTO worker_assignment (region_code, worker_id, cell_code, "
                          "valid_from) VALUES ('141123', :w, 'x', '2026-01-01')"), {"w": worker})
    engine.dispose()
