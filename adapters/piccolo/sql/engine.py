"""Database configuration and the Piccolo engine built from it.

``PostgresConfig``/``SQLiteConfig`` are plain values; ``build_engine`` turns one into a
Piccolo engine without touching the database (see ``_PostgresEngine``), so it is safe in
``piccolo_conf.py`` and at start-up alike. Connections are made by ``PiccoloDatabase.start``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from adapters.piccolo.sql.pool import PoolMeter, create_metered_pool

Dialect = Literal["postgres", "sqlite"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PostgresConfig:
    """A PostgreSQL server. The seed's pool (20 + overflow 10, recycle 1 h) maps onto
    ``pool_min``/``pool_max`` and ``connection_lifetime_s``. Set ``statement_cache_size``
    to 0 behind pgbouncer in transaction mode."""

    host: str
    port: int = 5432
    database: str
    user: str
    password: str | None = None
    pool_min: int = 20
    pool_max: int = 30
    connection_lifetime_s: float = 3600.0
    statement_cache_size: int = 100
    connect_timeout_s: float = 10.0

    def __repr__(self) -> str:
        password = None if self.password is None else "***"
        return (
            f"PostgresConfig(host={self.host!r}, port={self.port}, database={self.database!r}, "
            f"user={self.user!r}, password={password!r}, pool_min={self.pool_min}, "
            f"pool_max={self.pool_max}, connection_lifetime_s={self.connection_lifetime_s}, "
            f"statement_cache_size={self.statement_cache_size}, "
            f"connect_timeout_s={self.connect_timeout_s})"
        )

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncpg.connect`` (and Piccolo's ``PostgresEngine``)."""
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "user": self.user,
            "timeout": self.connect_timeout_s,
            "statement_cache_size": self.statement_cache_size,
        }
        if self.password is not None:
            kwargs["password"] = self.password
        return kwargs


@dataclass(frozen=True, slots=True)
class SQLiteConfig:
    """An embedded SQLite file; ``timeout_s`` is how long a writer waits for the lock."""

    path: Path
    timeout_s: float = 30.0


DatabaseConfig = PostgresConfig | SQLiteConfig
AnyEngine = PostgresEngine | SQLiteEngine


def dialect_of(config: DatabaseConfig) -> Dialect:
    return "postgres" if isinstance(config, PostgresConfig) else "sqlite"


def config_from_url(url: str) -> DatabaseConfig:
    """Parse ``postgresql://user:password@host:port/database`` (``postgres://`` too) or
    ``sqlite:///relative/path`` / ``sqlite:////absolute/path``.

    Pool settings keep their defaults. Raises ``ValueError`` with a message that never
    quotes the URL (it may hold a password).
    """
    scheme, separator, _ = url.partition("://")
    scheme = scheme.lower()
    if separator and scheme == "sqlite":
        raw_path = url[len("sqlite:///") :]
        if not url[: len("sqlite:///")].lower() == "sqlite:///" or not raw_path:
            raise ValueError("a SQLite URL must be sqlite:///relative or sqlite:////absolute")
        return SQLiteConfig(path=Path(unquote(raw_path)).expanduser().absolute())
    if not separator or scheme not in ("postgresql", "postgres"):
        raise ValueError("a database URL must start with postgresql://, postgres:// or sqlite:///")
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    try:
        port = parts.port or 5432
        timeout = float(options.get("connect_timeout", 10.0))
        cache = int(options.get("statement_cache_size", 100))
    except ValueError:
        raise ValueError("the database URL has an invalid port or query parameter") from None
    return PostgresConfig(
        host=unquote(parts.hostname or "") or "localhost",
        port=port,
        database=unquote(parts.path.removeprefix("/")) or "blockchain_anomaly",
        user=unquote(parts.username or "") or "anomaly_user",
        password=unquote(parts.password) if parts.password else None,
        connect_timeout_s=timeout,
        statement_cache_size=cache,
    )


class _PostgresEngine(PostgresEngine):
    """Piccolo's engine minus the server-version check its constructor runs: that check
    opens a connection at construction (at import of ``piccolo_conf``, or blocking the event
    loop at start-up) and reports an unreachable server as a warning on stderr instead of an
    error. Reachability is checked by ``PiccoloDatabase.start``/``ping`` instead.

    Its pool is a ``MeteredPool`` reporting into ``meter`` (waiting callers, wait times)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meter = PoolMeter()

    async def check_version(self) -> None:
        return None

    async def start_connection_pool(self, **kwargs: Any) -> None:
        if self.pool is not None:
            raise RuntimeError("the connection pool is already started")
        self.pool = await create_metered_pool(self.meter, **{**self.config, **kwargs})


def build_engine(config: DatabaseConfig) -> PostgresEngine | SQLiteEngine:
    """A Piccolo engine for ``config``, without I/O (beyond creating the SQLite folder).
    No pool is started and no WAL mode set here: ``PiccoloDatabase.start`` does both."""
    if isinstance(config, PostgresConfig):
        # No extensions: the schema needs none (UUIDs come from the domain).
        return _PostgresEngine(config=config.connect_kwargs(), extensions=())
    config.path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteEngine(
        path=str(config.path),
        timeout=config.timeout_s,
        # Piccolo's defaults, restated: converters by declared type, autocommit mode
        # (transactions are begun explicitly).
        detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES,
        isolation_level=None,
    )
