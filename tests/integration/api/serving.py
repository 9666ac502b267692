"""A model that serves, for API tests: a small IsolationForest trained and activated
through the registry use cases (about a second)."""

from __future__ import annotations

from adapters.synthetic import generate_stream
from domain.model import ModelVersion
from domain.services import lifecycle
from domain.services.registry import create_model, train_version
from domain.services.training_data import GivenTransactions
from entrypoints.bootstrap import Container

SMALL_FOREST = {"n_estimators": 20}


async def serving_model(container: Container, name: str = "forest") -> ModelVersion:
    """Train ``name`` v1 on 300 synthetic transactions, activate it and load it."""
    services = container.services
    await create_model(services, name, "iforest", actor=None)
    rows = generate_stream(300, seed=5).transactions
    version = await train_version(services, name, GivenTransactions(rows), SMALL_FOREST, actor=None)
    await lifecycle.activate(services, name, version.version, actor=None)
    await container.scorer.refresh()
    return version
