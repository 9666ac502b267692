"""The migrations build the schema the tables declare, both ways, on both engines - in
process (``PiccoloDatabase``) and through Piccolo's own CLI."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from adapters.piccolo import PiccoloDatabase, SQLiteConfig
from adapters.piccolo.schema.layout import tables_of
from adapters.piccolo.schema.migrations import migration_modules
from adapters.piccolo.schema.tables import TABLES
from domain.explanations import Contribution
from tests.backends import postgres_config, scratch_postgres
from tests.builders import (
    a_transaction,
    a_user,
    an_anomaly,
    stored_model_version,
    stored_predictions,
)
from tests.integration.schema import TableSchema, declared_schema, index_names, schema_of

REPO_ROOT = Path(__file__).resolve().parents[2]
PICCOLO = str(Path(sys.executable).parent / "piccolo")
ALL_IDS = sorted(migration_modules())
TABLE_NAMES = {table._meta.tablename for table in TABLES}
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
INDEX_MIGRATION = "2026-11-29T09:11:34:790455"  # the composite indexes
CARRIED_MIGRATION = "2026-12-04T18:00:00:000000"  # anomalies carry contributions, tx instant
CARRIED = {"contributions", "transaction_timestamp"}


@pytest.fixture(params=BACKENDS)
async def blank_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[PiccoloDatabase]:
    """A started database with no migrations applied, of its own (not the shared one)."""
    if request.param == "sqlite":
        database = PiccoloDatabase(SQLiteConfig(tmp_path / "blank.sqlite3"))
        await database.start()
        yield database
        await database.stop()
        return
    async with scratch_postgres("chainwatch_migrations") as url:
        database = PiccoloDatabase(postgres_config(url))
        await database.start()
        try:
            yield database
        finally:
            await database.stop()


def _names_of(db: PiccoloDatabase) -> set[str]:
    """The chainwatch tables of ``db``'s dialect (PostgreSQL adds the key tables)."""
    return set(tables_of(db.dialect))


async def _table_names(db: PiccoloDatabase) -> set[str]:
    return set(await schema_of(db)) & _names_of(db)


async def test_migrate_applies_every_migration_once_oldest_first(
    blank_database: PiccoloDatabase,
) -> None:
    assert await blank_database.pending_migrations() == ALL_IDS

    assert await blank_database.migrate() == ALL_IDS
    assert await blank_database.pending_migrations() == []
    assert await blank_database.migrate() == []
    assert await _table_names(blank_database) == _names_of(blank_database)


async def test_the_migrated_schema_is_the_declared_schema(
    blank_database: PiccoloDatabase,
) -> None:
    await blank_database.migrate()

    built = await schema_of(blank_database)
    declared = declared_schema(blank_database)
    assert set(built) == _names_of(blank_database) | {"migration"}  # plus Piccolo's own
    for table in sorted(_names_of(blank_database)):
        assert built[table] == declared[table], table


async def test_backwards_to_zero_drops_everything_and_forwards_rebuilds_it(
    blank_database: PiccoloDatabase,
) -> None:
    await blank_database.migrate()
    async with blank_database.uow() as uow:
        await uow.users.add(a_user())
        await uow.commit()

    assert await blank_database.migrate_backwards("all") == ALL_IDS[::-1]
    assert await _table_names(blank_database) == set()
    assert await blank_database.pending_migrations() == ALL_IDS

    assert await blank_database.migrate() == ALL_IDS
    assert await _chainwatch_schema(blank_database) == declared_schema(blank_database)
    async with blank_database.uow() as uow:
        assert await uow.users.list() == []


async def test_reverting_the_index_migration_keeps_every_row(
    blank_database: PiccoloDatabase,
) -> None:
    await blank_database.migrate()
    version = await stored_model_version(blank_database.uow)
    (prediction,) = await stored_predictions(blank_database.uow, version, 1)
    tx = a_transaction(value=2**256 - 1)
    async with blank_database.uow() as uow:
        await uow.transactions.add_many([tx])
        await uow.commit()

    # Reverting the index migration reverts every later one too (newest first).
    reverted = ALL_IDS[ALL_IDS.index(INDEX_MIGRATION) :]
    assert await blank_database.migrate_backwards(INDEX_MIGRATION) == reverted[::-1]
    assert await blank_database.pending_migrations() == reverted
    composite = {
        "transactions_from_time_idx",
        "model_versions_model_version_key",
        "predictions_version_time_score_idx",
    }
    assert not composite & await index_names(blank_database)

    assert await blank_database.migrate() == reverted
    assert composite <= await index_names(blank_database)
    async with blank_database.uow() as uow:
        assert await uow.transactions.get(tx.hash) == tx
        assert await uow.predictions.list_by_transaction(prediction.transaction_hash) == [
            prediction
        ]
        assert await uow.models.get_version_by_id(version.id) == version


