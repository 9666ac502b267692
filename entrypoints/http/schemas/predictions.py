"""Prediction bodies, and the contributions that say why a prediction scored as it did."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import msgspec

from domain.explanations import Contribution
from domain.pagination import Page
from domain.services.queries import PredictionRecord


class ContributionOut(msgspec.Struct):
    feature: str
    """A column of the model version's feature set, e.g. ``log_value_ether``."""
    contribution: float
    """Its part in the score: larger in absolute value is more of the reason. Unsupervised
    versions: + the value lies above what the version was trained on, - below; versions
    trained with labels: + pushed towards fraud, - away from it."""


Contributions = list[ContributionOut] | None
"""Largest absolute contribution first, at most 5; null for predictions stored before
contributions were recorded."""


def contributions_out(contributions: Sequence[Contribution] | None) -> Contributions:
    if contributions is None:
        return None
    return [ContributionOut(item.feature, item.contribution) for item in contributions]


class PredictionOut(msgspec.Struct):
    id: uuid.UUID
    transaction_hash: str
    model_version: str
    model_version_id: uuid.UUID
    score: float
    is_anomaly: bool
    served: bool
    """False for a shadow model's prediction (recorded, not answered)."""
    latency_ms: float
    created_at: datetime
    contributions: Contributions
    """Why it scored so: the largest feature contributions (see ``ContributionOut``)."""


class PredictionPage(msgspec.Struct):
    predictions: list[PredictionOut]
    next_cursor: str | None


def prediction_out(record: PredictionRecord) -> PredictionOut:
    prediction = record.prediction
    return PredictionOut(
        id=prediction.id,
        transaction_hash=prediction.transaction_hash,
        model_version=record.model_version,
        model_version_id=prediction.model_version_id,
        score=prediction.score,
        is_anomaly=prediction.is_anomaly,
        served=prediction.served,
        latency_ms=prediction.latency_ms,
        created_at=prediction.created_at,
        contributions=contributions_out(prediction.contributions),
    )


def prediction_page(page: Page[PredictionRecord]) -> PredictionPage:
    return PredictionPage(
        predictions=[prediction_out(record) for record in page.items],
        next_cursor=page.next_cursor,
    )
