"""In-memory ``PredictionRepository``."""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from adapters.memory.store import Workspace, copied, copied_page
from domain.errors import DuplicateRecord, ModelVersionNotFound, TransactionNotFound
from domain.model import Prediction
from domain.pagination import Page, PageRequest, paginate
from domain.values import lookup_key
from ports.repositories import ScoreHistogram, TimeRange


def _sort_key(prediction: Prediction) -> tuple[datetime, str]:
    return prediction.created_at, str(prediction.id)


class InMemoryPredictionRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def add_many(self, predictions: Sequence[Prediction]) -> None:
        work = self._workspace()
        # Check the whole batch first: like one SQL statement, it is stored entirely or not at all.
        seen: set[uuid.UUID] = set()
        for prediction in predictions:
            if prediction.id in seen or prediction.id in work.predictions:
                raise DuplicateRecord("prediction", prediction.id)
            seen.add(prediction.id)
            if prediction.transaction_hash not in work.transactions:
                raise TransactionNotFound(prediction.transaction_hash)
            if prediction.model_version_id not in work.model_versions:
                raise ModelVersionNotFound(prediction.model_version_id)
        for prediction in predictions:
            work.predictions.insert(prediction.id, prediction)

    async def list_by_transaction(self, tx_hash: str) -> list[Prediction]:
        wanted = lookup_key(tx_hash)
        rows = [p for p in self._workspace().predictions.scan() if p.transaction_hash == wanted]
        return copied(sorted(rows, key=_sort_key))

    async def served_for(self, hashes: Iterable[str]) -> dict[str, Prediction]:
        wanted = {lookup_key(tx_hash) for tx_hash in hashes}
        found: dict[str, Prediction] = {}
        served = (p for p in self._workspace().predictions.scan() if p.served)
        for prediction in sorted(served, key=_sort_key):
            if prediction.transaction_hash in wanted:
                found.setdefault(prediction.transaction_hash, prediction)
        return dict(zip(found, copied(list(found.values())), strict=True))

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Prediction]:
        rows = [p for p in self._workspace().predictions.scan() if period.contains(p.created_at)]
        return copied_page(paginate(rows, page, _sort_key))

    async def score_histogram(
        self, version_id: uuid.UUID, since: datetime, edges: Sequence[float]
    ) -> ScoreHistogram:
        counts = [0] * (len(edges) + 1)
        for p in self._workspace().predictions.scan():
            if p.model_version_id == version_id and p.created_at >= since:
                counts[bisect.bisect_right(edges, p.score)] += 1  # edges[i - 1] <= score
        return ScoreHistogram(tuple(counts))
