"""The one storage layer: SQLAlchemy 2 async Core on SQLite (embedded) or PostgreSQL."""

from connector.storage.engine import create_engine, is_postgres
from connector.storage.migrate import upgrade

__all__ = ["create_engine", "is_postgres", "upgrade"]
