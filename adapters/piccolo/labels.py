"""``PiccoloLabelRepository``: ground-truth labels, append-only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from adapters.piccolo.errors import ForeignKeyViolation, UniqueViolation
from adapters.piccolo.session import Row, SessionProvider
from adapters.piccolo.sql import Params, as_instant, as_optional_uuid, as_uuid, where
from domain.errors import DuplicateRecord, TransactionNotFound
from domain.model import Label
from domain.pagination import Page, PageRequest, page_from_rows
from ports.repositories import TimeRange

COLUMNS = (
    "id",
    "transaction_hash",
    "kind",
    "source",
    "created_by",
    "anomaly_id",
    "note",
    "created_at",
)
_SELECT = ", ".join(COLUMNS)


def _sort_key(label: Label) -> tuple[datetime, str]:
    return label.created_at, str(label.id)


def _from_row(row: Row) -> Label:
    return Label(
        id=as_uuid(row["id"]),
        transaction_hash=row["transaction_hash"],
        kind=row["kind"],
        source=row["source"],
        created_by=as_optional_uuid(row["created_by"]),
        anomaly_id=as_optional_uuid(row["anomaly_id"]),
        note=row["note"],
        created_at=as_instant(row["created_at"]),
    )


class PiccoloLabelRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add(self, label: Label) -> None:
        session = await self._session()
        params = Params(session.dialect)
        values = ", ".join(
            [
                params.uuid(label.id),
                params.add(label.transaction_hash),
                params.add(label.kind.value),
                params.add(label.source),
                params.uuid(label.created_by),
                params.uuid(label.anomaly_id),
                params.add(label.note),
                params.instant(label.created_at),
            ]
        )
        try:
            async with session.write():
                await session.execute(
                    f"INSERT INTO labels ({_SELECT}) VALUES ({values})", *params.values
                )
        except ForeignKeyViolation:
            raise TransactionNotFound(label.transaction_hash) from None
        except UniqueViolation:
            raise DuplicateRecord("label", label.id) from None

    async def latest_for(self, hashes: Iterable[str]) -> dict[str, Label]:
        keys = sorted({tx_hash.strip().lower() for tx_hash in hashes})
        if not keys:
            return {}
        session = await self._session()
        params = Params(session.dialect)
        # One pass over the labels of the wanted transactions (the transaction_hash index),
        # numbered newest first within each transaction; the same SQL on both engines.
        rows = await session.fetch(
            f"SELECT {_SELECT} FROM (SELECT {_SELECT}, ROW_NUMBER() OVER ("
            "PARTITION BY transaction_hash ORDER BY created_at DESC, id DESC) AS position "
            f"FROM labels WHERE {params.any_of('transaction_hash', keys)}) AS ranked "
            "WHERE position = 1",
            *params.values,
        )
        return {label.transaction_hash: label for label in map(_from_row, rows)}

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Label]:
        session = await self._session()
        params = Params(session.dialect)
        conditions = [
            None if period.since is None else f"created_at >= {params.instant(period.since)}",
            None if period.until is None else f"created_at < {params.instant(period.until)}",
            params.after("created_at", "id", page.cursor, key_is_uuid=True),
        ]
        rows = await session.fetch(
            f"SELECT {_SELECT} FROM labels {where(conditions)} "
            f"ORDER BY created_at DESC, id DESC LIMIT {params.add(page.limit + 1)}",
            *params.values,
        )
        return page_from_rows([_from_row(row) for row in rows], page, _sort_key)
