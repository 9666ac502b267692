"""Start-up with models: a bootstrap model when nothing is active, and ``/ready`` only once
the scorer is warm."""

from __future__ import annotations

import asyncio

from litestar.testing import TestClient

from adapters.memory import InMemoryBlobStore, InMemoryDatabase
from adapters.synthetic import generate_stream
from domain.model import ModelStatus
from domain.services import lifecycle
from domain.services.bootstrap_model import BOOTSTRAP_MODEL
from domain.services.registry import create_model, list_models, train_version
from domain.services.training_data import GivenTransactions
from entrypoints.bootstrap import Container, bootstrap_in_memory
from entrypoints.http import create_app


def _versions(container: Container) -> list[tuple[str, int, ModelStatus, int]]:
    overviews = asyncio.run(list_models(container.services))
    return [
        (o.model.name, v.version, v.status, v.traffic_weight) for o in overviews for v in o.versions
    ]


def test_with_no_model_the_service_trains_the_bootstrap_model_and_is_ready() -> None:
    container = bootstrap_in_memory()
    with TestClient(create_app(container)) as client:
        assert client.get("/ready").status_code == 200
        assert container.scorer.ready
    assert _versions(container) == [(BOOTSTRAP_MODEL, 1, ModelStatus.ACTIVE, 100)]


def test_a_restart_with_an_active_model_trains_nothing_new() -> None:
    database, blobs = InMemoryDatabase(), InMemoryBlobStore()
    for _ in range(2):
        container = bootstrap_in_memory(database, blobs=blobs)
        with TestClient(create_app(container)) as client:
            assert client.get("/ready").status_code == 200
    assert _versions(container) == [(BOOTSTRAP_MODEL, 1, ModelStatus.ACTIVE, 100)]


def test_without_bootstrapping_readiness_waits_for_an_activated_model() -> None:
    container = bootstrap_in_memory(bootstrap_model=False)
    with TestClient(create_app(container)) as client:
        response = client.get("/ready")
        assert response.status_code == 503
        assert "no model version is active" in response.json()["detail"]
        assert _versions(container) == []

        asyncio.run(_train_and_activate(container))
        assert client.get("/ready").status_code == 200
        assert container.scorer.ready


async def _train_and_activate(container: Container) -> None:
    services = container.services
    await create_model(services, "first", "iforest", actor=None)
    rows = GivenTransactions(generate_stream(300, seed=5).transactions)
    await train_version(services, "first", rows, {"n_estimators": 20}, actor=None)
    await lifecycle.activate(services, "first", 1, actor=None)


def test_a_tampered_artifact_keeps_the_service_unready() -> None:
    database, blobs = InMemoryDatabase(), InMemoryBlobStore()
    with TestClient(create_app(bootstrap_in_memory(database, blobs=blobs))) as client:
        assert client.get("/ready").status_code == 200
    (info,) = blobs.list("models/")
    blobs.put(info.key, blobs.get(info.key) + b"tampered")

    container = bootstrap_in_memory(database, blobs=blobs)
    with TestClient(create_app(container)) as client:
        response = client.get("/ready")
        assert response.status_code == 503
        assert "sha256" in response.json()["detail"]
        assert not container.scorer.ready
