"""The composition root picks implementations from settings, or the fakes for tests."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from adapters.memory import InMemoryDatabase, InMemoryUnitOfWork
from adapters.piccolo import PiccoloDatabase
from entrypoints.bootstrap import bootstrap, bootstrap_in_memory
from entrypoints.settings import load_settings


def test_production_wiring_uses_piccolo_with_the_configured_database(tmp_path: Path) -> None:
    settings = load_settings({"CHAINWATCH_DATA_DIR": str(tmp_path)})
    container = bootstrap(settings)
    assert isinstance(container.database, PiccoloDatabase)
    assert container.database.dialect == "sqlite"
    assert container.auto_migrate is True


def test_auto_migrate_follows_the_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {"CHAINWATCH_DATA_DIR": str(tmp_path), "CHAINWATCH_AUTO_MIGRATE": "no"}
    )
    assert bootstrap(settings).auto_migrate is False


def test_the_clock_tells_utc() -> None:
    assert bootstrap_in_memory().services.clock.now().tzinfo is UTC


async def test_in_memory_wiring_gives_units_of_work_over_one_store() -> None:
    database = InMemoryDatabase()
    container = bootstrap_in_memory(database)
    assert isinstance(container.services.uow(), InMemoryUnitOfWork)
    await container.database.ping()
    assert await container.database.migrate() == []
