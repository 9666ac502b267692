"""``/review-queue`` bodies: each item's transaction, its served prediction and why it is
in the queue."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from domain.services.review_queue import ReviewItem, ReviewQueue
from entrypoints.http.schemas.transactions import TransactionOut, transaction_out


class ServedPrediction(msgspec.Struct):
    id: uuid.UUID
    model_version: str
    """``<model name>:<version>`` of the ACTIVE version that served it."""
    score: float
    """The calibrated score, 0 to 1."""
    is_anomaly: bool
    created_at: datetime


class QueueReasons(msgspec.Struct):
    reason: str
    """``informative`` (chosen for its gain) or ``explore`` (an exploration draw that
    keeps the labels representative of the traffic)."""
    score: float
    uncertainty: float
    """Closeness to the alert boundary on the logit scale, 0 to 1 (1: on it)."""
    informativeness: float
    """Uncertainty blended with the weight of the very top, 0 to 1."""
    density: float
    """How much of the traffic it stands for: its feature-grid cell's count relative to
    the fullest cell, 0 to 1."""
    distance: float | None
    """Standardised feature distance to the nearest labelled or earlier item; null when
    there was nothing to compare with."""
    gain: float
    """What the item was ranked by: informativeness times density times novelty."""


class ReviewQueueItem(msgspec.Struct):
    rank: int
    transaction: TransactionOut
    prediction: ServedPrediction
    reasons: QueueReasons


class ReviewQueueOut(msgspec.Struct):
    items: list[ReviewQueueItem]
    candidates: int
    """Unlabelled transactions considered."""
    labelled_in_window: int
    """Labelled transactions in the window: left out, counted as already known."""
    window_since: datetime
    alert_share: float
    feature_version: int | None


def _item(item: ReviewItem) -> ReviewQueueItem:
    pick, prediction = item.pick, item.prediction
    return ReviewQueueItem(
        rank=pick.rank,
        transaction=transaction_out(item.transaction),
        prediction=ServedPrediction(
            id=prediction.id,
            model_version=item.model_version,
            score=prediction.score,
            is_anomaly=prediction.is_anomaly,
            created_at=prediction.created_at,
        ),
        reasons=QueueReasons(
            reason=pick.reason,
            score=pick.score,
            uncertainty=pick.uncertainty,
            informativeness=pick.informativeness,
            density=pick.density,
            distance=pick.distance,
            gain=pick.gain,
        ),
    )


def review_queue_out(queue: ReviewQueue) -> ReviewQueueOut:
    return ReviewQueueOut(
        items=[_item(item) for item in queue.items],
        candidates=queue.candidates,
        labelled_in_window=queue.labelled,
        window_since=queue.since,
        alert_share=queue.alert_share,
        feature_version=queue.feature_version,
    )
