"""Alembic migrations of the Wangge schema (history: never edited once released)."""
