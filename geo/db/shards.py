"""Counties on other PostgreSQL servers, read through ``postgres_fdw`` (issue 21, item 3).

A *coordinator* database keeps the shared tables (regions, departments, categories, users,
tokens, sessions, the audit log) and, for every county-scoped table, a parent table
partitioned by ``LIST (region_code)`` whose partitions are foreign tables on *shards*: other
PostgreSQL + PostGIS servers, each an ordinary Wangge database holding its counties' rows
with every key, foreign key and trigger of the schema. The application's SQL runs unchanged
on the coordinator: a county's query is pruned to its shard's partition and its spatial
predicate is sent to the shard; a query over several counties scans their partitions in
parallel (``async_capable``).

What PostgreSQL 15 refuses on a parent with foreign partitions (measured, docs/SCALING.md):
unique keys, ``INSERT ... ON CONFLICT (cols)``, transition-table triggers, ``MERGE`` and
foreign keys pointing at it. A federated coordinator therefore **reads** every county and
takes plain ``INSERT``/``UPDATE``/``DELETE`` (each is run on the county's shard, whose keys and
triggers check and roll up the rows); single-row upserts go through
:func:`geo.db.upsert.upsert` (a bare ``ON CONFLICT DO NOTHING``, then the update), while the
set-based upsert of a cells import's stored coverage is refused there (the API answers 501)
and belongs before sharding. Every write goes through the coordinator,
never to a shard itself (the ids come from the coordinator's sequences). There is no
transaction across shards: each write touches one county, by design.

:func:`federate` turns a coordinator into one; :func:`keep_regions` empties a shard of the
counties it does not hold; :func:`placement` says where each county lives.
"""

from __future__ import annotations

import re
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL, make_url

from geo.auth.rls import APP_ROLE

# Tables every server keeps whole: who may do what, and the shared vocabularies. They are
# copied to a shard when it is made (a dump of the coordinator); a change made later on the
# coordinator is not sent to the shards.
SHARED_TABLES = frozenset({
    "alembic_version", "spatial_ref_sys", "region", "department", "incident_category",
    "app_user", "api_token", "auth_session_revoked", "idempotency_key", "audit_log",
    "holiday",  # the national calendar (region_code 'CN') and counties' own days
    "outbox",  # notifications to send: the coordinator's queue (its upsert is by dedupe_key)
})
# Shared tables with people's data: emptied on a shard (its copy would only be a leak).
PERSONAL_SHARED = ("audit_log", "idempotency_key", "auth_session_revoked", "api_token",
                   "app_user", "outbox")

# County-scoped tables without a ``region_code`` of their own: kept with the table they hang
# from, read on the coordinator through inheritance (no partition key to route by).
FOLLOWERS = {"cell_coverage": ("cell_id", "grid_cell")}

