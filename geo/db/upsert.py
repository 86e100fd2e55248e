"""An upsert a coordinator whose counties are on other servers can run (geo/db/shards.py).

PostgreSQL refuses ``INSERT ... ON CONFLICT (cols) DO UPDATE`` on a partitioned table whose
partitions are foreign tables: the conflict target names a unique key the parent cannot
have. A bare ``ON CONFLICT DO NOTHING`` is allowed there (each shard checks its own keys).
:func:`upsert` is therefore two statements: the insert doing nothing on a conflict (it waits
for a concurrent insert of the same key to finish), then, when the row was there already,
the update. Same effect as the one-statement upsert, on one server or many.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, text


def upsert(conn: Connection, table: str, values: Mapping[str, str], key: tuple[str, ...],
           update: Mapping[str, str], params: Mapping[str, Any],
           returning: str = "id") -> Any:
    """Insert the row ``values`` (column -> SQL expression over ``params``) into ``table``
    or, when a row with the same ``key`` columns exists, set ``update`` (column -> SQL
    expression; a bare column name is the stored value). Returns the row's ``returning``."""
    cols = ", ".join(values)
    got = conn.execute(text(
        f"INSERT INTO {table} ({cols}) VALUES ({', '.join(values.values())}) "
        f"ON CONFLICT DO NOTHING RETURNING {returning}"), params).first()
    if got is not None:
        return got[0]
    sets = ", ".join(f"{c} = {e}" for c, e in update.items())
    where = " AND ".join(f"{c} = {values[c]}" for c in key)
    return conn.execute(text(f"UPDATE {table} SET {sets} WHERE {where} RETURNING {returning}"),
                        params).scalar_one()
