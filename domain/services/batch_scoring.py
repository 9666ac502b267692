"""Scoring a batch of transactions as one request: what ``POST /predict/batch`` does, and
what ``chainwatch demo --load`` does with the rows it stores.

``score_batch`` hands the whole batch to ``Scorer.score_transactions`` (one unit of work:
transactions, predictions, anomalies) with one ``transaction.predict_batch`` audit row
for the call (resource ``transactions``, details ``count``, ``anomalies``,
``replayed``), committed with the predictions - replays included, since the request
happened even when nothing new was stored. One definition, so that the API and the CLI
cannot drift apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from domain.model import AuditLog, Transaction
from domain.services.audit import current_origin, origin, succeeded
from domain.services.scoring import ScoredTransaction, Scorer
from ports.clock import Clock

PREDICT_BATCH_ACTION = "transaction.predict_batch"
BATCH_RESOURCE = "transactions"


async def score_batch(
    scorer: Scorer,
    clock: Clock,
    transactions: Sequence[Transaction],
    *,
    actor: uuid.UUID | None,
) -> list[ScoredTransaction]:
    """Score ``transactions`` in one unit of work with one audit row for the call, by
    ``actor`` from the current origin. Raises what ``Scorer.score_transactions`` raises
    (``Unavailable`` when no ACTIVE version takes traffic); nothing is written then."""
    where = current_origin()

    def audit(results: Sequence[ScoredTransaction]) -> list[AuditLog]:
        details = {
            "count": len(results),
            "anomalies": sum(1 for r in results if r.prediction.is_anomaly),
            "replayed": sum(1 for r in results if r.replayed),
        }
        with origin(where):
            entry = succeeded(
                PREDICT_BATCH_ACTION,
                BATCH_RESOURCE,
                actor=actor,
                at=clock.now(),
                details=details,
            )
        return [entry]

    return await scorer.score_transactions(transactions, audit=audit)
