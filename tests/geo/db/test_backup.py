"""``wangge db backup`` / ``wangge db restore``: a round trip compares every table."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from api.cli import main
from geo.db.backup import fingerprint


def _fingerprint(url: str) -> dict[str, tuple[int, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return fingerprint(conn)
    finally:
        engine.dispose()


def _cli(url: str, *args: str) -> str:
    res = CliRunner().invoke(main, list(args), env={"WANGGE_DATABASE_URL": url})
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res.output


def test_backup_restore_round_trip(fresh_demo_url: str, empty_url: str, tmp_path: Path) -> None:
    before = _fingerprint(fresh_demo_url)
    tables = set(before)
    assert {"public.incident", "public.grid_cell", "public.camera",
            "public.alembic_version"} <= tables
    assert before["public.incident"][0] > 1000

    archive = tmp_path / "wangge.dump"
    out = _cli(fresh_demo_url, "db", "backup", str(archive))
    assert archive.stat().st_size > 100_000 and "backup written" in out
    assert not (tmp_path / "wangge.dump.partial").exists()

    # Damage the database: lose rows, change rows, add rows.
    engine = create_engine(fresh_demo_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM incident_event"))
        conn.execute(text("UPDATE incident SET merged_into_id = NULL"))
        conn.execute(text("DELETE FROM incident WHERE id % 3 = 0"))
        conn.execute(text("UPDATE grid_cell SET name = name || 'X' WHERE id % 2 = 0"))
        conn.execute(text("UPDATE camera SET status = 'fault'"))
        conn.execute(text("DELETE FROM worker_assignment"))
    engine.dispose()
    damaged = _fingerprint(fresh_demo_url)
    assert damaged["public.incident"] != before["public.incident"]
    assert damaged["public.grid_cell"] != before["public.grid_cell"]

    _cli(fresh_demo_url, "db", "restore", "--yes", str(archive))
    after = _fingerprint(fresh_demo_url)
    assert after == before, {t for t in before if before[t] != after.get(t)}

    # Restoring into an empty PostGIS database gives the same tables and rows too.
    _cli(empty_url, "db", "restore", "--yes", str(archive))
    assert _fingerprint(empty_url) == before


def test_restore_of_a_broken_archive_changes_nothing(fresh_demo_url: str, tmp_path: Path) -> None:
    before = _fingerprint(fresh_demo_url)
    bad = tmp_path / "broken.dump"
    bad.write_bytes(b"PGDMP" + b"\x00" * 200)
    res = CliRunner().invoke(main, ["db", "restore", "--yes", str(bad)],
                             env={"WANGGE_DATABASE_URL": fresh_demo_url})
    assert res.exit_code != 0
    assert "pg_restore" in res.output and "Traceback" not in res.output
    assert _fingerprint(fresh_demo_url) == before


def test_restore_asks_before_overwriting(fresh_demo_url: str, tmp_path: Path) -> None:
    archive = tmp_path / "a.dump"
    _cli(fresh_demo_url, "db", "backup", str(archive))
    res = CliRunner().invoke(main, ["db", "restore", str(archive)], input="n\n",
                             env={"WANGGE_DATABASE_URL": fresh_demo_url})
    assert res.exit_code != 0 and "Aborted" in res.output
