"""A case without a deadline (no final due time) is 无时限 (``no_deadline``), never on time.

Three cases of 占用消防通道 in March 2024 (a month without demo data): A closed in time with
its deadline, N closed after its deadline was removed, O open without a deadline. Counted on
the fly and from the rollup: closed 2, closed on time 1 (A only), no_deadline 2 (N, O), due 2
(both closed; O is never overdue), due with a deadline 1 -> on-time closing rate 1/1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo.auth.principal import Principal
from geo.localtime import CST
from tests.conftest import create_database, drop_database

BOSS = Principal(user="duty", role="command")


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=CST)


@pytest.fixture(scope="module")
def engine(admin_engine: Engine, demo_template: str) -> Iterator[Engine]:
    from geo.incidents.cases import transition
    from geo.incidents.intake import Report, create_incident

    url = create_database(admin_engine, template=demo_template)
    eng = create_engine(url)
    with eng.begin() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cell "
            "WHERE kind = 'basic' ORDER BY code LIMIT 1) s")).one()
        ids = []
        for k, close in enumerate((True, True, False)):
            inc = create_incident(conn, Report(
                category="fire_lane_blocked", channel="patrol", lon=lon + 0.0002 * k, lat=lat,
                reported_at=t("2024-03-04T09:00")), BOSS, "141123")
            if close:
                for to, at in (("registered", "09:10"), ("dispatched", "09:20"),
                               ("handled", "15:00"), ("verified", "16:00"),
                               ("closed", "17:00")):
                    transition(conn, inc["id"], to, BOSS, at=t(f"2024-03-04T{at}"))
            ids.append(inc["id"])
        conn.execute(text("UPDATE incident SET due_at = NULL, final_due_at = NULL "
                          "WHERE id = ANY(:ids)"), {"ids": ids[1:]})
    yield eng
    eng.dispose()
    drop_database(admin_engine, url)


@pytest.mark.parametrize("use_rollup", [True, False])
def test_a_case_without_deadline_is_no_deadline_not_on_time(engine: Engine,
                                                            use_rollup: bool) -> None:
    from geo.incidents.kpi import kpi

    with engine.connect() as conn:
        body = kpi(conn, BOSS, "141123", dt.date(2024, 3, 1), dt.date(2024, 4, 1),
                   group_by="category", as_of=t("2024-04-01T08:45"), use_rollup=use_rollup)
    total = body["total"]
    assert (total["cases"], total["closed"], total["open"]) == (3, 2, 1)
    assert total["closed_on_time"] == 1
    assert total["no_deadline"] == 2
    assert (total["due"], total["due_timed"], total["open_overdue"]) == (2, 1, 0)
    assert total["closing_rate"] == 1.0 and total["on_time_rate"] == 1.0
    assert body["groups"][0]["no_deadline"] == 2


def test_no_deadline_has_its_labels() -> None:
    from geo.incidents.kpi import METRICS_EN, METRICS_ZH

    assert METRICS_ZH["no_deadline"] == "无时限案件数"
    assert METRICS_EN["no_deadline"] == "Cases without a deadline"
