"""Piccolo persistence: PostgreSQL or embedded SQLite behind the repository ports.

Entry point: ``PiccoloDatabase(config)`` with a ``PostgresConfig`` or ``SQLiteConfig``.
"""

from adapters.piccolo.database import PiccoloDatabase
from adapters.piccolo.engine import (
    DatabaseConfig,
    PostgresConfig,
    SQLiteConfig,
    config_from_url,
)
from adapters.piccolo.unit_of_work import PiccoloUnitOfWork

__all__ = [
    "DatabaseConfig",
    "PiccoloDatabase",
    "PiccoloUnitOfWork",
    "PostgresConfig",
    "SQLiteConfig",
    "config_from_url",
]
