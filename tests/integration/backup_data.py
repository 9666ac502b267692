"""A small, varied database for the backup tests, written through the repositories."""

from __future__ import annotations

from adapters.memory import InMemoryBlobStore
from adapters.piccolo import DatabaseConfig, PiccoloDatabase
from domain.model import ModelStatus, ModelVersion
from domain.services.artifacts import artifact_uri_for, store_artifact
from ports.blobs import BlobStore
from tests.builders import (
    a_metric,
    a_model,
    a_model_version,
    a_transaction,
    an_anomaly,
    an_api_key,
    an_audit_entry,
    at,
    stored_model_version,
    stored_predictions,
    stored_transactions,
    stored_user,
)

TRANSACTIONS = 120
ANOMALIES = 15
# ``fill`` records no artifact sha256, so its databases reference no model artifact: their
# backups and restores need a model store that holds nothing.
NO_MODELS = InMemoryBlobStore()


async def fill(database: PiccoloDatabase) -> None:
    """A model version, ``TRANSACTIONS`` + 1 transactions (one worth 2**256-1 wei) with
    predictions, anomalies, a user with an API key, audit entries and metrics."""
    uow = database.uow
    version = await stored_model_version(uow, params={"n_estimators": 100})
    predictions = await stored_predictions(uow, version, TRANSACTIONS, score=0.25)
    await stored_transactions(uow, a_transaction(value=2**256 - 1, gas_price=1))
    user = await stored_user(uow)
    async with uow() as work:
        await work.anomalies.add_many(
            [an_anomaly(p, detected_at=at(i)) for i, p in enumerate(predictions[:ANOMALIES])]
        )
        await work.api_keys.add(an_api_key(user))
        for i in range(5):
            await work.audit.append(an_audit_entry(user_id=user.id, timestamp=at(i)))
        await work.metrics.append_many([a_metric(value=i / 3, recorded_at=at(i)) for i in range(5)])
        await work.commit()


async def migrated_and_filled(config: DatabaseConfig) -> None:
    """Apply every migration to the (empty) database of ``config``, then ``fill`` it."""
    database = PiccoloDatabase(config)
    await database.start()
    try:
        await database.migrate()
        await fill(database)
    finally:
        await database.stop()


async def add_active_model(
    database: PiccoloDatabase, models: BlobStore, artifact: bytes, name: str = "served"
) -> ModelVersion:
    """A model with an active version whose ``artifact`` is stored (by content) in
    ``models``: a backup of ``database`` must copy it."""
    model = a_model(name=name)
    key, digest = store_artifact(models, artifact)
    version = a_model_version(
        model,
        status=ModelStatus.ACTIVE,
        traffic_weight=100,
        artifact_uri=artifact_uri_for(models, key),
        artifact_sha256=digest,
    )
    async with database.uow() as uow:
        await uow.models.add_model(model)
        await uow.models.add_version(version)
        await uow.commit()
    return version


async def migrated_filled_and_served(
    config: DatabaseConfig, models: BlobStore, artifact: bytes
) -> None:
    """``migrated_and_filled`` plus ``add_active_model``."""
    database = PiccoloDatabase(config)
    await database.start()
    try:
        await database.migrate()
        await fill(database)
        await add_active_model(database, models, artifact)
    finally:
        await database.stop()
