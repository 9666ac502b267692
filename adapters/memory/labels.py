"""In-memory ``LabelRepository``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from adapters.memory.store import Workspace, copied, copied_page
from domain.errors import TransactionNotFound
from domain.model import Label
from domain.pagination import Page, PageRequest, paginate
from domain.values import lookup_key
from ports.repositories import TimeRange


def _sort_key(label: Label) -> tuple[datetime, str]:
    return label.created_at, str(label.id)


class InMemoryLabelRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def add(self, label: Label) -> None:
        work = self._workspace()
        # The foreign key of the real schema; the duplicate id is checked by ``insert``.
        if label.transaction_hash not in work.transactions:
            raise TransactionNotFound(label.transaction_hash)
        work.labels.insert(label.id, label)

    async def latest_for(self, hashes: Iterable[str]) -> dict[str, Label]:
        wanted = {lookup_key(tx_hash) for tx_hash in hashes}
        latest: dict[str, Label] = {}
        for label in self._workspace().labels.scan():
            if label.transaction_hash not in wanted:
                continue
            best = latest.get(label.transaction_hash)
            if best is None or _sort_key(label) > _sort_key(best):
                latest[label.transaction_hash] = label
        return dict(zip(latest, copied(latest.values()), strict=True))

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Label]:
        rows = [
            label for label in self._workspace().labels.scan() if period.contains(label.created_at)
        ]
        return copied_page(paginate(rows, page, _sort_key))
