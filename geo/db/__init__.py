"""The database: engine, migrations, backups, and the tables (``geo.db.tables``)."""