async def test_the_carried_anomaly_columns_are_filled_for_stored_anomalies_and_dropped_backwards(
    blank_database: PiccoloDatabase,
) -> None:
    await blank_database.migrate()
    version = await stored_model_version(blank_database.uow)
    why = (Contribution("log_value", 2.5), Contribution("gas_price", -0.25))
    explained, unexplained = [
        *await stored_predictions(blank_database.uow, version, 1, contributions=why),
        *await stored_predictions(blank_database.uow, version, 1),
    ]
    # As a release before the columns stored them: neither carried.
    stored = [an_anomaly(explained), an_anomaly(unexplained)]
    async with blank_database.uow() as uow:
        await uow.anomalies.add_many(stored)
        transactions = await uow.transactions.get_many(p.transaction_hash for p in stored)
        await uow.commit()

    reverted = ALL_IDS[ALL_IDS.index(CARRIED_MIGRATION) :]
    assert await blank_database.migrate_backwards(CARRIED_MIGRATION) == reverted[::-1]
    assert not CARRIED & await _columns_of(blank_database, "anomalies")
    assert await blank_database.migrate() == reverted

    assert await _columns_of(blank_database, "anomalies") >= CARRIED
    async with blank_database.uow() as uow:
        filled = [await uow.anomalies.get(a.id) for a in stored]
    assert [(a.contributions, a.transaction_timestamp) for a in filled] == [
        (why, transactions[stored[0].transaction_hash].timestamp),
        (None, transactions[stored[1].transaction_hash].timestamp),
    ]


async def _columns_of(db: PiccoloDatabase, table: str) -> set[str]:
    return {name for name, *_ in (await schema_of(db))[table].columns}


async def test_backwards_to_an_unknown_migration_is_refused(
    blank_database: PiccoloDatabase,
) -> None:
    await blank_database.migrate()
    with pytest.raises(ValueError, match="not an applied migration"):
        await blank_database.migrate_backwards("1999-01-01T00:00:00:000000")
    assert await blank_database.pending_migrations() == []


async def _chainwatch_schema(db: PiccoloDatabase) -> dict[str, TableSchema]:
    names = _names_of(db)
    return {name: table for name, table in (await schema_of(db)).items() if name in names}


def _piccolo(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "CHAINWATCH_", "PICCOLO_"))
    }
    environment.update(variables)
    return subprocess.run(  # noqa: S603 - Piccolo's console script, fixed arguments
        [PICCOLO, "migrations", *args],
        cwd=REPO_ROOT,  # where piccolo_conf.py is, as an operator runs it
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _sqlite_tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows} & TABLE_NAMES


def test_the_piccolo_cli_migrates_the_default_embedded_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    forwards = _piccolo("forwards", "chainwatch", CHAINWATCH_DATA_DIR=str(data))
    assert forwards.returncode == 0, forwards.stdout + forwards.stderr
    assert _sqlite_tables(data / "chainwatch.sqlite3") == TABLE_NAMES


def test_the_piccolo_cli_goes_forwards_backwards_and_forwards_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "cli.sqlite3"
    url = f"sqlite:///{path}"  # an absolute path: four slashes in all
    for args, tables in (
        (("forwards", "chainwatch"), TABLE_NAMES),
        (("backwards", "chainwatch", "all", "--auto_agree"), set()),
        (("forwards", "chainwatch"), TABLE_NAMES),
    ):
        result = _piccolo(*args, DATABASE_URL=url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert _sqlite_tables(path) == tables, args


@pytest.mark.postgres
async def test_the_piccolo_cli_and_the_service_agree_on_postgres() -> None:
    async with scratch_postgres("chainwatch_cli") as url:
        result = _piccolo("forwards", "chainwatch", DATABASE_URL=url)
        assert result.returncode == 0, result.stdout + result.stderr

        database = PiccoloDatabase(postgres_config(url))
        await database.start()
        try:
            assert await database.pending_migrations() == []
            assert await _chainwatch_schema(database) == declared_schema(database)
        finally:
            await database.stop()

        back = _piccolo("backwards", "chainwatch", "all", "--auto_agree", DATABASE_URL=url)
        assert back.returncode == 0, back.stdout + back.stderr
        connection = await asyncpg.connect(url)
        try:
            rows = await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        finally:
            await connection.close()
        assert {row["tablename"] for row in rows} & set(tables_of("postgres")) == set()
