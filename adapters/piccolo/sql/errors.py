"""Driver errors -> errors the repositories can act on.

Connection trouble (refused, dropped, timed out, pool closed, a connection lost while
in use or while the pool held it, SQLite file locked or unreadable) becomes the domain's
``DatabaseUnavailable`` (an ``Unavailable``). Constraint violations become
``UniqueViolation``/``ForeignKeyViolation`` naming the constraint where the driver says
(PostgreSQL always does; SQLite names the columns of a unique constraint but never the
foreign key), for the repositories to turn into the precise domain error. A database without
the chainwatch tables (never migrated, e.g. with ``CHAINWATCH_AUTO_MIGRATE=false``) is
``DatabaseUnavailable`` too, with a message that says to migrate. Anything else propagates
unchanged: it is a bug, not a condition to handle.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from domain.errors import DatabaseUnavailable


class ConstraintViolation(Exception):
    def __init__(self, constraint: str | None, message: str) -> None:
        super().__init__(message)
        self.constraint = constraint


class UniqueViolation(ConstraintViolation):
    """``constraint``: PostgreSQL's constraint/index name, or SQLite's "table.column"."""


class ForeignKeyViolation(ConstraintViolation):
    """``constraint``: PostgreSQL's constraint name; None on SQLite."""


_PG_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InvalidCatalogNameError,
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
    asyncpg.exceptions.InvalidPasswordError,
)
# asyncpg says "the connection (or pool) is gone" with plain InterfaceErrors: a statement on a
# connection that was lost (the pool has already taken it back), or on a closing pool. Its
# other InterfaceErrors are misuse - bugs - and stay unchanged.
_PG_GONE = (
    "connection is closed",
    "released back to the pool",
    "pool is closed",
    "pool is closing",
)
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error")
_NOT_MIGRATED = "the database has no chainwatch schema yet: run `chainwatch migrate`"


@contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except asyncpg.exceptions.UniqueViolationError as error:
        raise UniqueViolation(error.constraint_name, str(error)) from error
    except asyncpg.exceptions.ForeignKeyViolationError as error:
        raise ForeignKeyViolation(error.constraint_name, str(error)) from error
    except asyncpg.exceptions.UndefinedTableError as error:
        raise DatabaseUnavailable(_NOT_MIGRATED) from error
    except _PG_UNAVAILABLE as error:
        raise DatabaseUnavailable(f"the database is unavailable: {type(error).__name__}") from error
    except asyncpg.exceptions.InterfaceError as error:
        if any(gone in str(error) for gone in _PG_GONE):
            raise DatabaseUnavailable("the database connection was lost; retry") from error
        raise
    except asyncpg.exceptions.InternalClientError as error:
        # The protocol is still taking in the server's parting FATAL message (a PostgreSQL
        # shutting down) when the pool hands the connection out: "cannot switch to state
        # 12; another operation (2) is in progress". The connection is finished with.
        raise DatabaseUnavailable("the database connection was lost; retry") from error
    except sqlite3.IntegrityError as error:
        message = str(error)
        if message.startswith("UNIQUE constraint failed:"):
            columns = message.removeprefix("UNIQUE constraint failed:").strip()
            raise UniqueViolation(columns, message) from error
        if message.startswith("FOREIGN KEY constraint failed"):
            raise ForeignKeyViolation(None, message) from error
        raise
    except sqlite3.OperationalError as error:
        if str(error).startswith("no such table"):
            raise DatabaseUnavailable(_NOT_MIGRATED) from error
        if any(reason in str(error).lower() for reason in _SQLITE_UNAVAILABLE):
            raise DatabaseUnavailable(f"the database is unavailable: {error}") from error
        raise
    except (OSError, TimeoutError) as error:
        raise DatabaseUnavailable(f"the database is unavailable: {type(error).__name__}") from error