_CODE = re.compile(r"^[0-9]{6}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class ShardError(ValueError):
    """A shard or a region list that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Shard:
    """A server holding some counties: ``name`` (an SQL identifier), its URL, its counties."""

    name: str
    url: str
    regions: tuple[str, ...]

    def check(self) -> None:
        """Refuse a bad name or county list (ShardError, Chinese first)."""
        if not _NAME.match(self.name) or self.name == "public" or self.name.startswith("pg_"):
            raise ShardError(f"分片名 {self.name!r} 无效：请用小写字母开头的字母、数字、下划线 / "
                             "shard name must be lower-case letters, digits and _")
        bad = [r for r in self.regions if not _CODE.match(r)]
        if bad or not self.regions:
            raise ShardError(f"区县代码无效：{bad or '(空)'}；请给六位行政区划代码，如 141124 / "
                             "regions must be six-digit county codes such as 141124")


def county_tables(conn: Connection) -> list[str]:
    """The county-scoped tables: every table with a ``region_code`` that is not shared."""
    rows = conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') "
        "AND a.attname = 'region_code' AND NOT a.attisdropped ORDER BY c.relname")).scalars()
    return [t for t in rows if t not in SHARED_TABLES]


def keep_regions(conn: Connection, regions: tuple[str, ...]) -> dict[str, int]:
    """On a shard made from a dump of every county: delete the rows of the other counties.

    Runs with triggers and foreign-key checks off (``session_replication_role = replica``):
    every county-scoped row of the other counties goes, including their rollups, so what is
    left is consistent. Returns rows deleted per table."""
    conn.execute(text("SET LOCAL session_replication_role = replica"))
    _shard_only(conn)
    gone: dict[str, int] = {}
    for table, (column, parent) in FOLLOWERS.items():
        gone[table] = conn.execute(text(
            f"DELETE FROM {table} t USING {parent} p WHERE p.id = t.{column} "
            "AND NOT (p.region_code = ANY(:r))"), {"r": list(regions)}).rowcount
    for table in county_tables(conn):
        gone[table] = conn.execute(text(
            f"DELETE FROM {table} WHERE NOT (region_code = ANY(:r))"),
            {"r": list(regions)}).rowcount
    return gone


def _shard_only(conn: Connection) -> None:
    """What a shard does not keep from the dump it was made of (idempotent):

    * foreign keys between a shared table and a county table, either way: the shared tables
      live on the coordinator (a user, department or category added there later is not on
      the shard, and a worker's account may point at another county's worker);
    * the shared tables holding people's data (users with password hashes, tokens, sessions,
      the audit log, the outbox): only the coordinator needs them;
    * trigger functions resolving names through the caller's search_path: postgres_fdw's
      sessions search ``pg_catalog`` only, so they are pinned to ``public``."""
    shared = sorted(SHARED_TABLES)
    for table, name in conn.execute(text(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f' "
            "AND connamespace = 'public'::regnamespace AND (conrelid::regclass::text = ANY(:s) "
            "OR confrelid::regclass::text = ANY(:s))"), {"s": shared}).all():
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for table in PERSONAL_SHARED:
        conn.execute(text(f"DELETE FROM {table}"))
    for fn in conn.execute(text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "WHERE p.pronamespace = 'public'::regnamespace "
            "AND p.prorettype = 'trigger'::regtype AND NOT EXISTS (SELECT 1 FROM pg_depend d "
            "WHERE d.objid = p.oid AND d.deptype = 'e')")).scalars():
        conn.execute(text(f"ALTER FUNCTION {fn} SET search_path = public"))


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _server_options(url: str) -> tuple[str, str]:
    u = make_url(url)
    opts = {"host": u.host or "127.0.0.1", "port": str(u.port or 5432),
            "dbname": u.database or "wangge"}
    server = ", ".join(f"{k} {_quoted(v)}" for k, v in opts.items())
    user = f"user {_quoted(u.username or 'postgres')}"
    # The request may run as wangge_app (WANGGE_DB_RLS=1), not a superuser: a mapping
    # without a password (trust authentication) must say so.
    user += f", password {_quoted(str(u.password))}" if u.password \
        else ", password_required 'false'"
    return server, user


def is_federated(conn: Connection) -> bool:
    """True when county tables of this database are partitioned over shards."""
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'incident' "
        "AND relnamespace = 'public'::regnamespace AND relkind = 'p')")).scalar())


def shards_of(conn: Connection) -> list[Shard]:
    """The shards of a federated coordinator, with the URL its user mapping reaches them by."""
    rows = conn.execute(text(
        "SELECT s.srvname, s.srvoptions, m.umoptions FROM pg_foreign_server s "
        "JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw AND w.fdwname = 'postgres_fdw' "
        "LEFT JOIN pg_user_mappings m ON m.srvid = s.oid AND m.usename = 'public' "
        "ORDER BY s.srvname")).all()
    where = {p["region"]: p["shard"] for p in placement(conn)}
    out = []
    for name, srv, um in rows:
        o = dict(x.split("=", 1) for x in (srv or []))
        m = dict(x.split("=", 1) for x in (um or []))
        url = URL.create("postgresql+psycopg", username=m.get("user"),
                         password=m.get("password"), host=o.get("host"),
                         port=int(o["port"]) if o.get("port") else None,
                         database=o.get("dbname")).render_as_string(hide_password=False)
        out.append(Shard(name, url, tuple(sorted(r for r, s in where.items() if s == name))))
    return out


def federate(engine: Engine, shards: list[Shard]) -> dict[str, str]:
    """Make the coordinator behind ``engine`` read its counties from ``shards``.

    Every county-scoped table becomes (the first time) a parent partitioned by
    ``region_code``, with one foreign partition per shard listing its counties; the
    coordinator's own rows of those tables are dropped, so every county must be on a shard.
    Called again with a new plan, it replaces the foreign partitions. All or nothing: one
    transaction. Returns county -> shard name."""
    for s in shards:
        s.check()
    seen: dict[str, str] = {}
    for s in shards:
        for r in s.regions:
            if r in seen:
                raise ShardError(f"区县 {r} 同时指定给 {seen[r]} 和 {s.name} / "
                                 f"county {r} given to two shards")
            seen[r] = s.name
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgres_fdw"))
        known = set(conn.execute(text("SELECT code FROM region")).scalars())
        unknown = sorted(set(seen) - known)
        if unknown:
            raise ShardError(f"未知区县：{', '.join(unknown)}；先用 `wangge region add` 建立 / "
                             "unknown counties: add them with `wangge region add` first")
        missing = sorted(known - set(seen))
        if missing:
            raise ShardError(f"区县 {', '.join(missing)} 没有分片：每个区县都要放在一个分片上 / "
                             "counties without a shard: every county must be on one")
        first = not is_federated(conn)
        old = {s.name for s in ([] if first else shards_of(conn))}
        for name in old:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
            if name not in {s.name for s in shards}:
                conn.execute(text(f"DROP SERVER {name} CASCADE"))
        for s in shards:
            server, user = _server_options(s.url)
            if s.name not in old:
                conn.execute(text(f"CREATE SERVER {s.name} FOREIGN DATA WRAPPER postgres_fdw "
                                  f"OPTIONS ({server}, extensions 'postgis', "
                                  "async_capable 'true', fetch_size '2000')"))
                conn.execute(text(f"CREATE USER MAPPING FOR PUBLIC SERVER {s.name} "
                                  f"OPTIONS ({user})"))
            conn.execute(text(f"CREATE SCHEMA {s.name}"))
        for table in county_tables(conn):
            if first:
                _as_parent(conn, table, partitioned=True)
            for s in shards:
                codes = ", ".join(f"'{r}'" for r in s.regions)
                conn.execute(text(
                    f"CREATE FOREIGN TABLE {s.name}.{table} PARTITION OF public.{table} "
                    f"FOR VALUES IN ({codes}) SERVER {s.name} "
                    f"OPTIONS (schema_name 'public', table_name '{table}')"))
        for table in FOLLOWERS:
            if first:
                _as_parent(conn, table, partitioned=False)
            for s in shards:
                conn.execute(text(
                    f"CREATE FOREIGN TABLE {s.name}.{table} () INHERITS (public.{table}) "
                    f"SERVER {s.name} OPTIONS (schema_name 'public', table_name '{table}')"))
        analyze(conn)
    return seen


def analyze(conn: Connection) -> int:
    """Sample every foreign table's rows (``ANALYZE``): without statistics the coordinator
    plans a county's page as "fetch every row, sort and cut here" instead of sending ``ORDER
    BY ... LIMIT`` to the shard (an items page of 100: 7-9x the shard's own time before, see
    docs/SCALING.md). Autovacuum does not analyze foreign tables: ``wangge db migrate`` runs
    this again. Returns the number of tables analyzed."""
    tables = conn.execute(text(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_foreign_table f "
        "ON f.ftrelid = c.oid JOIN pg_foreign_server s ON s.oid = f.ftserver "
        "JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw AND w.fdwname = 'postgres_fdw' "
        "ORDER BY 1")).scalars().all()
    for table in tables:
        conn.execute(text(f"ANALYZE {table}"))
    return len(tables)


def _move_owned_sequences(conn: Connection, old: str, new: str) -> None:
    for seq, col in conn.execute(text(
            "SELECT s.relname, a.attname FROM pg_depend d "
            "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            "WHERE d.refobjid = CAST(:t AS regclass) AND d.deptype = 'a'"), {"t": old}):
        conn.execute(text(f"ALTER SEQUENCE {seq} OWNED BY {new}.{col}"))


def _as_parent(conn: Connection, table: str, partitioned: bool) -> None:
    """Replace ``table`` by an empty parent with the same columns and defaults (its sequences
    move to it); its rows, keys, foreign keys and triggers go: they live on the shards."""
    old = f"{table}__local"
    policies = conn.execute(text(
        "SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies "
        "WHERE schemaname = 'public' AND tablename = :t"), {"t": table}).all()
    conn.execute(text(f"ALTER TABLE {table} RENAME TO {old}"))
    tail = " PARTITION BY LIST (region_code)" if partitioned else ""
    conn.execute(text(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS "
                      f"INCLUDING GENERATED){tail}"))
    _move_owned_sequences(conn, old, table)
    conn.execute(text(f"DROP TABLE {old} CASCADE"))
    # Row-level security (WANGGE_DB_RLS=1) is checked where the query runs: on the parent.
    for name, permissive, roles, cmd, qual, check in policies:
        conn.execute(text(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
        sql = (f"CREATE POLICY {name} ON {table} AS {permissive} FOR {cmd} "
               f"TO {', '.join(roles)}")
        sql += f" USING ({qual})" if qual else ""
        sql += f" WITH CHECK ({check})" if check else ""
        conn.execute(text(sql))


def placement(conn: Connection) -> list[dict[str, str]]:
    """Where each county lives: one row per (county, table count, server, host:port/db).

    An empty list means no county is on a shard (a single server)."""
    rows = conn.execute(text(
        "SELECT substring(pg_get_expr(c.relpartbound, c.oid) FROM 'IN \\((.*)\\)') AS codes, "
        "s.srvname, array_to_string(s.srvoptions, ' '), count(*) "
        "FROM pg_class c JOIN pg_foreign_table f ON f.ftrelid = c.oid "
        "JOIN pg_foreign_server s ON s.oid = f.ftserver WHERE c.relispartition "
        "GROUP BY 1, 2, 3 ORDER BY 2")).all()
    out = []
    for codes, server, options, tables in rows:
        for code in re.findall(r"[0-9]{6}", codes or ""):
            out.append({"region": code, "shard": server, "where": options,
                        "tables": str(tables)})
    return sorted(out, key=lambda r: r["region"])


def _empty(url: str) -> None:
    from geo.db.engine import get_engine

    try:
        with get_engine(url).connect() as conn:
            n = conn.execute(text(
                "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND relkind IN ('r', 'p') AND relname <> 'spatial_ref_sys'")).scalar()
    except Exception as exc:  # noqa: BLE001 - any connection problem, said plainly
        raise ShardError(f"连不上分片数据库 {_shown(url)}：{exc.__class__.__name__}；请先建库并"
                         f"装 PostGIS / cannot reach the shard database {_shown(url)}: create "
                         "it (with PostGIS available) first") from exc
    if n:
        raise ShardError(f"分片数据库 {_shown(url)} 不是空库（有 {n} 张表）：请给一个新建的空库 / "
                         f"the shard database {_shown(url)} is not empty ({n} tables): "
                         "give a new, empty database")


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _copy(source_url: str, target_url: str, keep: tuple[str, ...], work: Path) -> None:
    """Copy the database at ``source_url`` into the empty one at ``target_url`` and keep
    only the counties ``keep`` there."""
    from geo.db.backup import backup, restore
    from geo.db.engine import get_engine

    dump = work / "shard.dump"
    with get_engine(target_url).begin() as conn:  # roles are per server; policies name it
        conn.execute(text(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
            f"THEN CREATE ROLE {APP_ROLE} NOLOGIN; END IF; END $$"))
    backup(source_url, dump)
    restore(target_url, dump)
    dump.unlink()
    with get_engine(target_url).begin() as conn:
        keep_regions(conn, keep)


def add_shard(coord_url: str, url: str, regions: tuple[str, ...], name: str,
              work: Path) -> dict[str, str]:
    """Move the counties ``regions`` to the empty database at ``url`` (a new shard ``name``).

    On a single server (the first shard), its other counties move to a shard ``local``: a
    database ``<name>_local`` on the coordinator's own server. On a federated coordinator the
    counties must all come from one shard; they are copied to the new one, then deleted from
    the old one. The coordinator's switch is one transaction; the copies come first, so a
    failure leaves the counties where they were. Writes must be stopped while it runs.
    Returns county -> shard name."""
    from geo.db.engine import get_engine

    Shard(name, url, regions).check()
    coord = get_engine(coord_url)
    with coord.connect() as conn:
        federated = is_federated(conn)
        known = set(conn.execute(text("SELECT code FROM region")).scalars())
        current = shards_of(conn) if federated else []
    unknown = sorted(set(regions) - known)
    if unknown:
        raise ShardError(f"未知区县：{', '.join(unknown)}；已有 {', '.join(sorted(known))} / "
                         f"unknown counties: {', '.join(unknown)}")
    if name in {s.name for s in current}:
        raise ShardError(f"已有分片 {name}：请换一个名字 / a shard named {name} exists")
    _empty(url)
    if not federated:
        rest = tuple(sorted(known - set(regions)))
        plan = [Shard(name, url, tuple(sorted(regions)))]
        local = make_url(coord_url)
        local = local.set(database=f"{local.database}_local")
        made_local = False
        try:
            _copy(coord_url, url, plan[0].regions, work)
            if rest:
                local_url = local.render_as_string(hide_password=False)
                with get_engine(coord_url).connect().execution_options(
                        isolation_level="AUTOCOMMIT") as conn:
                    exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                          {"n": local.database}).first()
                    if not exists:
                        conn.execute(text(f'CREATE DATABASE "{local.database}"'))
                        made_local = True
                _empty(local_url)
                _copy(coord_url, local_url, rest, work)
                plan.append(Shard("local", local_url, rest))
            return federate(coord, plan)
        except Exception as exc:
            if made_local:  # ours: gone again, so that a retry finds the name free
                with get_engine(coord_url).connect().execution_options(
                        isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{local.database}" '
                                      "WITH (FORCE)"))
            raise ShardError(
                f"{exc}\n本库未改动；{_shown(url)} 可能留有不完整的副本：删掉重建为空库后再试 / "
                f"this database is unchanged; {_shown(url)} may hold a partial copy: drop and "
                "re-create it empty, then retry") from exc
    sources = {s.name: s for s in current if set(s.regions) & set(regions)}
    if len(sources) != 1:
        raise ShardError(f"这些区县分在 {', '.join(sorted(sources)) or '(无)'} 上：一次只能从一个"
                         "分片迁出 / move counties out of one shard at a time")
    (source,) = sources.values()
    _copy(source.url, url, tuple(sorted(regions)), work)
    left = tuple(r for r in source.regions if r not in regions)
    plan = [s for s in current if s.name != source.name]
    if left:
        plan.append(Shard(source.name, source.url, left))
    plan.append(Shard(name, url, tuple(sorted(regions))))
    placed = federate(coord, plan)  # the coordinator reads the new shard from now on ...
    if left:  # ... then the old copies go (a shard left with no county is out, kept as is)
        with get_engine(source.url).begin() as conn:
            keep_regions(conn, left)
    return placed


# per coordinator engine: (read at, county -> shard name, shard name -> URL), re-read every
# ROUTE_TTL_S seconds
ROUTE_TTL_S = 30.0
_ROUTES: weakref.WeakKeyDictionary[Engine, tuple[float, dict[str, str], dict[str, str]]] = \
    weakref.WeakKeyDictionary()


def _catalogue(engine: Engine, conn: Connection | None = None
               ) -> tuple[dict[str, str], dict[str, str]]:
    """(county -> shard name, shard name -> URL) of the database behind ``engine``, both empty
    on a single server. Read from the catalogue at most every :data:`ROUTE_TTL_S` seconds per
    engine (with ``conn`` when given), so a request on a single server pays no round trip."""
    now = time.monotonic()
    cached = _ROUTES.get(engine)
    if cached is None or now - cached[0] > ROUTE_TTL_S:
        def read(c: Connection) -> tuple[dict[str, str], dict[str, str]]:
            if not is_federated(c):
                return {}, {}
            return ({p["region"]: p["shard"] for p in placement(c)},
                    {s.name: s.url for s in shards_of(c)})

        if conn is not None:
            found = read(conn)
        else:
            with engine.connect() as c:
                found = read(c)
        cached = _ROUTES[engine] = (now, *found)
    return cached[1], cached[2]


def routes_stale(engine: Engine) -> bool:
    """True when :func:`reader` would read the catalogue (async callers do it in a thread)."""
    cached = _ROUTES.get(engine)
    return cached is None or time.monotonic() - cached[0] > ROUTE_TTL_S


def sharded(engine: Engine) -> bool:
    """True when some county of the database behind ``engine`` is on a shard (cached)."""
    return bool(_catalogue(engine)[0])


def shard_schema(conn: Connection, region: str) -> str | None:
    """The schema holding the foreign tables of ``region``'s shard; None on a single server."""
    return _catalogue(conn.engine, conn)[0].get(region)


