"""``PiccoloLabelRepository``: ground-truth labels, append-only."""

from __future__ import annotations

from collections.abc import Iterable

from adapters.piccolo.schema.codecs import LABELS
from adapters.piccolo.sql.errors import ForeignKeyViolation, UniqueViolation
from adapters.piccolo.sql.session import SessionProvider
from adapters.piccolo.sql.statements import any_of, insert, newest_first, sql, within
from domain.errors import DuplicateRecord, TransactionNotFound
from domain.model import Label
from domain.pagination import Page, PageRequest
from domain.values import lookup_key
from ports.repositories import TimeRange

_SELECT = LABELS.select()


class PiccoloLabelRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add(self, label: Label) -> None:
        session = await self._session()
        try:
            async with session.write():
                await insert(session, LABELS, [label])
        except ForeignKeyViolation:
            raise TransactionNotFound(label.transaction_hash) from None
        except UniqueViolation:
            raise DuplicateRecord("label", label.id) from None

    async def latest_for(self, hashes: Iterable[str]) -> dict[str, Label]:
        keys = sorted({lookup_key(tx_hash) for tx_hash in hashes})
        if not keys:
            return {}
        session = await self._session()
        # One pass over the labels of the wanted transactions (the transaction_hash index),
        # numbered newest first within each transaction; the same SQL on both engines.
        # (A window function: beyond Piccolo's query API.)
        rows = await session.fetch(
            sql(
                f"SELECT {_SELECT} FROM (SELECT {_SELECT}, ROW_NUMBER() OVER ("
                "PARTITION BY transaction_hash ORDER BY created_at DESC, id DESC) AS position "
                "FROM labels WHERE {}) AS ranked WHERE position = 1",
                any_of("transaction_hash", keys, session.dialect),
            )
        )
        return {label.transaction_hash: label for label in map(LABELS.from_row, rows)}

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Label]:
        session = await self._session()
        period_of = within("created_at", period.since, period.until, session.dialect)
        return await newest_first(session, LABELS, period_of, page, instant="created_at")
