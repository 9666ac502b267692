"""Prediction bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from domain.pagination import Page
from domain.services.queries import PredictionRecord


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


class PredictionPage(msgspec.Struct):
    predictions: list[PredictionOut]
    next_cursor: str | None


def prediction_page(page: Page[PredictionRecord]) -> PredictionPage:
    return PredictionPage(
        predictions=[
            PredictionOut(
                id=record.prediction.id,
                transaction_hash=record.prediction.transaction_hash,
                model_version=record.model_version,
                model_version_id=record.prediction.model_version_id,
                score=record.prediction.score,
                is_anomaly=record.prediction.is_anomaly,
                served=record.prediction.served,
                latency_ms=record.prediction.latency_ms,
                created_at=record.prediction.created_at,
            )
            for record in page.items
        ],
        next_cursor=page.next_cursor,
    )