class ShardDown(Exception):
    """The server of a shard does not answer (the API's 503 names the shard)."""

    def __init__(self, shard: str) -> None:
        super().__init__(f'could not connect to server "{shard}"')
        self.shard = shard


def reader(engine: Engine, region: str) -> tuple[Engine, str | None]:
    """Where to read ``region``'s county tables from: on a coordinator, its shard's own
    database (and the shard's name), so a read of one county runs there whole, as on a single
    server (what Citus calls a router query: no remote cursor per table, no rows fetched
    twice); else ``(engine, None)``.

    Only for reads touching county tables and the vocabularies (the shard's copies of users,
    tokens and the audit log are empty): the "which cell" lookup, OGC items, vector tiles
    (``api.deps.CountyReadConnDep``). A failed connection to it is :class:`ShardDown`."""
    where, urls = _catalogue(engine)
    shard = where.get(region)
    if shard is None or shard not in urls:
        return engine, None
    return shard_engine(urls[shard]), shard


_ENGINES: dict[str, Engine] = {}


def shard_engine(url: str) -> Engine:
    """The pooled engine of a shard's database, one per URL for the process (not
    ``geo.db.engine.get_engine``'s cache of 8: a prefecture has 13 counties)."""
    from geo.db.engine import normalize_url

    found = _ENGINES.get(url)
    if found is None:
        from sqlalchemy import create_engine

        found = _ENGINES[url] = create_engine(
            normalize_url(url), pool_size=5, max_overflow=10, pool_pre_ping=True,
            pool_recycle=1800, connect_args={"connect_timeout": 5})
    return found


