"""Drift over HTTP: a serving version's recent scores on the model endpoints, and the
Prometheus gauges the background refresh keeps."""

from __future__ import annotations

import math
import re
import secrets
from datetime import timedelta
from typing import Any

import pytest

from domain.drift import NO_REFERENCE, PSI_EDGES
from domain.model import ModelStatus, Role
from domain.policies import severity_thresholds
from tests.builders import a_model_version, a_prediction, a_transaction
from tests.integration.api.conftest import Api
from tests.integration.api.serving import serving_model

COUNT = 40


def transaction() -> dict[str, Any]:
    return {
        "hash": "0x" + secrets.token_hex(32),
        "from": "0x" + secrets.token_hex(20),
        "to": "0x" + secrets.token_hex(20),
        "value": str(secrets.randbelow(10**18)),
        "gas": 21000,
        "gasPrice": "30000000000",
        "timestamp": "2024-03-01T00:00:00Z",
    }


async def predicted(api: Api, count: int = COUNT) -> list[dict[str, Any]]:
    response = await api.client.post(
        "/api/v1/predict/batch",
        json={"transactions": [transaction() for _ in range(count)]},
        headers=api.as_(Role.SERVICE),
    )
    assert response.status_code == 200, response.text
    predictions: list[dict[str, Any]] = response.json()["predictions"]
    return predictions


async def versions(api: Api, name: str = "forest") -> dict[int, dict[str, Any]]:
    response = await api.client.get(f"/api/v1/models/{name}/versions", headers=api.as_(Role.VIEWER))
    assert response.status_code == 200, response.text
    return {v["version"]: v for v in response.json()["versions"]}


async def test_a_serving_version_shows_the_drift_of_its_recent_predictions(api: Api) -> None:
    await serving_model(api.container)
    answers = await predicted(api)
    async with api.container.services.uow() as uow:  # a staged v2: never measured
        model = await uow.models.get_model("forest")
        await uow.models.add_version(a_model_version(model, 2, thresholds={}))
        await uow.commit()

    listed = await versions(api)

    assert listed[2]["drift"] is None
    drift = listed[1]["drift"]
    assert drift["window_hours"] == 24
    assert drift["scored"] == COUNT
    flagged = sum(1 for a in answers if a["anomaly_score"] >= 0.99)
    assert drift["flagged"] == flagged
    assert drift["flagged_share"] == flagged / COUNT
    assert math.isfinite(drift["psi"])
    assert drift["psi"] >= 0
    assert drift["reading"] in ("stable", "moderate", "significant")
    assert drift["note"] is None
    bins = drift["bins"]
    assert [b["upper"] for b in bins] == [*PSI_EDGES, 1.0]
    assert sum(b["count"] for b in bins) == COUNT
    assert math.isclose(sum(b["expected_share"] for b in bins), 1.0)
    one = await api.client.get("/api/v1/models/forest", headers=api.as_(Role.VIEWER))
    (shown,) = [v for v in one.json()["versions"] if v["version"] == 1]
    assert shown["drift"] == drift

    api.clock.advance(timedelta(hours=24, seconds=1))
    later = (await versions(api))[1]["drift"]
    assert (later["scored"], later["flagged_share"], later["psi"]) == (0, None, None)


async def test_a_version_without_a_reference_shows_no_psi_and_why(api: Api) -> None:
    served = await serving_model(api.container)
    floors = severity_thresholds([float(i) for i in range(100)], contamination=0.1)
    async with api.container.services.uow() as uow:
        model = await uow.models.get_model("forest")
        old = a_model_version(model, 2, status=ModelStatus.SHADOW, thresholds=floors)
        await uow.models.add_version(old)
        transactions = [a_transaction() for _ in range(4)]
        await uow.transactions.add_many(transactions)
        now = api.clock.now()
        await uow.predictions.add_many(
            [
                a_prediction(tx, old, score=score, served=False, created_at=now)
                for tx, score in zip(transactions, (1.0, 50.0, 95.0, 99.0), strict=True)
            ]
        )
        await uow.commit()

    drift = (await versions(api))[2]["drift"]

    assert served.version == 1
    assert (drift["scored"], drift["flagged"], drift["flagged_share"]) == (4, 2, 0.5)
    assert drift["psi"] is None
    assert drift["reading"] is None
    assert drift["bins"] is None
    assert drift["note"] == NO_REFERENCE


def gauge(text: str, name: str, model: str, version: int) -> float | None:
    pattern = rf'^{name}\{{model="{model}",version="{version}"\}} (\S+)$'
    found = re.search(pattern, text, re.MULTILINE)
    return None if found is None else float(found.group(1))


async def test_the_metrics_show_each_serving_versions_drift_after_a_refresh(api: Api) -> None:
    await serving_model(api.container)
    await predicted(api)
    monitor = api.app.state.drift
    before = (await api.client.get("/metrics")).text
    assert gauge(before, "chainwatch_model_scored_predictions", "forest", 1) is None

    await monitor.refresh()
    text = (await api.client.get("/metrics")).text

    assert gauge(text, "chainwatch_model_scored_predictions", "forest", 1) == COUNT
    (measured,) = monitor.latest
    assert gauge(text, "chainwatch_model_flagged_share", "forest", 1) == pytest.approx(
        measured.drift.flagged_share
    )
    assert measured.drift.psi is not None
    assert gauge(text, "chainwatch_model_score_psi", "forest", 1) == pytest.approx(
        measured.drift.psi
    )
    assert re.search(r"^chainwatch_drift_refreshed_timestamp_seconds \S+$", text, re.MULTILINE)
