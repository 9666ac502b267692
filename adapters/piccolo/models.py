"""``PiccoloModelRepository``: models and their versions (one aggregate)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from adapters.piccolo.errors import ForeignKeyViolation, UniqueViolation
from adapters.piccolo.session import Row, Session, SessionProvider
from adapters.piccolo.sql import (
    Params,
    as_instant,
    as_optional_instant,
    as_uuid,
    from_json,
    to_json,
)
from adapters.piccolo.statements import violates
from domain.errors import (
    DuplicateModel,
    DuplicateModelVersion,
    DuplicateRecord,
    ModelNotFound,
    ModelVersionNotFound,
)
from domain.model import Model, ModelStatus, ModelVersion

_MODEL = "id, name, algorithm, description, created_at"
_VERSION_COLUMNS = (
    "id",
    "model_id",
    "version",
    "status",
    "traffic_weight",
    "artifact_uri",
    "artifact_sha256",
    "feature_version",
    "params",
    "metrics",
    "thresholds",
    "trained_at",
    "created_at",
)
_VERSION = ", ".join(f"v.{column}" for column in _VERSION_COLUMNS)


def _model(row: Row) -> Model:
    return Model(
        id=as_uuid(row["id"]),
        name=row["name"],
        algorithm=row["algorithm"],
        description=row["description"],
        created_at=as_instant(row["created_at"]),
    )


def _version(row: Row) -> ModelVersion:
    return ModelVersion(
        id=as_uuid(row["id"]),
        model_id=as_uuid(row["model_id"]),
        version=row["version"],
        status=row["status"],
        traffic_weight=row["traffic_weight"],
        artifact_uri=row["artifact_uri"],
        artifact_sha256=row["artifact_sha256"],
        feature_version=row["feature_version"],
        params=from_json(row["params"]),
        metrics=from_json(row["metrics"]),
        thresholds=from_json(row["thresholds"]),
        trained_at=as_optional_instant(row["trained_at"]),
        created_at=as_instant(row["created_at"]),
    )


def _mutable(params: Params, version: ModelVersion) -> dict[str, str]:
    """Placeholders of the fields ``update_version`` writes, by column."""
    return {
        "status": params.add(version.status.value),
        "traffic_weight": params.add(version.traffic_weight),
        "artifact_uri": params.add(version.artifact_uri),
        "artifact_sha256": params.add(version.artifact_sha256),
        "params": params.add(to_json(version.params)),
        "metrics": params.add(to_json(version.metrics)),
        "thresholds": params.add(to_json(version.thresholds)),
        "trained_at": params.instant(version.trained_at),
    }


# Any constant unique to this lock among the advisory locks of the database.
SERVING_LOCK_KEY = 0x636877_5345_5256  # "chw" "SERV"


class PiccoloModelRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add_model(self, model: Model) -> None:
        session = await self._session()
        params = Params(session.dialect)
        values = [
            params.uuid(model.id),
            params.add(model.name),
            params.add(model.algorithm),
            params.add(model.description),
            params.instant(model.created_at),
        ]
        try:
            async with session.write():
                await session.execute(
                    f"INSERT INTO models ({_MODEL}) VALUES ({', '.join(values)})", *params.values
                )
        except UniqueViolation as error:
            if violates(error, postgres="models_name_key", sqlite="models.name"):
                raise DuplicateModel(model.name) from None
            raise DuplicateRecord("model", model.id) from None

    async def get_model(self, name: str) -> Model:
        session = await self._session()
        row = await session.fetchrow(
            f"SELECT {_MODEL} FROM models WHERE name = $1", name.strip().lower()
        )
        if row is None:
            raise ModelNotFound(name)
        return _model(row)

    async def list_models(self) -> list[Model]:
        session = await self._session()
        return [
            _model(row) for row in await session.fetch(f"SELECT {_MODEL} FROM models ORDER BY name")
        ]

    async def add_version(self, version: ModelVersion) -> None:
        session = await self._session()
        params = Params(session.dialect)
        fixed = [
            params.uuid(version.id),
            params.uuid(version.model_id),
            params.add(version.version),
        ]
        mutable = _mutable(params, version)
        fixed_after = [params.add(version.feature_version), params.instant(version.created_at)]
        columns = ["id", "model_id", "version", *mutable, "feature_version", "created_at"]
        values = [*fixed, *mutable.values(), *fixed_after]
        try:
            async with session.write():
                await session.execute(
                    f"INSERT INTO model_versions ({', '.join(columns)}) "
                    f"VALUES ({', '.join(values)})",
                    *params.values,
                )
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
        rows = await session.fetch(
            f"SELECT m.name AS model_name, {_VERSION} FROM models AS m "
            "LEFT JOIN model_versions AS v ON v.model_id = m.id AND v.version = $2 "
            "WHERE m.name = $1",
            model_name.strip().lower(),
            version,
        )
        if not rows:
            raise ModelNotFound(model_name)
        if rows[0]["id"] is None:
            raise ModelVersionNotFound(f"{rows[0]['model_name']} v{version}")
        return _version(rows[0])

    async def get_version_by_id(self, version_id: uuid.UUID) -> ModelVersion:
        session = await self._session()
        params = Params(session.dialect)
        row = await session.fetchrow(
            f"SELECT {_VERSION} FROM model_versions AS v WHERE v.id = {params.uuid(version_id)}",
            *params.values,
        )
        if row is None:
            raise ModelVersionNotFound(version_id)
        return _version(row)

    async def list_versions(self, model_name: str) -> list[ModelVersion]:
        session = await self._session()
        rows = await session.fetch(
            f"SELECT m.id AS found_model, {_VERSION} FROM models AS m "
            "LEFT JOIN model_versions AS v ON v.model_id = m.id "
            "WHERE m.name = $1 ORDER BY v.version",
            model_name.strip().lower(),
        )
        if not rows:
            raise ModelNotFound(model_name)
        return [_version(row) for row in rows if row["id"] is not None]

    async def list_versions_by_status(self, statuses: Iterable[ModelStatus]) -> list[ModelVersion]:
        wanted = sorted({status.value for status in statuses})
        if not wanted:
            return []
        session = await self._session()
        params = Params(session.dialect)
        rows = await session.fetch(
            f"SELECT {_VERSION} FROM model_versions AS v WHERE {params.any_of('v.status', wanted)}"
            " ORDER BY v.model_id, v.version",
            *params.values,
        )
        return [_version(row) for row in rows]

    async def next_version_number(self, model_id: uuid.UUID) -> int:
        session = await self._session()
        params = Params(session.dialect)
        row = await session.fetchrow(
            "SELECT COALESCE(MAX(version), 0) AS highest FROM model_versions "
            f"WHERE model_id = {params.uuid(model_id)}",
            *params.values,
        )
        return (0 if row is None else int(row["highest"])) + 1

    async def update_version(self, version: ModelVersion) -> None:
        session = await self._session()
        params = Params(session.dialect)
        assignments = ", ".join(f"{c} = {p}" for c, p in _mutable(params, version).items())
        sql = f"UPDATE model_versions SET {assignments} WHERE id = {params.uuid(version.id)}"
        async with session.write(savepoint=False):
            changed = await session.execute(sql, *params.values)
        if changed == 0:
            raise ModelVersionNotFound(version.id)

    async def _model_name(self, session: Session, model_id: uuid.UUID) -> str:
        params = Params(session.dialect)
        row = await session.fetchrow(
            f"SELECT name FROM models WHERE id = {params.uuid(model_id)}", *params.values
        )
        return str(model_id) if row is None else str(row["name"])

    async def lock_serving(self) -> None:
        session = await self._session()
        # Begins the write transaction: on SQLite that is BEGIN IMMEDIATE, which already
        # excludes every other writer until commit; PostgreSQL takes an advisory lock
        # that its transaction releases on commit or rollback.
        async with session.write(savepoint=False):
            if session.dialect == "postgres":
                await session.execute("SELECT pg_advisory_xact_lock($1)", SERVING_LOCK_KEY)
