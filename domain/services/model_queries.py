"""Read-side questions about the model registry, for the API and the CLI."""

from __future__ import annotations

from domain.services.registry import ModelOverview
from domain.services.services import Services


async def get_model(services: Services, name: str) -> ModelOverview:
    """The model called ``name`` with its versions (by number); ``ModelNotFound`` else."""
    async with services.uow() as work:
        model = await work.models.get_model(name)
        return ModelOverview(model, await work.models.list_versions(model.name))


async def next_version_number(services: Services, name: str) -> int:
    """The number the next trained version of ``name`` would get now."""
    async with services.uow() as work:
        model = await work.models.get_model(name)
        return await work.models.next_version_number(model.id)