def route(conn: Connection, region: str) -> str | None:
    """Send this transaction's county tables straight to ``region``'s shard.

    ``SET LOCAL search_path`` puts the shard's schema (foreign tables named like the county
    tables) before ``public``: the application's SQL runs unchanged and touches that shard
    only, so the loss of another shard does not stop this county. Shared tables still come
    from ``public``. Returns the shard's name (None on a single server: nothing is done)."""
    schema = shard_schema(conn, region)
    if schema is not None:
        conn.execute(text(f"SET LOCAL search_path = {schema}, public"))
    return schema


def local_shards(coord_url: str, base: Path, ports: list[int],
                 plan: list[tuple[str, ...]]) -> list[str]:
    """Start one local PostGIS cluster per ``plan`` entry (under ``base``, on ``ports``)
    and move those counties there with :func:`add_shard`, as ``wangge db shard add`` does:
    the three-cluster set-up of the tests and of ``scripts/bench/shards.py``.
    Returns the shards' URLs."""
    from api import localdb

    urls = []
    for i, (port, regions) in enumerate(zip(ports, plan, strict=True)):
        localdb.start(base / f"shard{i}", port)
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/wangge"
        add_shard(coord_url, url, regions, f"shard_{regions[0]}", base)
        urls.append(url)
    return urls


def stop_local_shards(base: Path, count: int) -> None:
    """Stop the clusters :func:`local_shards` started."""
    from api import localdb

    for i in range(count):
        localdb.stop(base / f"shard{i}")
