"""``/predict`` limits: a full scoring queue answers 503 with Retry-After (never an
unbounded backlog), and a batch over ``max_batch`` is refused with 422."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from domain.model import Role
from domain.services import lifecycle
from domain.services.registry import create_model, train_version
from domain.services.training_data import GivenTransactions
from entrypoints.bootstrap import bootstrap_in_memory
from entrypoints.http import create_app
from entrypoints.settings import PredictLimits
from ports.detector import ExplainedScores, FeatureRows
from tests.builders import a_transaction
from tests.clocks import ManualClock
from tests.detectors import LinearDetector, LinearFactory
from tests.integration.api.conftest import CHEAP_PASSWORDS, running, user_with_key

LIMITS = PredictLimits(max_batch=2, micro_batch=1, flush_ms=0, queue_size=1)


class HeldDetector:
    def __init__(self, inner: LinearDetector, gate: threading.Event) -> None:
        self._inner, self._gate = inner, gate

    def score(self, rows: FeatureRows) -> list[float]:
        self._gate.wait(10)
        return self._inner.score(rows)

    def score_explained(self, rows: FeatureRows) -> ExplainedScores:
        self._gate.wait(10)
        return self._inner.score_explained(rows)


class HeldFactory(LinearFactory):
    """Scores only while ``gate`` is open."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()

    def load(self, artifact: bytes) -> HeldDetector:  # type: ignore[override]
        return HeldDetector(super().load(artifact), self.gate)


@dataclasses.dataclass
class Limited:
    client: httpx.AsyncClient
    gate: threading.Event
    headers: dict[str, str]


@pytest.fixture
async def limited() -> AsyncIterator[Limited]:
    factory = HeldFactory()
    container = bootstrap_in_memory(
        clock=ManualClock(), passwords=CHEAP_PASSWORDS, detectors=factory, bootstrap_model=False
    )
    services = container.services
    _, key = await user_with_key(container, Role.SERVICE)
    await create_model(services, "line", "linear", actor=None)
    await train_version(
        services, "line", GivenTransactions([a_transaction() for _ in range(5)]), actor=None
    )
    await lifecycle.activate(services, "line", 1, actor=None)
    app = create_app(container, predict=LIMITS)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with (
        running(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield Limited(client, factory.gate, {"X-API-Key": key})
        factory.gate.set()


def transaction() -> dict[str, Any]:
    return {
        "hash": "0x" + secrets.token_hex(32),
        "from": "0x" + "12" * 20,
        "value": 1,
        "gas": 21000,
        "gasPrice": 1,
        "timestamp": 1704067200,
    }


async def test_a_full_scoring_queue_answers_503_with_retry_after(limited: Limited) -> None:
    limited.gate.clear()  # two workers hold one transaction each; the queue holds one more
    calls = [
        asyncio.create_task(
            limited.client.post("/api/v1/predict", json=transaction(), headers=limited.headers)
        )
        for _ in range(6)
    ]
    # Whatever the order of arrival, those beyond the held and queued ones are refused
    # at once, while the others wait for the gate.
    finished, waiting = await asyncio.wait(calls, timeout=1)
    refused = [call.result() for call in finished]
    limited.gate.set()
    answered = await asyncio.gather(*waiting)
    assert refused
    assert {r.status_code for r in refused} == {503}
    assert all(r.headers["retry-after"] for r in refused)
    assert all("queue is full" in r.json()["detail"] for r in refused)
    assert answered
    assert {r.status_code for r in answered} == {200}


async def test_a_batch_over_the_limit_is_refused_with_422(limited: Limited) -> None:
    response = await limited.client.post(
        "/api/v1/predict/batch",
        json={"transactions": [transaction() for _ in range(3)]},
        headers=limited.headers,
    )
    assert response.status_code == 422
    assert response.json()["field"] == "transactions"
    assert "at most 2" in response.json()["detail"]
