"""In-memory ``AnomalyRepository``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from adapters.memory.store import Workspace, copied, copied_page
from domain.errors import (
    AnomalyNotFound,
    DuplicateRecord,
    ModelVersionNotFound,
    PredictionNotFound,
    TransactionNotFound,
)
from domain.model import Anomaly
from domain.pagination import Page, PageRequest, paginate
from ports.repositories import AnomalyFilter, AnomalyInContext, AnomalyListPage


def _sort_key(anomaly: Anomaly) -> tuple[datetime, str]:
    return anomaly.detected_at, str(anomaly.id)


class InMemoryAnomalyRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def add_many(self, anomalies: Sequence[Anomaly]) -> None:
        work = self._workspace()
        # Check the whole batch first: like one SQL statement, it is stored entirely or not at all.
        seen: set[uuid.UUID] = set()
        for anomaly in anomalies:
            if anomaly.id in seen or anomaly.id in work.anomalies:
                raise DuplicateRecord("anomaly", anomaly.id)
            seen.add(anomaly.id)
            # The foreign keys of the real schema.
            if anomaly.transaction_hash not in work.transactions:
                raise TransactionNotFound(anomaly.transaction_hash)
            if anomaly.prediction_id not in work.predictions:
                raise PredictionNotFound(anomaly.prediction_id)
            if anomaly.model_version_id not in work.model_versions:
                raise ModelVersionNotFound(anomaly.model_version_id)
        for anomaly in anomalies:
            work.anomalies.insert(anomaly.id, anomaly)

    async def get(self, anomaly_id: uuid.UUID) -> Anomaly:
        anomaly = self._workspace().anomalies.get(anomaly_id)
        if anomaly is None:
            raise AnomalyNotFound(anomaly_id)
        return anomaly

    async def by_prediction_ids(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Anomaly]:
        wanted = set(ids)
        rows = [a for a in self._workspace().anomalies.scan() if a.prediction_id in wanted]
        return {anomaly.prediction_id: anomaly for anomaly in copied(rows)}

    async def list(self, criteria: AnomalyFilter, page: PageRequest) -> Page[Anomaly]:
        rows = [a for a in self._workspace().anomalies.scan() if criteria.matches(a)]
        return copied_page(paginate(rows, page, _sort_key))

    async def count(self, criteria: AnomalyFilter, *, at_most: int | None = None) -> int:
        total = sum(1 for a in self._workspace().anomalies.scan() if criteria.matches(a))
        return total if at_most is None else min(total, at_most)

    async def list_in_context(
        self, criteria: AnomalyFilter, page: PageRequest, *, count_at_most: int
    ) -> AnomalyListPage:
        if isinstance(count_at_most, bool) or count_at_most < 0:
            raise ValueError(f"count_at_most must be a count, got {count_at_most!r}")
        work = self._workspace()
        found = await self.list(criteria, page)
        items = []
        for anomaly in found.items:
            transaction = work.transactions.get(anomaly.transaction_hash)
            if transaction is None:  # the foreign key of the real schema
                raise TransactionNotFound(anomaly.transaction_hash)
            why = anomaly.contributions
            if why is None:  # not recorded with the anomaly: the flagging prediction's
                flagging = work.predictions.get(anomaly.prediction_id)
                why = flagging.contributions if flagging is not None and flagging.served else None
            items.append(AnomalyInContext(anomaly, copied([transaction])[0], why))
        matching = await self.count(criteria, at_most=count_at_most)
        return AnomalyListPage(Page(items, found.next_cursor), matching)

    async def record_review(self, anomaly: Anomaly) -> None:
        table = self._workspace().anomalies
        stored = table.get(anomaly.id)
        if stored is None:
            raise AnomalyNotFound(anomaly.id)
        stored.status = anomaly.status
        stored.reviewed_by = anomaly.reviewed_by
        stored.reviewed_at = anomaly.reviewed_at
        stored.note = anomaly.note
        table.replace(stored.id, stored)

    async def record_assignment(self, anomaly: Anomaly) -> None:
        table = self._workspace().anomalies
        stored = table.get(anomaly.id)
        if stored is None:
            raise AnomalyNotFound(anomaly.id)
        stored.assigned_to = anomaly.assigned_to
        stored.assigned_at = anomaly.assigned_at
        table.replace(stored.id, stored)
