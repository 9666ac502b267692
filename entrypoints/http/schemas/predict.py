"""``/predict`` bodies. Transactions come in as plain JSON objects (any of the shapes
``domain.transaction_input`` accepts) and are parsed there, so every shape is welcome."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from domain.model import Severity
from domain.services.scoring import ScoredTransaction
from entrypoints.http.schemas.predictions import Contributions, contributions_out

TransactionIn = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description="A transaction as the old system's JSON (hash, value, gas, gasPrice, "
        "from, to, blockNumber, timestamp), an Etherscan txlist row or a JSON-RPC "
        "transaction object. Quantities: JSON integers, decimal strings or 0x-hex; "
        "timestamps: ISO-8601 with a zone or unix seconds.",
        examples=[
            {
                "hash": "0x" + "ab" * 32,
                "from": "0x" + "12" * 20,
                "to": "0x" + "34" * 20,
                "value": "1500000000000000000",
                "gas": 21000,
                "gasPrice": "30000000000",
                "blockNumber": 18000000,
                "timestamp": "2024-01-01T00:00:00Z",
            }
        ],
    ),
]


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    transactions: Annotated[
        list[TransactionIn],
        msgspec.Meta(min_length=1, description="At least one; at most CHAINWATCH_MAX_BATCH"),
    ]


class PredictionOut(msgspec.Struct):
    hash: str
    is_anomaly: bool
    anomaly_score: float
    severity: Severity | None
    """None when the transaction is not anomalous."""
    timestamp: datetime
    """The transaction's own time."""
    model_version: str
    """``<model name>:<version>`` of the version that served the prediction."""
    prediction_id: uuid.UUID
    replayed: bool
    """True when this hash was scored before: the stored prediction is answered again."""
    contributions: Contributions
    """Why it scored so: the largest feature contributions of the served prediction."""


class BatchOut(msgspec.Struct):
    predictions: list[PredictionOut]
    total_processed: int
    anomalies_detected: int
    processing_time_ms: float


def prediction_out(result: ScoredTransaction, model_version: str) -> PredictionOut:
    return PredictionOut(
        hash=result.transaction.hash,
        is_anomaly=result.prediction.is_anomaly,
        anomaly_score=result.prediction.score,
        severity=None if result.anomaly is None else result.anomaly.severity,
        timestamp=result.transaction.timestamp,
        model_version=model_version,
        prediction_id=result.prediction.id,
        replayed=result.replayed,
        contributions=contributions_out(result.prediction.contributions),
    )
