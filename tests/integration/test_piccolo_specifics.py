"""Behaviour of the Piccolo adapter beyond the port contracts: storage details, bulk paths,
failure handling and health, on the engines they concern."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.piccolo import PiccoloDatabase, PostgresConfig, SQLiteConfig
from adapters.piccolo.repositories import transactions as transaction_module
from domain.errors import DuplicateUser, TransactionNotFound, Unavailable
from domain.values import UINT256_MAX
from tests.backends import reset_database
from tests.builders import a_prediction, a_transaction, a_user, stored_model_version

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> PiccoloDatabase:
    database: PiccoloDatabase = request.getfixturevalue(f"{request.param}_database")
    return database


async def test_wei_amounts_sort_and_compare_numerically_in_sql(backend: PiccoloDatabase) -> None:
    await reset_database(backend)
    amounts = [0, 1, 9, 10, 2**63, 2**64, 10**30, UINT256_MAX - 1, UINT256_MAX]
    rows = [a_transaction(value=amount) for amount in random.sample(amounts, len(amounts))]
    async with backend.uow() as uow:
        await uow.transactions.add_many(rows)
        await uow.commit()

    by_value = {tx.hash: tx.value for tx in rows}
    threshold = "0" * 58 + str(10**19) if backend.dialect == "sqlite" else str(10**19)
    cast = "" if backend.dialect == "sqlite" else "::numeric"
    ordered = await backend.engine.run_ddl("SELECT hash FROM transactions ORDER BY value")
    above = await backend.engine.run_ddl(
        f"SELECT hash FROM transactions WHERE value > '{threshold}'{cast}"
    )

    assert [by_value[row["hash"]] for row in ordered] == sorted(amounts)
    assert sorted(by_value[row["hash"]] for row in above) == [a for a in amounts if a > 10**19]


async def test_unrecorded_contributions_are_sql_null_and_rows_without_them_read_as_none(
    backend: PiccoloDatabase,
) -> None:
    await reset_database(backend)
    version = await stored_model_version(backend.uow)
    tx = a_transaction()
    written = a_prediction(tx, version)
    async with backend.uow() as uow:
        await uow.transactions.add_many([tx])
        await uow.predictions.add_many([written])
        await uow.commit()
    # A row as an older build stored it: no contributions column in the INSERT at all.
    older = a_prediction(tx, version)
    instant = older.created_at.isoformat()
    await backend.engine.run_ddl(
        "INSERT INTO predictions (id, transaction_hash, model_version_id, score, is_anomaly, "
        f"served, latency_ms, created_at) VALUES ('{older.id}', '{tx.hash}', "
        f"'{version.id}', 0.75, true, false, 1.25, '{instant}')"
    )

    nulls = await backend.engine.run_ddl(
        "SELECT count(*) AS n FROM predictions WHERE contributions IS NULL"
    )
    async with backend.uow() as uow:
        read = await uow.predictions.list_by_transaction(tx.hash)

    assert nulls[0]["n"] == 2  # SQL NULL, not the JSON document null
    assert [p.contributions for p in read] == [None, None]


async def test_a_batch_larger_than_one_statement_is_stored_whole(
    backend: PiccoloDatabase,
) -> None:
    await reset_database(backend)
    stored = a_transaction()
    async with backend.uow() as uow:
        await uow.transactions.add_many([stored])
        await uow.commit()
    batch = [a_transaction() for _ in range(2_500)]  # COPY on PostgreSQL, 5 chunks on SQLite
    batch[1_000:1_000] = [stored, batch[7]]

    async with backend.uow() as uow:
        result = await uow.transactions.add_many(batch)
        await uow.commit()

    assert result.duplicates == (stored.hash, batch[7].hash)
    assert len(result.inserted) == 2_500
    async with backend.uow() as uow:
        found = await uow.transactions.get_many(tx.hash for tx in batch)
    assert len(found) == 2_501


@pytest.mark.postgres
async def test_a_copied_batch_skips_a_hash_stored_before_in_another_month(
    postgres_database: PiccoloDatabase,
) -> None:
    # Months are partitions: only transaction_keys knows the hash is taken.
    await reset_database(postgres_database)
    stored = a_transaction(value=1)
    async with postgres_database.uow() as uow:
        await uow.transactions.add_many([stored])
        await uow.commit()
    batch = [a_transaction() for _ in range(transaction_module.COPY_THRESHOLD)]
    batch.append(
        a_transaction(hash=stored.hash, value=2, timestamp=stored.timestamp + timedelta(days=40))
    )

    async with postgres_database.uow() as uow:
        result = await uow.transactions.add_many(batch)
        await uow.commit()

    assert result.duplicates == (stored.hash,)
    assert len(result.inserted) == transaction_module.COPY_THRESHOLD
    async with postgres_database.uow() as uow:
        assert await uow.transactions.get(stored.hash) == stored


async def test_a_refused_write_leaves_the_rest_of_the_unit_of_work_intact(
    backend: PiccoloDatabase,
) -> None:
    await reset_database(backend)
    taken = a_user()
    async with backend.uow() as uow:
        await uow.users.add(taken)
        await uow.commit()
    tx = a_transaction()

    async with backend.uow() as uow:
        await uow.transactions.add_many([tx])
        with pytest.raises(DuplicateUser):
            await uow.users.add(a_user(username=taken.username))
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.transactions.get(tx.hash) == tx


async def test_a_unit_of_work_can_go_on_after_a_commit(backend: PiccoloDatabase) -> None:
    await reset_database(backend)
    first, second = a_transaction(), a_transaction()
    async with backend.uow() as uow:
        await uow.transactions.add_many([first])
        await uow.commit()
        await uow.transactions.add_many([second])
        # Left without a second commit: only the first transaction is kept.

    async with backend.uow() as uow:
        assert await uow.transactions.get(first.hash) == first
        with pytest.raises(TransactionNotFound):
            await uow.transactions.get(second.hash)


async def test_an_unreachable_postgres_is_unavailable_at_start() -> None:
    database = PiccoloDatabase(
        PostgresConfig(host="127.0.0.1", port=1, database="x", user="x", connect_timeout_s=2)
    )
    with pytest.raises(Unavailable):
        await database.start()


async def test_a_stopped_database_is_unavailable(tmp_path: Path) -> None:
    database = PiccoloDatabase(SQLiteConfig(tmp_path / "stopped.sqlite3"))
    await database.start()
    await database.ping()
    await database.stop()

    with pytest.raises(Unavailable):
        await database.ping()
    with pytest.raises(Unavailable):
        async with database.uow() as uow:
            await uow.users.list()
