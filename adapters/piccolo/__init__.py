"""Piccolo persistence: PostgreSQL or embedded SQLite behind the repository ports.

Entry point: ``PiccoloDatabase(config)`` with a ``PostgresConfig`` or ``SQLiteConfig``.

Three layers, each importing only those below it (an import-linter contract holds them):

* ``repositories/``: one module per port (audit log and system metrics apart) and the unit
  of work that gathers them; rows become domain objects here and nowhere else;
* ``schema/``: the ``Table`` declarations, the ``Uint256`` column type, the Piccolo app,
  the in-process migration runner, and one codec per entity derived from its ``Table``;
* ``sql/``: plumbing - engine and configuration, the session of a unit of work, value
  binding per dialect, shared statement pieces (insert, update, keyset), driver errors.
"""

from adapters.piccolo.database import LentDatabase, PiccoloDatabase
from adapters.piccolo.replicas import ReplicaConfig, ReplicaStatus
from adapters.piccolo.repositories.unit_of_work import PiccoloUnitOfWork
from adapters.piccolo.sql.engine import (
    DatabaseConfig,
    PostgresConfig,
    SQLiteConfig,
    config_from_url,
)

__all__ = [
    "DatabaseConfig",
    "LentDatabase",
    "PiccoloDatabase",
    "PiccoloUnitOfWork",
    "PostgresConfig",
    "ReplicaConfig",
    "ReplicaStatus",
    "SQLiteConfig",
    "config_from_url",
]
