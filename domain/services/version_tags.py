"""The tags of model versions (``iforest:3``) by version id, kept for the life of the
process, so that a listing names its rows' versions without asking the registry on every
page.

Safe to keep without expiry: a tag is the model's name and the version's number, and
neither changes once stored (models are never renamed, versions never renumbered; a
version's status and traffic weight change, its tag does not). An id the registry does not
know (yet: a lagging replica) is not remembered and is asked for again next time. The
number of versions is small by nature; the cache is cleared if it ever outgrows its bound.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from domain.model import ModelStatus
from domain.services.naming import version_tag
from ports.repositories import UnitOfWork

DEFAULT_MAX_ENTRIES = 10_000


class VersionTags:
    """See the module docstring."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._tags: dict[uuid.UUID, str] = {}
        self._max_entries = max_entries

    async def of(self, work: UnitOfWork, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The tags of the versions ``ids`` that the registry knows (read through ``work``
        only when one of them is not known here yet)."""
        wanted = set(ids)
        if not wanted <= self._tags.keys():
            await self._load(work)
        return {version_id: self._tags[version_id] for version_id in wanted & self._tags.keys()}

    async def _load(self, work: UnitOfWork) -> None:
        names = {model.id: model.name for model in await work.models.list_models()}
        versions = await work.models.list_versions_by_status(ModelStatus)
        if len(self._tags) + len(versions) > self._max_entries:
            self._tags.clear()
        for version in versions[: self._max_entries]:
            name = names.get(version.model_id)
            if name is not None:
                self._tags[version.id] = version_tag(name, version.version)
