"""Test data built through the domain (valid entities with unique keys, overridable per
test), plus a helper that walks keyset pages."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from domain.model import (
    Anomaly,
    APIKey,
    AuditLog,
    Label,
    LabelKind,
    Model,
    ModelStatus,
    ModelVersion,
    Outcome,
    Prediction,
    Role,
    Severity,
    SystemMetric,
    Transaction,
    User,
)
from domain.pagination import Page, PageRequest
from ports import UnitOfWorkFactory

T = TypeVar("T")

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """An instant ``seconds`` after ``T0``."""
    return T0 + timedelta(seconds=seconds)


def random_hash() -> str:
    return "0x" + secrets.token_hex(32)


def random_address() -> str:
    return "0x" + secrets.token_hex(20)


def unique_name(prefix: str = "n") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def a_transaction(**overrides: Any) -> Transaction:
    fields: dict[str, Any] = {
        "hash": random_hash(),
        "from_address": random_address(),
        "to_address": random_address(),
        "value": 10**18,
        "gas": 21_000,
        "gas_price": 30 * 10**9,
        "timestamp": T0,
        "chain": "ethereum",
        "block_number": 19_000_000,
        "nonce": 7,
        "gas_used": 21_000,
        "input_size": 0,
        "ingested_at": at(60),
    }
    fields.update(overrides)
    return Transaction(**fields)


def a_model(**overrides: Any) -> Model:
    fields: dict[str, Any] = {
        "name": unique_name("model"),
        "algorithm": "iforest",
        "description": "an isolation forest",
        "created_at": T0,
    }
    fields.update(overrides)
    return Model(**fields)


def a_model_version(model: Model, version: int = 1, **overrides: Any) -> ModelVersion:
    fields: dict[str, Any] = {
        "model_id": model.id,
        "version": version,
        "status": ModelStatus.STAGED,
        "artifact_uri": f"file:///models/{model.name}/{version}.joblib",
        "created_at": T0,
    }
    fields.update(overrides)
    return ModelVersion(**fields)


def a_prediction(tx: Transaction, version: ModelVersion, **overrides: Any) -> Prediction:
    fields: dict[str, Any] = {
        "transaction_hash": tx.hash,
        "model_version_id": version.id,
        "score": 0.75,
        "is_anomaly": True,
        "served": True,
        "latency_ms": 1.25,
        "created_at": T0,
    }
    fields.update(overrides)
    return Prediction(**fields)


def an_anomaly(prediction: Prediction, **overrides: Any) -> Anomaly:
    fields: dict[str, Any] = {
        "transaction_hash": prediction.transaction_hash,
        "prediction_id": prediction.id,
        "model_version_id": prediction.model_version_id,
        "severity": Severity.HIGH,
        "score": prediction.score,
        "detected_at": T0,
    }
    fields.update(overrides)
    return Anomaly(**fields)


def a_label(tx: Transaction, kind: LabelKind = LabelKind.FRAUD, **overrides: Any) -> Label:
    fields: dict[str, Any] = {
        "transaction_hash": tx.hash,
        "kind": kind,
        "source": "analyst-review",
        "note": "seen in a phishing report",
        "created_at": T0,
    }
    fields.update(overrides)
    return Label(**fields)


def a_user(**overrides: Any) -> User:
    fields: dict[str, Any] = {
        "username": unique_name("user"),
        "role": Role.ANALYST,
        "email": "analyst@example.org",
        "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "created_at": T0,
    }
    fields.update(overrides)
    return User(**fields)


def an_api_key(user: User, **overrides: Any) -> APIKey:
    fields: dict[str, Any] = {
        "user_id": user.id,
        "prefix": "cw_" + secrets.token_hex(4),
        "digest": secrets.token_hex(32),
        "name": "ci key",
        "scopes": ("transactions:read", "predict"),
        "created_at": T0,
    }
    fields.update(overrides)
    return APIKey(**fields)


def an_audit_entry(**overrides: Any) -> AuditLog:
    fields: dict[str, Any] = {
        "action": "transactions.ingest",
        "resource": "/api/v1/transactions",
        "outcome": Outcome.SUCCESS,
        "ip": "203.0.113.9",
        "details": {"count": 3},
        "timestamp": T0,
    }
    fields.update(overrides)
    return AuditLog(**fields)


def a_metric(**overrides: Any) -> SystemMetric:
    fields: dict[str, Any] = {
        "name": "ingest.rows_per_second",
        "value": 1234.5,
        "labels": {"node": "a"},
        "recorded_at": T0,
    }
    fields.update(overrides)
    return SystemMetric(**fields)


async def stored_model_version(uow_factory: UnitOfWorkFactory, **overrides: Any) -> ModelVersion:
    """A committed model with one version (predictions and anomalies refer to it)."""
    model = a_model()
    version = a_model_version(model, **overrides)
    async with uow_factory() as uow:
        await uow.models.add_model(model)
        await uow.models.add_version(version)
        await uow.commit()
    return version


async def stored_transactions(
    uow_factory: UnitOfWorkFactory, *transactions: Transaction
) -> list[Transaction]:
    async with uow_factory() as uow:
        await uow.transactions.add_many(transactions)
        await uow.commit()
    return list(transactions)


async def stored_user(uow_factory: UnitOfWorkFactory, **overrides: Any) -> User:
    user = a_user(**overrides)
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


async def stored_predictions(
    uow_factory: UnitOfWorkFactory, version: ModelVersion, count: int, **overrides: Any
) -> list[Prediction]:
    """``count`` committed transactions with one prediction each by ``version``."""
    transactions = [a_transaction() for _ in range(count)]
    predictions = [a_prediction(tx, version, **overrides) for tx in transactions]
    async with uow_factory() as uow:
        await uow.transactions.add_many(transactions)
        await uow.predictions.add_many(predictions)
        await uow.commit()
    return predictions


async def collect_pages(
    fetch: Callable[[PageRequest], Awaitable[Page[T]]], limit: int, max_pages: int = 1000
) -> list[list[T]]:
    """Follow cursors from the first page to the last; every page but the last is full."""
    pages: list[list[T]] = []
    request = PageRequest(limit)
    for _ in range(max_pages):
        page = await fetch(request)
        pages.append(page.items)
        if page.next_cursor is None:
            return pages
        assert len(page.items) == limit, "a page with a next cursor must be full"
        request = PageRequest.from_token(limit, page.next_cursor)
    raise AssertionError(f"pagination did not end within {max_pages} pages")
