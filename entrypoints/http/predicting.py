"""What the ``/predict`` endpoints need besides the scorer: the micro-batcher for single
transactions, the batch size limit, and the ``<model name>:<version>`` tag of a version.

Both endpoints end in ``Scorer.score_transactions`` (one unit of work per call): single
transactions through ``MicroBatcher``, a batch request directly. Each successful request
is audited in that unit of work: one ``transaction.predict`` row per single transaction
(resource ``transactions/<hash>``), one ``transaction.predict_batch`` row per batch
(``domain.services.batch_scoring``, which ``chainwatch demo --load`` uses too), replays
included — the request happened even when nothing new was stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from domain.errors import InvalidInput
from domain.model import ModelVersion, Transaction
from domain.services import Services
from domain.services.audit import succeeded, transaction_resource
from domain.services.batch_scoring import PREDICT_BATCH_ACTION, score_batch
from domain.services.naming import version_tag
from domain.services.scoring import ScoredTransaction, Scorer
from domain.transaction_input import parse_transaction
from entrypoints.http.batching import MicroBatcher
from entrypoints.settings import PredictLimits

__all__ = ["PREDICT_ACTION", "PREDICT_BATCH_ACTION", "Predictor"]

PREDICT_ACTION = "transaction.predict"


class Predictor:
    """Scores one transaction (micro-batched) or a batch, and names model versions."""

    def __init__(self, scorer: Scorer, services: Services, limits: PredictLimits) -> None:
        self.limits = limits
        self._clock = services.clock
        self.batcher = MicroBatcher(
            scorer.score_transactions,
            micro_batch=limits.micro_batch,
            flush_ms=limits.flush_ms,
            queue_size=limits.queue_size,
        )
        self._scorer = scorer
        self._uow = services.uow
        self._names: dict[uuid.UUID, str] = {}  # model id -> name; models are never renamed

    def parse_one(self, item: Mapping[str, object]) -> Transaction:
        """A transaction without a timestamp (a JSON-RPC object) takes the time it came."""
        return parse_transaction(item, received_at=self._clock.now())

    async def predict_one(self, tx: Transaction, actor: uuid.UUID | None) -> ScoredTransaction:
        """Score ``tx`` with the next micro-batch, audited as done by ``actor`` from the
        current origin."""
        entry = succeeded(
            PREDICT_ACTION, transaction_resource(tx.hash), actor=actor, at=self._clock.now()
        )
        return await self.batcher.submit(tx, entry)

    async def predict_many(
        self, txs: Sequence[Transaction], actor: uuid.UUID | None
    ) -> list[ScoredTransaction]:
        """Score ``txs`` in one unit of work with one audit row for the whole request."""
        return await score_batch(self._scorer, self._clock, txs, actor=actor)

    def parse_batch(self, items: Sequence[object]) -> list[Transaction]:
        """Every item parsed, or ``InvalidInput`` naming ``transactions[i].<field>`` of the
        first bad one (and nothing is scored or stored)."""
        if not items:
            raise InvalidInput("send at least one transaction", field="transactions")
        if len(items) > self.limits.max_batch:
            raise InvalidInput(
                f"at most {self.limits.max_batch:,} transactions per batch, got {len(items):,}; "
                "split the batch",
                field="transactions",
            )
        parsed = []
        received_at = self._clock.now()
        for index, item in enumerate(items):
            try:
                parsed.append(parse_transaction(item, received_at=received_at))  # type: ignore[arg-type]
            except InvalidInput as error:
                where = f"transactions[{index}]"
                field = where if error.field is None else f"{where}.{error.field}"
                raise InvalidInput(f"{where}: {error.message}", field=field) from None
        return parsed

    async def tag(self, version: ModelVersion) -> str:
        """``<model name>:<version>`` of ``version``."""
        name = self._names.get(version.model_id)
        if name is None:
            async with self._uow() as work:
                self._names = {model.id: model.name for model in await work.models.list_models()}
            name = self._names.get(version.model_id, str(version.model_id))
        return version_tag(name, version.version)
