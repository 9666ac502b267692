"""Stored data for API tests, built through the domain (``tests.builders``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.model import Anomaly, ModelVersion, Prediction, Transaction
from entrypoints.bootstrap import Container
from tests.builders import a_prediction, a_transaction, an_anomaly, at, stored_model_version


@dataclass
class Flagged:
    transaction: Transaction
    prediction: Prediction
    anomaly: Anomaly


async def stored_version(container: Container) -> ModelVersion:
    return await stored_model_version(container.services.uow)


async def stored_flags(
    container: Container, version: ModelVersion, count: int, **anomaly_fields: Any
) -> list[Flagged]:
    """``count`` transactions, each with a prediction by ``version`` and an anomaly,
    detected one second apart (the first is the oldest)."""
    flagged = []
    for index in range(count):
        tx = a_transaction(timestamp=at(index))
        prediction = a_prediction(tx, version, created_at=at(index))
        anomaly = an_anomaly(prediction, detected_at=at(index), **anomaly_fields)
        flagged.append(Flagged(tx, prediction, anomaly))
    async with container.services.uow() as uow:
        await uow.transactions.add_many([f.transaction for f in flagged])
        await uow.predictions.add_many([f.prediction for f in flagged])
        await uow.anomalies.add_many([f.anomaly for f in flagged])
        await uow.commit()
    return flagged
