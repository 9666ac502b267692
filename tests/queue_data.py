"""Review-queue candidates built through the domain: an ACTIVE calibrated version and
transactions with its served predictions at chosen scores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.calibration import ScoreReference
from domain.model import ModelStatus, ModelVersion, Transaction
from ports import UnitOfWorkFactory
from tests.builders import a_prediction, a_transaction, stored_model_version

REFERENCE = ScoreReference.of([i / 100 for i in range(101)]).to_json()


async def active_calibrated_version(uow: UnitOfWorkFactory, **overrides: Any) -> ModelVersion:
    fields: dict[str, Any] = {
        "status": ModelStatus.ACTIVE,
        "traffic_weight": 100,
        "feature_version": 3,
        "thresholds": {"reference": REFERENCE},
    }
    fields.update(overrides)
    return await stored_model_version(uow, **fields)


async def scored(
    uow: UnitOfWorkFactory,
    version: ModelVersion,
    scores: Sequence[float],
    *,
    at: datetime,
    served: bool = True,
    **tx_fields: Any,
) -> list[Transaction]:
    """One stored transaction per score, each with a prediction by ``version`` made
    ``at``; values differ by a factor of ten per row unless ``tx_fields`` fix them."""
    txs = [
        a_transaction(**{"value": 10 ** (12 + index), **tx_fields}) for index in range(len(scores))
    ]
    async with uow() as work:
        await work.transactions.add_many(txs)
        await work.predictions.add_many(
            [
                a_prediction(tx, version, score=score, served=served, created_at=at)
                for tx, score in zip(txs, scores, strict=True)
            ]
        )
        await work.commit()
    return txs
