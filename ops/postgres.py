"""PostgreSQL plumbing for backups: connections, ``pg_dump``/``pg_restore`` processes and
database-level DDL (create, drop, empty check).

Tools get their connection settings through libpq's environment variables (``PGHOST``,
``PGPASSWORD``, ...), never on the command line, where any local user could read the
password. The client tools must be of the server's major version or newer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO

import asyncpg

from adapters.piccolo import PostgresConfig
from ops.checksums import quote_identifier
from ops.errors import RestoreRefused, ToolFailed

CHUNK_SIZE = 1 << 20
_USER_RELATIONS = """
SELECT n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
ORDER BY 1, 2
"""
_DROP_KIND = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE", "f": "FOREIGN TABLE"}


def where(config: PostgresConfig) -> str:
    """``host:port/database``: how messages name a database (never with credentials)."""
    return f"{config.host}:{config.port}/{config.database}"


def tool(name: str) -> str:
    """The path of a PostgreSQL client tool; ``ToolFailed`` when it is not installed."""
    path = shutil.which(name)
    if path is None:
        raise ToolFailed(
            f"{name} is not on PATH: install the PostgreSQL client tools "
            "(the server's major version or newer)"
        )
    return path


def tool_version(name: str) -> str:
    """What ``<name> --version`` prints, e.g. ``pg_dump (PostgreSQL) 15.20``."""
    result = subprocess.run(  # noqa: S603 - a fixed tool and argument
        [tool(name), "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    return result.stdout.strip() or f"{name} (unknown version)"


def libpq_environment(config: PostgresConfig) -> dict[str, str]:
    """The child process environment: ours (PATH, locale, PGSSLMODE, ...) plus the target
    database's connection settings, which win over anything inherited."""
    environment = dict(os.environ)
    environment.update(
        PGHOST=config.host,
        PGPORT=str(config.port),
        PGDATABASE=config.database,
        PGUSER=config.user,
        PGCONNECT_TIMEOUT=str(max(1, round(config.connect_timeout_s))),
    )
    environment.pop("PGPASSWORD", None)
    if config.password is not None:
        environment["PGPASSWORD"] = config.password
    return environment


async def connect(config: PostgresConfig) -> asyncpg.Connection:
    """A private connection to ``config``'s database; ``ToolFailed`` if that fails."""
    kwargs = config.connect_kwargs()
    try:
        connection: asyncpg.Connection = await asyncpg.connect(**kwargs)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise ToolFailed(
            f"cannot connect to PostgreSQL at {where(config)}: {_reason(error)}"
        ) from None
    return connection


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@contextmanager
def database_errors(doing: str) -> Iterator[None]:
    """Report a failing query or a lost connection as ``ToolFailed`` ("<doing> failed: ...")."""
    try:
        yield
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise ToolFailed(f"{doing} failed: {_reason(error)}") from None


def last_error_line(output: str) -> str:
    """The most telling line of a tool's stderr: its first ``error:`` line, else its last."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "error:" in line.lower() or "fatal:" in line.lower():
            return line
    return lines[-1] if lines else "no error message"


class DumpProcess:
    """A running ``pg_dump --format=custom`` whose output is read as a stream of chunks.

    ``chunks()`` yields the dump as it is produced and, at its end, raises ``ToolFailed``
    if pg_dump failed - so a consumer that stores the stream (``BlobStore.put_stream``)
    discards a failed dump instead of keeping a truncated one. ``stop()`` kills it.
    """

    def __init__(self, config: PostgresConfig, snapshot: str | None = None) -> None:
        command = [tool("pg_dump"), "--format=custom", "--no-password"]
        if snapshot is not None:
            command.append(f"--snapshot={snapshot}")
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(  # noqa: S603 - fixed tool, arguments we built
            command,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=libpq_environment(config),
        )
        self._where = where(config)

    def chunks(self, on_chunk: Callable[[int], None] | None = None) -> Iterator[bytes]:
        stdout = self._process.stdout
        assert stdout is not None
        while chunk := stdout.read(CHUNK_SIZE):
            if on_chunk is not None:
                on_chunk(len(chunk))
            yield chunk
        code = self._process.wait()
        if code != 0:
            raise ToolFailed(f"pg_dump of {self._where} failed: {self._error_line(code)}")

    def _error_line(self, code: int) -> str:
        self._stderr.seek(0)
        output = self._stderr.read().decode(errors="replace")
        return last_error_line(output) if output.strip() else f"exit code {code}"

    def stop(self) -> None:
        """Kill pg_dump if it still runs and release its pipes. Idempotent."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()


