"""``PiccoloModelRepository``: models and their versions (one aggregate)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from adapters.piccolo.schema.codecs import MODEL_VERSIONS, MODELS
from adapters.piccolo.sql.errors import ForeignKeyViolation, UniqueViolation
from adapters.piccolo.sql.session import Session, SessionProvider
from adapters.piccolo.sql.statements import any_of, insert, sql, update, violates
from domain.errors import (
    DuplicateModel,
    DuplicateModelVersion,
    DuplicateRecord,
    ModelNotFound,
    ModelVersionNotFound,
)
from domain.model import Model, ModelStatus, ModelVersion
from domain.values import lookup_key

_MODEL = MODELS.select()
_VERSION = MODEL_VERSIONS.select("v")
# What ``update_version`` writes; id, model, number, feature set and creation are fixed.
_MUTABLE = (
    "status",
    "traffic_weight",
    "artifact_uri",
    "artifact_sha256",
    "params",
    "metrics",
    "thresholds",
    "trained_at",
)

# Any constant unique to this lock among the advisory locks of the database.
SERVING_LOCK_KEY = 0x636877_5345_5256  # "chw" "SERV"


class PiccoloModelRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add_model(self, model: Model) -> None:
        session = await self._session()
        try:
            async with session.write():
                await insert(session, MODELS, [model])
        except UniqueViolation as error:
            if violates(error, postgres="models_name_key", sqlite="models.name"):
                raise DuplicateModel(model.name) from None
            raise DuplicateRecord("model", model.id) from None

    async def get_model(self, name: str) -> Model:
        session = await self._session()
        row = await session.fetchrow(
            sql(f"SELECT {_MODEL} FROM models WHERE name = {{}}", lookup_key(name))
        )
        if row is None:
            raise ModelNotFound(name)
        return MODELS.from_row(row)

    async def list_models(self) -> list[Model]:
        session = await self._session()
        rows = await session.fetch(sql(f"SELECT {_MODEL} FROM models ORDER BY name"))
        return [MODELS.from_row(row) for row in rows]

    async def add_version(self, version: ModelVersion) -> None:
        session = await self._session()
        try:
            async with session.write():
                await insert(session, MODEL_VERSIONS, [version])
        except ForeignKeyViolation:
            raise ModelNotFound(str(version.model_id)) from None
        except UniqueViolation as error:
            if violates(
                error,
                postgres="model_versions_model_version_key",
                sqlite="model_versions.model_id, model_versions.version",
            ):
                name = await self._model_name(session, version.model_id)
                raise DuplicateModelVersion(name, version.version) from None
            raise DuplicateRecord("model version", version.id) from None

    async def get_version(self, model_name: str, version: int) -> ModelVersion:
        session = await self._session()
        # One round trip tells "no such model" from "no such version" (a LEFT JOIN).
        rows = await session.fetch(
            sql(
                f"SELECT m.name AS model_name, {_VERSION} FROM models AS m "
                "LEFT JOIN model_versions AS v ON v.model_id = m.id AND v.version = {} "
                "WHERE m.name = {}",
                version,
                lookup_key(model_name),
            )
        )
        if not rows:
            raise ModelNotFound(model_name)
        if rows[0]["id"] is None:
            raise ModelVersionNotFound(f"{rows[0]['model_name']} v{version}")
        return MODEL_VERSIONS.from_row(rows[0])

    async def get_version_by_id(self, version_id: uuid.UUID) -> ModelVersion:
        session = await self._session()
        row = await session.fetchrow(
            sql(
                f"SELECT {_VERSION} FROM model_versions AS v WHERE v.id = {{}}",
                MODEL_VERSIONS.encode("id", version_id, session.dialect),
            )
        )
        if row is None:
            raise ModelVersionNotFound(version_id)
        return MODEL_VERSIONS.from_row(row)

    async def list_versions(self, model_name: str) -> list[ModelVersion]:
        session = await self._session()
        rows = await session.fetch(
            sql(
                f"SELECT m.id AS found_model, {_VERSION} FROM models AS m "
                "LEFT JOIN model_versions AS v ON v.model_id = m.id "
                "WHERE m.name = {} ORDER BY v.version",
                lookup_key(model_name),
            )
        )
        if not rows:
            raise ModelNotFound(model_name)
        return [MODEL_VERSIONS.from_row(row) for row in rows if row["id"] is not None]

    async def list_versions_by_status(self, statuses: Iterable[ModelStatus]) -> list[ModelVersion]:
        wanted = sorted({status.value for status in statuses})
        if not wanted:
            return []
        session = await self._session()
        rows = await session.fetch(
            sql(
                f"SELECT {_VERSION} FROM model_versions AS v WHERE {{}} "
                "ORDER BY v.model_id, v.version",
                any_of("v.status", wanted, session.dialect),
            )
        )
        return [MODEL_VERSIONS.from_row(row) for row in rows]

    async def next_version_number(self, model_id: uuid.UUID) -> int:
        session = await self._session()
        row = await session.fetchrow(
            sql(
                "SELECT COALESCE(MAX(version), 0) AS highest FROM model_versions "
                "WHERE model_id = {}",
                MODEL_VERSIONS.encode("model_id", model_id, session.dialect),
            )
        )
        return (0 if row is None else int(row["highest"])) + 1

    async def update_version(self, version: ModelVersion) -> None:
        session = await self._session()
        if await update(session, MODEL_VERSIONS, version, _MUTABLE) == 0:
            raise ModelVersionNotFound(version.id)

    async def _model_name(self, session: Session, model_id: uuid.UUID) -> str:
        row = await session.fetchrow(
            sql(
                "SELECT name FROM models WHERE id = {}",
                MODELS.encode("id", model_id, session.dialect),
            )
        )
        return str(model_id) if row is None else str(row["name"])

    async def lock_serving(self) -> None:
        session = await self._session()
        # Begins the write transaction: on SQLite that is BEGIN IMMEDIATE, which already
        # excludes every other writer until commit; PostgreSQL takes an advisory lock
        # that its transaction releases on commit or rollback.
        async with session.write(savepoint=False):
            if session.dialect == "postgres":
                await session.execute(sql("SELECT pg_advisory_xact_lock({})", SERVING_LOCK_KEY))
