"""``/predict``: score one transaction (micro-batched with concurrent callers) or a batch.

Both store the transactions, their predictions and anomalies, and the request's success
audit row in one commit, and answer only after it. A resubmitted hash is not scored or
stored again: its stored prediction is answered (``replayed: true``), and the request is
still audited. A batch with any invalid transaction is refused whole (422 naming
``transactions[i].<field>``) and writes nothing but the failure audit row.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from domain.services.auth import Permission
from entrypoints.http.controllers.errors import write_errors
from entrypoints.http.predicting import PREDICT_ACTION, PREDICT_BATCH_ACTION, Predictor
from entrypoints.http.schemas.predict import (
    BatchIn,
    BatchOut,
    PredictionOut,
    TransactionIn,
    prediction_out,
)
from entrypoints.http.security import current_principal, requires


class PredictController(Controller):
    path = "/predict"
    tags = ["predict"]

    @post(
        "/",
        opt=requires(Permission.PREDICT, PREDICT_ACTION),
        responses=write_errors(),
        status_code=200,
        summary="Score one transaction and store it with its prediction (and anomaly)",
        description="503 with Retry-After when the scoring queue is full or no model "
        "version is active.",
    )
    async def predict(
        self,
        predictor: NamedDependency[Predictor],
        request: Request[Any, Any, Any],
        data: JSONBody[TransactionIn],
    ) -> PredictionOut:
        # The caller read from the request, not as a second dependency: Litestar resolves
        # two dependencies of one handler in an anyio task group, a cost on every call.
        principal = current_principal(request)
        result = await predictor.predict_one(predictor.parse_one(data), principal.user_id)
        return prediction_out(result, await predictor.tag(result.model_version))

    @post(
        "/batch",
        opt=requires(Permission.PREDICT, PREDICT_BATCH_ACTION),
        responses=write_errors(),
        status_code=200,
        summary="Score a batch of transactions in one unit of work",
        description="Up to CHAINWATCH_MAX_BATCH (10,000 by default) transactions; any "
        "invalid one refuses the whole batch.",
    )
    async def predict_batch(
        self,
        predictor: NamedDependency[Predictor],
        request: Request[Any, Any, Any],
        data: JSONBody[BatchIn],
    ) -> BatchOut:
        started = time.perf_counter()
        principal = current_principal(request)
        transactions = predictor.parse_batch(data.transactions)
        results = await predictor.predict_many(transactions, principal.user_id)
        versions = {result.model_version.id: result.model_version for result in results}
        tags = {key: await predictor.tag(version) for key, version in versions.items()}
        predictions = [prediction_out(result, tags[result.model_version.id]) for result in results]
        return BatchOut(
            predictions=predictions,
            total_processed=len(predictions),
            anomalies_detected=sum(1 for p in predictions if p.is_anomaly),
            processing_time_ms=round((time.perf_counter() - started) * 1000, 3),
        )
