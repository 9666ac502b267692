"""In-memory ``ModelRepository``: models and their versions."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from adapters.memory.store import Workspace, copied
from domain.errors import DuplicateModelVersion, ModelNotFound, ModelVersionNotFound
from domain.model import Model, ModelStatus, ModelVersion
from domain.values import lookup_key


class InMemoryModelRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def add_model(self, model: Model) -> None:
        self._workspace().models.insert(model.id, model)

    async def get_model(self, name: str) -> Model:
        return self._find_model(name)

    async def list_models(self) -> list[Model]:
        return copied(sorted(self._workspace().models.scan(), key=lambda m: m.name))

    async def add_version(self, version: ModelVersion) -> None:
        work = self._workspace()
        model = work.models.get(version.model_id)
        if model is None:
            raise ModelNotFound(str(version.model_id))
        if any(
            v.model_id == version.model_id and v.version == version.version
            for v in work.model_versions.scan()
        ):
            raise DuplicateModelVersion(model.name, version.version)
        work.model_versions.insert(version.id, version)

    async def get_version(self, model_name: str, version: int) -> ModelVersion:
        model = self._find_model(model_name)
        for row in self._workspace().model_versions.scan():
            if row.model_id == model.id and row.version == version:
                return copied([row])[0]
        raise ModelVersionNotFound(f"{model.name} v{version}")

    async def get_version_by_id(self, version_id: uuid.UUID) -> ModelVersion:
        version = self._workspace().model_versions.get(version_id)
        if version is None:
            raise ModelVersionNotFound(version_id)
        return version

    async def list_versions(self, model_name: str) -> list[ModelVersion]:
        model = self._find_model(model_name)
        rows = [v for v in self._workspace().model_versions.scan() if v.model_id == model.id]
        return copied(sorted(rows, key=lambda v: v.version))

    async def list_versions_by_status(self, statuses: Iterable[ModelStatus]) -> list[ModelVersion]:
        wanted = set(statuses)
        rows = [v for v in self._workspace().model_versions.scan() if v.status in wanted]
        return copied(sorted(rows, key=lambda v: (v.model_id, v.version)))

    async def next_version_number(self, model_id: uuid.UUID) -> int:
        versions = self._workspace().model_versions.scan()
        return max((v.version for v in versions if v.model_id == model_id), default=0) + 1

    async def update_version(self, version: ModelVersion) -> None:
        table = self._workspace().model_versions
        stored = table.get(version.id)
        if stored is None:
            raise ModelVersionNotFound(version.id)
        stored.status = version.status
        stored.traffic_weight = version.traffic_weight
        stored.artifact_uri = version.artifact_uri
        stored.artifact_sha256 = version.artifact_sha256
        stored.params = version.params
        stored.metrics = version.metrics
        stored.thresholds = version.thresholds
        stored.trained_at = version.trained_at
        table.replace(stored.id, stored)

    def _find_model(self, name: str) -> Model:
        wanted = lookup_key(name)
        for model in self._workspace().models.scan():
            if model.name == wanted:
                return copied([model])[0]
        raise ModelNotFound(name)

    async def lock_serving(self) -> None:
        work = self._workspace()
        await work.hold(work.store.serving_lock)