def run_pg_restore(config: PostgresConfig, dump: Path, jobs: int) -> None:
    """Restore the custom-format ``dump`` into ``config``'s database with ``jobs`` parallel
    workers, objects owned by the connecting user; ``ToolFailed`` on the first error."""
    command = [
        tool("pg_restore"),
        "--no-password",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        f"--jobs={jobs}",
        f"--dbname={config.database}",
        str(dump),
    ]
    result = subprocess.run(  # noqa: S603 - fixed tool, arguments we built
        command, capture_output=True, env=libpq_environment(config), check=False
    )
    if result.returncode != 0:
        message = last_error_line(result.stderr.decode(errors="replace"))
        raise ToolFailed(f"pg_restore into {where(config)} failed: {message}")


async def ensure_database(config: PostgresConfig) -> bool:
    """Create ``config.database`` if it does not exist (through the ``postgres`` database on
    the same server); return whether it was created."""
    try:
        connection: asyncpg.Connection = await asyncpg.connect(**config.connect_kwargs())
    except asyncpg.InvalidCatalogNameError:
        await create_database(replace(config, database="postgres"), config.database)
        return True
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise ToolFailed(
            f"cannot connect to PostgreSQL at {where(config)}: {_reason(error)}"
        ) from None
    await connection.close()
    return False


async def create_database(server: PostgresConfig, name: str) -> PostgresConfig:
    """Create an empty database ``name`` on ``server``'s server; return its config."""
    connection = await connect(server)
    try:
        await connection.execute(f"CREATE DATABASE {quote_identifier(name)}")
    except asyncpg.PostgresError as error:
        raise ToolFailed(
            f"cannot create database {name} on {server.host}:{server.port}: {_reason(error)}"
        ) from None
    finally:
        await connection.close()
    return replace(server, database=name)


async def drop_database(server: PostgresConfig, name: str) -> None:
    """Drop ``name`` (disconnecting its sessions), connected through ``server``."""
    connection = await connect(server)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {quote_identifier(name)} WITH (FORCE)")
    finally:
        await connection.close()


async def user_relations(config: PostgresConfig) -> list[tuple[str, str, str]]:
    """(schema, name, kind) of every table, view and sequence outside the system schemas."""
    connection = await connect(config)
    try:
        rows = await connection.fetch(_USER_RELATIONS)
    finally:
        await connection.close()
    return [(row["nspname"], row["relname"], row["relkind"]) for row in rows]


async def empty_public_schema(config: PostgresConfig) -> None:
    """Drop every relation in the ``public`` schema, in one transaction (for ``--force``).
    Objects in other schemas are a different application's: refuse rather than touch them."""
    relations = await user_relations(config)
    foreign = sorted({schema for schema, _, _ in relations if schema != "public"})
    if foreign:
        raise RestoreRefused(
            f"{where(config)} has objects in schemas other than public "
            f"({', '.join(foreign)}): restore into a database of its own"
        )
    connection = await connect(config)
    try:
        async with connection.transaction():
            for schema, name, kind in relations:
                statement = _DROP_KIND.get(kind, "TABLE")
                await connection.execute(
                    f"DROP {statement} IF EXISTS {quote_identifier(schema)}."
                    f"{quote_identifier(name)} CASCADE"
                )
    finally:
        await connection.close()
