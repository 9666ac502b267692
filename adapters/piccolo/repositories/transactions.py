"""``PiccoloTransactionRepository``: bulk ingest, lookups by hash, keyset listings.

PostgreSQL (partitioned by month, ``adapters.piccolo.schema.layout``): a batch first claims
its hashes in ``transaction_keys`` with one multi-row ``INSERT ... ON CONFLICT (hash) DO
NOTHING RETURNING hash``; only the claimed transactions are then inserted (``COPY`` for
``COPY_THRESHOLD`` rows or more, else one ``unnest`` insert), in the same savepoint, so a
hash is stored once across every partition and a concurrent claimer of the same hash waits
on its key, then finds it taken. A lookup by hash reads its key, then ``(hash, timestamp)``
in the one partition that holds it.

The claim is the existence check. With ``found_absent`` (the caller has just found the
hashes absent) in a session that holds its writes for the commit
(``adapters.piccolo.sql.held``), the claim is a plain ``INSERT`` held with the rows' own:
a hash stored by then fails the whole held statement, and that is a ``Conflict``.

SQLite: ``INSERT ... ON CONFLICT (hash) DO NOTHING RETURNING hash`` (``statements.insert``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from piccolo.querystring import QueryString

from adapters.piccolo.repositories.references import first_stored
from adapters.piccolo.repositories.sender_activity import sender_activity
from adapters.piccolo.schema.codecs import TRANSACTIONS
from adapters.piccolo.schema.layout import KEY_TABLE
from adapters.piccolo.sql.errors import ConstraintViolation, UniqueViolation
from adapters.piccolo.sql.session import Session, SessionProvider
from adapters.piccolo.sql.statements import (
    COPY_THRESHOLD,
    add_rows,
    after,
    any_of,
    chunk_size,
    hold_insert,
    insert,
    limit,
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

if TYPE_CHECKING:
    from adapters.piccolo.sql.engine import Dialect

_SELECT = TRANSACTIONS.select()
_ORDER = 'ORDER BY "timestamp" DESC, hash DESC'
_ON_CONFLICT = "ON CONFLICT (hash) DO NOTHING RETURNING hash"
# PostgreSQL: the transaction's row in the one partition its key names. For one hash the
# key's timestamp is an init-plan parameter, so every other partition is pruned at run
# time (EXPLAIN: "never executed"); for several, a nested loop over the keys does it.
BY_HASH_POSTGRES = (
    f'SELECT {_SELECT} FROM transactions WHERE hash = {{}} AND "timestamp" = '
    '(SELECT "timestamp" FROM transaction_keys WHERE hash = {})'
)
BY_KEY_POSTGRES = (
    f"SELECT {TRANSACTIONS.select('t')} FROM transaction_keys AS k "
    'JOIN transactions AS t ON t.hash = k.hash AND t."timestamp" = k."timestamp" '
)
__all__ = ["BY_HASH_POSTGRES", "BY_KEY_POSTGRES", "COPY_THRESHOLD", "PiccoloTransactionRepository"]


def _sort_key(tx: Transaction) -> tuple[datetime, str]:
    return tx.timestamp, tx.hash


class _Keys:
    """The ``RowCodec`` of ``transaction_keys``: a transaction's hash and instant."""

    tablename = "transaction_keys"
    columns = ("hash", "timestamp")
    pg_types = ("varchar", "timestamptz")

    def to_row(self, entity: Transaction, dialect: Dialect) -> tuple[Any, ...]:
        return entity.hash, entity.timestamp

    def encode(self, column: str, value: Any, dialect: Dialect) -> Any:
        return value

    def select(self, alias: str | None = None) -> str:
        return "hash, timestamp"

    def from_row(self, row: Any) -> Transaction:
        raise NotImplementedError("keys are claimed, never read back as transactions")


_KEYS = _Keys()


def _holds(session: Session, batch: Sequence[Transaction]) -> bool:
    """Whether ``add_many`` holds ``batch`` for the commit (see ``_hold``)."""
    return session.can_hold and len(batch) < COPY_THRESHOLD


