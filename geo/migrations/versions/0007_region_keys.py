"""region keys: (region_code, id) unique keys, region-consistent foreign keys, FK indexes

The cheap half of the schema changes a distributed PostgreSQL (Citus, distributed by
``region_code``) needs, made now because they also guard integrity on one server: a row can
no longer point at a parent row of ANOTHER region (a grid cell in a different county's
boundary set, an incident routed to another county's worker, an event of another county's
incident). Each parent gets a UNIQUE (region_code, id) key; each child gets a composite
foreign key (region_code, parent_id) -> parent (region_code, id) next to its existing one.
MATCH SIMPLE: a NULL parent id is not checked. See docs/SCALING.md for the rest (primary
keys including region_code, which would break other tables' foreign keys to ``id`` today).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARENTS = ("boundary_set", "grid_worker", "compound", "incident")

# (child table, child column, parent table, on delete)
CHILDREN = (
    ("grid_cell", "boundary_set_id", "boundary_set", "CASCADE"),
    ("worker_assignment", "worker_id", "grid_worker", "CASCADE"),
    ("compound_mgmt_history", "compound_id", "compound", "CASCADE"),
    ("incident", "boundary_set_id", "boundary_set", "NO ACTION"),
    ("incident", "worker_id", "grid_worker", "NO ACTION"),
    ("incident", "compound_id", "compound", "NO ACTION"),
    ("incident_event", "incident_id", "incident", "CASCADE"),
)


# Indexes on the referencing side of foreign keys that had none. Without the first, deleting
# incidents checked incident.merged_into_id by a full scan per deleted row: deleting 6,666 of
# the demo's 20,000 incidents took 72 s (0.2 s with it); the others serve deletes of workers
# or compounds in a province-size table and the per-worker / per-compound case lists.
# (ix_incident_merged_into and ix_incident_worker come with 0004, the dispatch migration.)
INDEXES = (
    ("ix_incident_compound", "incident", "region_code, compound_id", "compound_id IS NOT NULL"),
)


def _fk_name(child: str, column: str) -> str:
    return f"fk_{child}_region_{column}"


def upgrade() -> None:
    for name, table, columns, where in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ({columns}) WHERE {where}")
    for parent in PARENTS:
        op.execute(
            f"ALTER TABLE {parent} ADD CONSTRAINT uq_{parent}_region_id UNIQUE (region_code, id)"
        )
    for child, column, parent, ondelete in CHILDREN:
        op.execute(
            f"ALTER TABLE {child} ADD CONSTRAINT {_fk_name(child, column)} "
            f"FOREIGN KEY (region_code, {column}) REFERENCES {parent} (region_code, id) "
            f"ON DELETE {ondelete}"
        )


def downgrade() -> None:
    for name, _table, _columns, _where in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for child, column, _parent, _ondelete in CHILDREN:
        op.execute(f"ALTER TABLE {child} DROP CONSTRAINT IF EXISTS {_fk_name(child, column)}")
    for parent in PARENTS:
        op.execute(f"ALTER TABLE {parent} DROP CONSTRAINT IF EXISTS uq_{parent}_region_id")
