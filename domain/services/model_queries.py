"""Read-side questions about the model registry, for the API and the CLI."""

from __future__ import annotations

from domain.services.registry import ModelOverview
from domain.services.services import Services


async def get_model(services: Services, name: str) -> ModelOverview:
    """The model called ``name`` with its versions (by number); ``ModelNotFound`` else."""
    async with services.uow() as work:
        model = await work.models.get_model(name)
        return ModelOverview(model, await work.models.list_versions(model.name))
