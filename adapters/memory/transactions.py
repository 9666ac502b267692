"""In-memory ``TransactionRepository``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime

from adapters.memory.store import Workspace, copied_page
from domain.errors import TransactionNotFound
from domain.history import HISTORY_CAP, HistoryPoint, Send, SenderActivity
from domain.model import Transaction
from domain.pagination import Page, PageRequest, paginate
from domain.values import lookup_key
from ports.repositories import AddManyResult, TimeRange, TrainingColumns


def _sort_key(tx: Transaction) -> tuple[datetime, str]:
    return tx.timestamp, tx.hash


class InMemoryTransactionRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def add_many(
        self, transactions: Sequence[Transaction], *, found_absent: bool = False
    ) -> AddManyResult:
        # Looking up a dict costs nothing: ``found_absent`` changes nothing here.
        table = self._workspace().transactions
        inserted: list[str] = []
        duplicates: list[str] = []
        for tx in transactions:
            if tx.hash in table:
                duplicates.append(tx.hash)
            else:
                table.insert(tx.hash, tx)
                inserted.append(tx.hash)
        return AddManyResult(tuple(inserted), tuple(duplicates))

    async def get(self, tx_hash: str) -> Transaction:
        tx = self._workspace().transactions.get(lookup_key(tx_hash))
        if tx is None:
            raise TransactionNotFound(tx_hash)
        return tx

    async def get_many(self, hashes: Iterable[str]) -> dict[str, Transaction]:
        table = self._workspace().transactions
        found: dict[str, Transaction] = {}
        for tx_hash in hashes:
            tx = table.get(lookup_key(tx_hash))
            if tx is not None:
                found[tx.hash] = tx
        return found

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Transaction]:
        rows = [tx for tx in self._workspace().transactions.scan() if period.contains(tx.timestamp)]
        return copied_page(paginate(rows, page, _sort_key))

    async def list_by_address(
        self, address: str, period: TimeRange, page: PageRequest
    ) -> Page[Transaction]:
        wanted = lookup_key(address)
        rows = [
            tx
            for tx in self._workspace().transactions.scan()
            if wanted in (tx.from_address, tx.to_address) and period.contains(tx.timestamp)
        ]
        return copied_page(paginate(rows, page, _sort_key))

    async def training_columns(
        self, period: TimeRange, chunk: int
    ) -> AsyncIterator[TrainingColumns]:
        rows = sorted(
            (tx for tx in self._workspace().transactions.scan() if period.contains(tx.timestamp)),
            key=_sort_key,
        )
        for start in range(0, len(rows), chunk):
            yield TrainingColumns.of(rows[start : start + chunk])

    async def sender_activity(
        self, points: Iterable[HistoryPoint]
    ) -> dict[HistoryPoint, SenderActivity]:
        asked = list(points)
        wanted = {point.address for point in asked}
        if not wanted:
            return {}
        seen: dict[str, list[Transaction]] = {}
        for tx in self._workspace().transactions.scan():
            for address in {tx.from_address, tx.to_address} & wanted:
                assert address is not None
                seen.setdefault(address, []).append(tx)
        answers: dict[HistoryPoint, SenderActivity] = {}
        for point in asked:
            before = sorted(
                (tx for tx in seen.get(point.address, []) if _sort_key(tx) < point.key),
                key=_sort_key,
                reverse=True,
            )
            sends = [
                Send.of(tx)
                for tx in before
                if tx.from_address == point.address and tx.timestamp >= point.window_start
            ]
            first_seen = before[-1].timestamp if before else None
            answers[point] = SenderActivity(first_seen, tuple(sends[:HISTORY_CAP]))
        return answers
