"""The PostGIS schema (SQLAlchemy 2 + GeoAlchemy2), one module per group of tables.

Importing this package registers every table on ``Base.metadata`` (migrations and tests use it).
"""

from geo.db.tables import (  # noqa: F401
    addresses,
    analysis,
    auth,
    boundaries,
    incidents,
    notify,
    patrols,
    people,
    places,
    vocab,
)
from geo.db.tables.base import SRID, Base

__all__ = ["SRID", "Base"]
