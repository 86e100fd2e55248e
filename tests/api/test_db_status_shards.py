"""``wangge db status`` on a coordinator says whether each shard answers (issue 21, review
round 14, F14): one line per shard, 在线 / online or 不可达 / unreachable with the error's class,
each tried with a 3 s connect time-out so a dead server does not hang the command, and exit
status 1 when one does not answer.

Cheap stand-in for three clusters (tests/scenarios/test_shards.py): a throwaway database with
``postgres_fdw`` server entries as ``wangge db shard add`` makes them, one pointing at this
cluster (answers), one at a closed local port (refused), one at an address that never answers
(TEST-NET-1, 192.0.2.1: the time-out).
"""

from __future__ import annotations

import socket
import time

from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, make_url, text

from api.cli import main as cli
from api.cli.ops import PING_TIMEOUT_S, shard_reachability
from tests.conftest import create_database, drop_database


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()  # nothing listens there any more
    return port


def test_db_status_says_whether_each_shard_answers(admin_engine: Engine) -> None:
    url = create_database(admin_engine)
    u = make_url(url)
    closed = _closed_port()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION postgres_fdw"))
            for name, host, port, db, user in (
                    ("shard_141123", u.host, u.port, u.database, u.username),
                    ("shard_141124", "127.0.0.1", closed, "wangge", "wangge"),
                    ("shard_141125", "192.0.2.1", 5432, "wangge", "wangge")):
                conn.execute(text(
                    f"CREATE SERVER {name} FOREIGN DATA WRAPPER postgres_fdw OPTIONS "
                    f"(host '{host}', port '{port}', dbname '{db}')"))
                conn.execute(text(
                    f"CREATE USER MAPPING FOR PUBLIC SERVER {name} OPTIONS "
                    f"(user '{user}', password 'never-shown-7f3a')"))
        started = time.monotonic()
        res = CliRunner().invoke(cli, ["db", "status"], env={"WANGGE_DATABASE_URL": url})
        took = time.monotonic() - started
        out = res.output
        assert res.exit_code == 1, out
        assert (f"分片 shard_141123 ({u.host}:{u.port}/{u.database}, -): 在线 / online"
                in out), out
        assert (f"分片 shard_141124 (127.0.0.1:{closed}/wangge, -): 不可达 / unreachable "
                "(OperationalError" in out), out
        assert "分片 shard_141125 (192.0.2.1:5432/wangge, -): 不可达 / unreachable (" in out, out
        assert "2 个分片不可达" in out and "never-shown-7f3a" not in out, out
        # a dead server costs at most the time-out (twice: libpq may try two addresses)
        assert took < 2 * PING_TIMEOUT_S + 8, took
    finally:
        engine.dispose()
        drop_database(admin_engine, url)


def test_shard_reachability_of_a_closed_port_is_quick() -> None:
    started = time.monotonic()
    err = shard_reachability(f"postgresql+psycopg://wangge@127.0.0.1:{_closed_port()}/wangge")
    assert err is not None and err.startswith("OperationalError"), err
    assert time.monotonic() - started < PING_TIMEOUT_S + 1
