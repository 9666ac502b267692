"""``PiccoloTransactionRepository``: bulk ingest, lookups by hash, keyset listings.

Ingest on PostgreSQL: batches of ``COPY_THRESHOLD`` new rows or more are written with
``COPY`` (on the unit of work's own connection, inside a savepoint) after one query finds
the hashes already stored - unless the caller has just found them absent
(``found_absent``, the scoring hot path: one round trip fewer). If a concurrent writer
stores one of the hashes in between, the ``COPY`` fails as a whole; the savepoint undoes
it and the batch goes through the conflict-tolerant path instead:
``INSERT ... ON CONFLICT (hash) DO NOTHING RETURNING hash`` (``statements.insert``).
Smaller batches take that path directly: one round trip. In an all-or-nothing unit of
work (the scoring hot path) the ``COPY`` takes no savepoint: that rare race fails the
unit of work with ``Conflict``, and its retry finds the hashes stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime

from piccolo.querystring import QueryString

from adapters.piccolo.repositories.sender_activity import sender_activity
from adapters.piccolo.schema.codecs import TRANSACTIONS
from adapters.piccolo.sql.errors import UniqueViolation
from adapters.piccolo.sql.session import Session, SessionProvider
from adapters.piccolo.sql.statements import (
    COPY_THRESHOLD,
    after,
    any_of,
    chunk_size,
    copy,
    insert,
    newest_first,
    sql,
    where,
    within,
)
from adapters.piccolo.sql.values import as_instant
from domain.errors import Conflict, TransactionNotFound
from domain.history import HistoryPoint, SenderActivity
from domain.model import Transaction
from domain.pagination import Page, PageRequest, page_from_rows
from domain.values import lookup_key
from ports.repositories import AddManyResult, TimeRange, TrainingColumns

_SELECT = TRANSACTIONS.select()
_ORDER = 'ORDER BY "timestamp" DESC, hash DESC'
_ON_CONFLICT = "ON CONFLICT (hash) DO NOTHING RETURNING hash"
__all__ = ["COPY_THRESHOLD", "PiccoloTransactionRepository"]


def _sort_key(tx: Transaction) -> tuple[datetime, str]:
    return tx.timestamp, tx.hash


class PiccoloTransactionRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add_many(
        self, transactions: Sequence[Transaction], *, found_absent: bool = False
    ) -> AddManyResult:
        first: dict[str, Transaction] = {}
        for tx in transactions:
            first.setdefault(tx.hash, tx)
        stored: set[str] = set()
        if first:
            session = await self._session()
            unique = list(first.values())
            if session.dialect == "postgres" and len(unique) >= COPY_THRESHOLD:
                stored = await self._copy(session, unique, check=not found_absent)
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

    async def _copy(self, session: Session, batch: list[Transaction], *, check: bool) -> set[str]:
        new = batch
        if check:
            hashes = [tx.hash for tx in batch]
            rows = await session.fetch(
                sql("SELECT hash FROM transactions WHERE hash = ANY({})", hashes)
            )
            existing = {row["hash"] for row in rows}
            new = [tx for tx in batch if tx.hash not in existing]
        if not new:
            return set()
        try:
            async with session.write():
                await copy(session, TRANSACTIONS, new)
        except UniqueViolation:
            # A concurrent unit of work stored some of these since the check above (the
            # caller's, with ``found_absent``).
            if session.all_or_nothing:
                raise Conflict(
                    "a concurrent request stored some of these transactions first; retry"
                ) from None
            return await self._insert(session, new)
        return {tx.hash for tx in new}

    async def _insert(self, session: Session, batch: list[Transaction]) -> set[str]:
        # One statement is atomic by itself; several need a savepoint to stay all-or-nothing.
        several = len(batch) > chunk_size(session.dialect, len(TRANSACTIONS.columns))
        async with session.write(savepoint=several):
            rows = await insert(session, TRANSACTIONS, batch, tail=_ON_CONFLICT)
        return {row["hash"] for row in rows}

    async def get(self, tx_hash: str) -> Transaction:
        session = await self._session()
        row = await session.fetchrow(
            sql(f"SELECT {_SELECT} FROM transactions WHERE hash = {{}}", lookup_key(tx_hash))
        )
        if row is None:
            raise TransactionNotFound(tx_hash)
        return TRANSACTIONS.from_row(row)

    async def get_many(self, hashes: Iterable[str]) -> dict[str, Transaction]:
        keys = sorted({lookup_key(tx_hash) for tx_hash in hashes})
        if not keys:
            return {}
        session = await self._session()
        rows = await session.fetch(
            sql(
                f"SELECT {_SELECT} FROM transactions WHERE {{}}",
                any_of("hash", keys, session.dialect),
            )
        )
        return {tx.hash: tx for tx in map(TRANSACTIONS.from_row, rows)}

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Transaction]:
        session = await self._session()
        period_of = within('"timestamp"', period.since, period.until, session.dialect)
        return await newest_first(
            session, TRANSACTIONS, period_of, page, instant="timestamp", key="hash"
        )

    async def list_by_address(
        self, address: str, period: TimeRange, page: PageRequest
    ) -> Page[Transaction]:
        session = await self._session()
        wanted = lookup_key(address)
        # One ordered index range scan per side (from/to), merged; UNION drops the second
        # copy of a transfer to oneself. An OR would have to sort every match instead.
        sides = [
            sql(
                f"SELECT * FROM (SELECT {_SELECT} FROM transactions {{}} {_ORDER} LIMIT {{}}) "
                f"AS {side}_side",
                where(sql(f"{side} = {{}}", wanted), *_period_and_cursor(session, period, page)),
                page.limit + 1,
            )
            for side in ("from_address", "to_address")
        ]
        rows = await session.fetch(
            sql(
                f"SELECT {_SELECT} FROM ({{}} UNION {{}}) AS both_sides {_ORDER} LIMIT {{}}",
                *sides,
                page.limit + 1,
            )
        )
        return page_from_rows([TRANSACTIONS.from_row(row) for row in rows], page, _sort_key)

    async def training_columns(
        self, period: TimeRange, chunk: int
    ) -> AsyncIterator[TrainingColumns]:
        session = await self._session()
        postgres = session.dialect == "postgres"
        if postgres:
            # Wei as exact text; hashes in code-point order whatever the database collation.
            amounts = "value::text AS value_text, gas_price::text AS gas_price_text"
            order = 'ORDER BY "timestamp", hash COLLATE "C"'
        else:
            # Stored as 78 zero-padded digits: strip the padding (zero strips to "").
            amounts = "ltrim(value, '0') AS value_text, ltrim(gas_price, '0') AS gas_price_text"
            order = 'ORDER BY "timestamp", hash'
        query = sql(
            f'SELECT hash, "timestamp", {amounts}, gas, gas_used, input_size, '
            f"to_address IS NULL AS creation FROM transactions {{}} {order}",
            where(*within('"timestamp"', period.since, period.until, session.dialect)),
        )
        async for rows in session.chunks(query, chunk):
            timestamps = (
                [row["timestamp"] for row in rows]
                if postgres
                else [as_instant(row["timestamp"]) for row in rows]
            )
            yield TrainingColumns(
                hashes=[row["hash"] for row in rows],
                timestamps=timestamps,
                values=[row["value_text"] or "0" for row in rows],
                gas=[row["gas"] for row in rows],
                gas_prices=[row["gas_price_text"] or "0" for row in rows],
                gas_used=[row["gas_used"] for row in rows],
                input_sizes=[row["input_size"] for row in rows],
                contract_creations=[bool(row["creation"]) for row in rows],
            )

    async def sender_activity(
        self, points: Iterable[HistoryPoint]
    ) -> dict[HistoryPoint, SenderActivity]:
        return await sender_activity(await self._session(), list(points))


def _period_and_cursor(
    session: Session, period: TimeRange, page: PageRequest
) -> list[QueryString | None]:
    dialect = session.dialect
    return [
        *within('"timestamp"', period.since, period.until, dialect),
        after('"timestamp"', "hash", page.cursor, dialect, key_is_uuid=False),
    ]