async def _explained_by_the_keys(
    error: ConstraintViolation, written: Mapping[str, set[Hashable]]
) -> Exception | None:
    return None  # a row clashes only where its key, held beside it, does


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
            if session.dialect == "postgres" and found_absent and _holds(session, unique):
                stored = self._hold(session, unique)
            elif session.dialect == "postgres":
                stored = await self._claim_and_insert(session, unique)
                session.note_inserted("transactions", stored)
            else:
                stored = await self._insert(session, unique)
                session.note_inserted("transactions", stored)
        inserted: list[str] = []
        duplicates: list[str] = []
        for tx in transactions:
            if tx.hash in stored:
                inserted.append(tx.hash)
                stored.discard(tx.hash)  # a later repeat in the batch is a duplicate
            else:
                duplicates.append(tx.hash)
        return AddManyResult(tuple(inserted), tuple(duplicates))

    def _hold(self, session: Session, batch: list[Transaction]) -> set[str]:
        """Hold the claim and the rows for the commit (a clash there is a ``Conflict``);
        the hashes this session holds or wrote already are duplicates, as stored ones."""
        new = [tx for tx in batch if session.first_noted("transactions", [tx.hash]) is None]
        hashes = [tx.hash for tx in new]
        if not new:
            return set()

        async def explain(
            error: ConstraintViolation, written: Mapping[str, set[Hashable]]
        ) -> Exception | None:
            if not isinstance(error, UniqueViolation):
                return None
            taken = await first_stored(session, KEY_TABLE, "hash", hashes)
            if taken is None:
                return None
            return Conflict(f"transaction {taken} was stored by another writer meanwhile; retry")

        ordered = sorted(new, key=lambda tx: tx.hash)  # as ``_claim_and_insert``: no deadlock
        hold_insert(session, _KEYS, ordered, explain)
        hold_insert(session, TRANSACTIONS, new, _explained_by_the_keys)
        session.note_inserted("transactions", hashes)
        return set(hashes)

    async def _claim_and_insert(self, session: Session, batch: list[Transaction]) -> set[str]:
        # Claimed in hash order: two batches sharing hashes then wait, never deadlock.
        ordered = sorted(batch, key=lambda tx: tx.hash)
        async with session.write():
            rows = await insert(session, _KEYS, ordered, tail=_ON_CONFLICT)
            claimed = {row["hash"] for row in rows}
            new = [tx for tx in batch if tx.hash in claimed]
            if new:
                await add_rows(session, TRANSACTIONS, new)
        return claimed

    async def _insert(self, session: Session, batch: list[Transaction]) -> set[str]:
        # One statement is atomic by itself; several need a savepoint to stay all-or-nothing.
        several = len(batch) > chunk_size(session.dialect, len(TRANSACTIONS.columns))
        async with session.write(savepoint=several):
            rows = await insert(session, TRANSACTIONS, batch, tail=_ON_CONFLICT)
        return {row["hash"] for row in rows}

    async def get(self, tx_hash: str) -> Transaction:
        session = await self._session()
        if session.dialect == "postgres":
            statement = sql(BY_HASH_POSTGRES, lookup_key(tx_hash), lookup_key(tx_hash))
        else:
            statement = sql(
                f"SELECT {_SELECT} FROM transactions WHERE hash = {{}}", lookup_key(tx_hash)
            )
        row = await session.fetchrow(statement)
        if row is None:
            raise TransactionNotFound(tx_hash)
        return TRANSACTIONS.from_row(row)

    async def get_many(self, hashes: Iterable[str]) -> dict[str, Transaction]:
        keys = sorted({lookup_key(tx_hash) for tx_hash in hashes})
        if not keys:
            return {}
        session = await self._session()
        if session.dialect == "postgres":
            statement = sql(f"{BY_KEY_POSTGRES} WHERE {{}}", any_of("k.hash", keys, "postgres"))
        else:
            statement = sql(
                f"SELECT {_SELECT} FROM transactions WHERE {{}}", any_of("hash", keys, "sqlite")
            )
        rows = await session.fetch(statement)
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
                f"SELECT * FROM (SELECT {_SELECT} FROM transactions {{}} {_ORDER} "
                f"{limit(page.limit + 1)}) AS {side}_side",
                where(sql(f"{side} = {{}}", wanted), *_period_and_cursor(session, period, page)),
            )
            for side in ("from_address", "to_address")
        ]
        rows = await session.fetch(
            sql(
                f"SELECT {_SELECT} FROM ({{}} UNION {{}}) AS both_sides {_ORDER} "
                f"{limit(page.limit + 1)}",
                *sides,
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
