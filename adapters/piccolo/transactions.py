"""``PiccoloTransactionRepository``: bulk ingest, lookups by hash, keyset listings.

Ingest on PostgreSQL: batches of ``COPY_THRESHOLD`` new rows or more are written with
``COPY`` (asyncpg ``copy_records_to_table`` on the unit of work's own connection, inside a
savepoint) after one query finds the hashes already stored. If a concurrent writer stores
one of the hashes in between, the ``COPY`` fails as a whole; the savepoint undoes it and
the batch goes through the conflict-tolerant path instead: ``INSERT ... ON CONFLICT (hash)
DO NOTHING RETURNING hash`` - from ``unnest`` arrays on PostgreSQL (one parameter per
column, so asyncpg's 32,767-argument cap never applies), from chunked multi-row ``VALUES``
on SQLite. Smaller batches take that path directly: one round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from adapters.piccolo.errors import UniqueViolation, translate_errors
from adapters.piccolo.session import Row, Session, SessionProvider
from adapters.piccolo.sql import Params, as_instant, as_wei, db_instant, db_wei, where
from adapters.piccolo.statements import chunk_size, insert_rows
from domain.errors import TransactionNotFound
from domain.model import Transaction
from domain.pagination import Page, PageRequest, page_from_rows
from ports.repositories import AddManyResult, TimeRange

COLUMNS = (
    "hash",
    "chain",
    "block_number",
    "from_address",
    "to_address",
    "value",
    "gas",
    "gas_price",
    "nonce",
    "gas_used",
    "input_size",
    "timestamp",
    "ingested_at",
)
_SELECT = ", ".join(f'"{column}"' for column in COLUMNS)
_GET = f"SELECT {_SELECT} FROM transactions WHERE hash = $1"
_ORDER = 'ORDER BY "timestamp" DESC, hash DESC'
_PG_TYPES = (
    "varchar", "varchar", "bigint", "varchar", "varchar", "numeric", "bigint", "numeric",
    "bigint", "bigint", "bigint", "timestamptz", "timestamptz",
)  # fmt: skip
_ON_CONFLICT = "ON CONFLICT (hash) DO NOTHING RETURNING hash"
COPY_THRESHOLD = 1000


def _lookup_key(text: str) -> str:
    # Stored hashes and addresses are normalised; accept any case or padding on lookup.
    return text.strip().lower()


def _sort_key(tx: Transaction) -> tuple[Any, str]:
    return tx.timestamp, tx.hash


def _from_row(row: Row) -> Transaction:
    return Transaction(
        hash=row["hash"],
        chain=row["chain"],
        block_number=row["block_number"],
        from_address=row["from_address"],
        to_address=row["to_address"],
        value=as_wei(row["value"]),
        gas=row["gas"],
        gas_price=as_wei(row["gas_price"]),
        nonce=row["nonce"],
        gas_used=row["gas_used"],
        input_size=row["input_size"],
        timestamp=as_instant(row["timestamp"]),
        ingested_at=as_instant(row["ingested_at"]),
    )


def _record(tx: Transaction, dialect: Any) -> tuple[Any, ...]:
    return (
        tx.hash,
        tx.chain,
        tx.block_number,
        tx.from_address,
        tx.to_address,
        db_wei(tx.value, dialect),
        tx.gas,
        db_wei(tx.gas_price, dialect),
        tx.nonce,
        tx.gas_used,
        tx.input_size,
        db_instant(tx.timestamp, dialect),
        db_instant(tx.ingested_at, dialect),
    )


class PiccoloTransactionRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add_many(self, transactions: Sequence[Transaction]) -> AddManyResult:
        first: dict[str, Transaction] = {}
        for tx in transactions:
            first.setdefault(tx.hash, tx)
        stored: set[str] = set()
        if first:
            session = await self._session()
            unique = list(first.values())
            if session.dialect == "postgres" and len(unique) >= COPY_THRESHOLD:
                stored = await self._copy(session, unique)
            else:
                stored = await self._insert(session, unique)
        inserted: list[str] = []
        duplicates: list[str] = []
        for tx in transactions:
            if tx.hash in stored:
                inserted.append(tx.hash)
                stored.discard(tx.hash)  # a later repeat in the batch is a duplicate
            else:
                duplicates.append(tx.hash)
        return AddManyResult(tuple(inserted), tuple(duplicates))

    async def _copy(self, session: Session, batch: list[Transaction]) -> set[str]:
        hashes = [tx.hash for tx in batch]
        rows = await session.fetch("SELECT hash FROM transactions WHERE hash = ANY($1)", hashes)
        existing = {row["hash"] for row in rows}
        new = [tx for tx in batch if tx.hash not in existing]
        if not new:
            return set()
        try:
            async with session.write():
                with translate_errors():
                    await session.connection.copy_records_to_table(
                        "transactions",
                        records=[_record(tx, "postgres") for tx in new],
                        columns=COLUMNS,
                    )
        except UniqueViolation:
            # A concurrent unit of work stored some of these since the check above.
            return await self._insert(session, new)
        return {tx.hash for tx in new}

    async def _insert(self, session: Session, batch: list[Transaction]) -> set[str]:
        records = [_record(tx, session.dialect) for tx in batch]
        # One statement is atomic by itself; several need a savepoint to stay all-or-nothing.
        several = len(batch) > chunk_size(session, len(COLUMNS))
        async with session.write(savepoint=several):
            rows = await insert_rows(
                session, "transactions", COLUMNS, _PG_TYPES, records, tail=_ON_CONFLICT
            )
        return {row["hash"] for row in rows}

    async def get(self, tx_hash: str) -> Transaction:
        session = await self._session()
        row = await session.fetchrow(_GET, _lookup_key(tx_hash))
        if row is None:
            raise TransactionNotFound(tx_hash)
        return _from_row(row)

    async def get_many(self, hashes: Iterable[str]) -> dict[str, Transaction]:
        keys = sorted({_lookup_key(tx_hash) for tx_hash in hashes})
        if not keys:
            return {}
        session = await self._session()
        params = Params(session.dialect)
        rows = await session.fetch(
            f"SELECT {_SELECT} FROM transactions WHERE {params.any_of('hash', keys)}",
            *params.values,
        )
        return {tx.hash: tx for tx in map(_from_row, rows)}

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Transaction]:
        session = await self._session()
        params = Params(session.dialect)
        conditions = _period_and_cursor(params, period, page)
        rows = await session.fetch(
            f"SELECT {_SELECT} FROM transactions {where(conditions)} {_ORDER} "
            f"LIMIT {params.add(page.limit + 1)}",
            *params.values,
        )
        return page_from_rows([_from_row(row) for row in rows], page, _sort_key)

    async def list_by_address(
        self, address: str, period: TimeRange, page: PageRequest
    ) -> Page[Transaction]:
        session = await self._session()
        params = Params(session.dialect)
        wanted = params.add(_lookup_key(address))
        conditions = _period_and_cursor(params, period, page)
        limit = params.add(page.limit + 1)
        # One ordered index range scan per side (from/to), merged; UNION drops the second
        # copy of a transfer to oneself. An OR would have to sort every match instead.
        sides = [
            f"SELECT * FROM (SELECT {_SELECT} FROM transactions "
            f"{where([f'{side} = {wanted}', *conditions])} {_ORDER} LIMIT {limit}) AS {side}_side"
            for side in ("from_address", "to_address")
        ]
        rows = await session.fetch(
            f"SELECT {_SELECT} FROM ({sides[0]} UNION {sides[1]}) AS both_sides "
            f"{_ORDER} LIMIT {limit}",
            *params.values,
        )
        return page_from_rows([_from_row(row) for row in rows], page, _sort_key)


def _period_and_cursor(params: Params, period: TimeRange, page: PageRequest) -> list[str | None]:
    return [
        None if period.since is None else f'"timestamp" >= {params.instant(period.since)}',
        None if period.until is None else f'"timestamp" < {params.instant(period.until)}',
        params.after('"timestamp"', "hash", page.cursor, key_is_uuid=False),
    ]
