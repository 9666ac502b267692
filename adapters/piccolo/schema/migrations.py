"""Apply or revert the "chainwatch" Piccolo migrations in-process, against one engine.

The files in ``piccolo_migrations/`` are ordinary Piccolo migrations (the ``piccolo`` CLI
runs them too, through ``piccolo_conf.DB``). Piccolo's migration code does not take an
engine: ``MigrationManager.run``, the tables it creates on the fly and the raw steps all
look one up with ``engine_finder()``, which imports ``piccolo_conf`` and reads its ``DB``.
To run them against *this* database instead, ``Finder.get_engine`` (what every
``engine_finder()`` call ends in) is wrapped once, process-wide, to return the engine in
``_MIGRATION_ENGINE`` when that context variable is set - which only happens inside
``forwards``/``backwards`` below, in the calling task's context. Everywhere else, and in
other tasks meanwhile, Piccolo behaves exactly as shipped.

Each migration runs in one transaction together with its bookkeeping row (Piccolo's own
``migration`` table, so the ``piccolo`` CLI and this module agree on what ran). On
PostgreSQL a session advisory lock serialises concurrent migrators (several replicas
starting at once). Piccolo's progress printing goes to a discarded buffer: callers get the
list of migration ids instead.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import AsyncIterator, Collection, Iterator
from contextlib import asynccontextmanager, contextmanager, redirect_stdout
from contextvars import ContextVar
from types import ModuleType
from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.apps.migrations.tables import Migration
from piccolo.conf.apps import Finder
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from adapters.piccolo.schema.piccolo_app import APP_NAME, MIGRATIONS_FOLDER, MIGRATIONS_PACKAGE
from adapters.piccolo.sql.engine import AnyEngine

_MIGRATION_ENGINE: ContextVar[Engine[Any] | None] = ContextVar(
    "chainwatch_migration_engine", default=None
)
_ADVISORY_LOCK = 0x63_68_61_69_6E_77  # "chainw": one lock id for every chainwatch migrator


def _install_engine_override() -> None:
    original = Finder.get_engine
    if getattr(original, "chainwatch_override", False):
        return

    def get_engine(self: Finder, module_name: str | None = None) -> Engine[Any] | None:
        engine = _MIGRATION_ENGINE.get()
        return engine if engine is not None else original(self, module_name)

    get_engine.chainwatch_override = True  # type: ignore[attr-defined]
    Finder.get_engine = get_engine  # type: ignore[method-assign]


@contextmanager
def _migrating_with(engine: AnyEngine) -> Iterator[None]:
    _install_engine_override()
    token = _MIGRATION_ENGINE.set(engine)
    Migration._meta.db = engine
    try:
        yield
    finally:
        _MIGRATION_ENGINE.reset(token)


@asynccontextmanager
async def _exclusive(engine: AnyEngine) -> AsyncIterator[None]:
    """Hold the migration lock (PostgreSQL) on a connection of its own, outside the pool."""
    if not isinstance(engine, PostgresEngine):
        yield
        return
    connection = await engine.get_new_connection()
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK)
        yield
    finally:
        await connection.close()  # ends the session, releasing the lock


def migration_modules() -> dict[str, ModuleType]:
    """The migration modules of the app, by migration id."""
    modules: dict[str, ModuleType] = {}
    for path in sorted(MIGRATIONS_FOLDER.glob("*.py")):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module(f"{MIGRATIONS_PACKAGE}.{path.stem}")
        migration_id = getattr(module, "ID", None)
        if isinstance(migration_id, str):
            modules[migration_id] = module
    return modules


async def _applied() -> list[str]:
    if not await Migration.table_exists().run():
        return []
    names: list[str] = await Migration.get_migrations_which_ran(app_name=APP_NAME)
    return sorted(names)


async def applied(engine: AnyEngine) -> list[str]:
    """Ids of the migrations recorded as run, oldest first."""
    with _migrating_with(engine):
        return await _applied()


async def pending(engine: AnyEngine) -> list[str]:
    """Ids of the migrations not run yet, oldest first."""
    return sorted(set(migration_modules()) - set(await applied(engine)))


def _transaction(engine: AnyEngine) -> Any:
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


async def _run(engine: AnyEngine, module: ModuleType, *, backwards: bool) -> None:
    manager: MigrationManager = await module.forwards()
    # The manager opens its own transaction; inside ours it joins it, so the schema change
    # and its bookkeeping row commit (or roll back) together.
    async with _transaction(engine):
        with redirect_stdout(io.StringIO()):
            await manager.run(backwards=backwards)
        if backwards:
            await (
                Migration.delete()
                .where((Migration.name == manager.migration_id) & (Migration.app_name == APP_NAME))
                .run()
            )
        else:
            await Migration.insert(Migration(name=manager.migration_id, app_name=APP_NAME)).run()


async def forwards(engine: AnyEngine, *, leaving_out: Collection[str] = ()) -> list[str]:
    """Apply every pending migration, oldest first; return their ids. ``leaving_out``
    names migrations to leave pending (the at-scale benchmark's unpartitioned layout is
    every migration but the partitioning one)."""
    modules = migration_modules()
    async with _exclusive(engine):
        with _migrating_with(engine):
            await Migration.create_table(if_not_exists=True).run()  # type: ignore[no-untyped-call]
            todo = sorted(set(modules) - set(await _applied()) - set(leaving_out))
            for migration_id in todo:
                await _run(engine, modules[migration_id], backwards=False)
    return todo


async def backwards(engine: AnyEngine, to: str = "all") -> list[str]:
    """Revert applied migrations, newest first: ``"all"``, ``"1"`` (the latest only), or
    every migration from the id ``to`` (inclusive) onwards. Returns the reverted ids.
    Raises ``ValueError`` for an id that is not applied or whose file is gone."""
    modules = migration_modules()
    async with _exclusive(engine):
        with _migrating_with(engine):
            done = await _applied()
            if to == "all":
                targets = done
            elif to == "1":
                targets = done[-1:]
            elif to in done:
                targets = done[done.index(to) :]
            else:
                raise ValueError(f"{to!r} is not an applied migration; applied: {done}")
            missing = [migration_id for migration_id in targets if migration_id not in modules]
            if missing:
                raise ValueError(f"no migration file for applied migration(s) {missing}")
            for migration_id in reversed(targets):
                await _run(engine, modules[migration_id], backwards=True)
    return list(reversed(targets))
