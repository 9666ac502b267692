"""What a traffic-weight change would do, before it is made: every active version's weight
now and after (``lifecycle.plan_weight``, the rule ``set_weight`` applies), so a person
can confirm the change knowing what it moves. Nothing is written."""

from __future__ import annotations

from dataclasses import dataclass

from domain.model import ModelStatus
from domain.services.lifecycle import plan_weight
from domain.services.services import Services


@dataclass(frozen=True, slots=True)
class WeightShift:
    model: str
    version: int
    before: int
    after: int
    target: bool
    """The version the change is asked for (the others are rescaled)."""


@dataclass(frozen=True, slots=True)
class WeightPreview:
    model: str
    version: int
    weight: int
    shifts: list[WeightShift]
    """Every active version of any model, by model name and version number."""


async def preview_weight(
    services: Services, model_name: str, version: int, weight: int
) -> WeightPreview:
    """The weights before and after giving ``model_name``:``version`` ``weight``% of
    traffic. Raises what ``set_weight`` would: ``ModelNotFound``/``ModelVersionNotFound``,
    ``InvalidInput`` for a weight outside 0..100, ``Conflict`` per ``lifecycle``'s rules.
    The weights may change before the change is made; ``set_weight`` rescales what it
    finds then."""
    async with services.uow() as work:
        model = await work.models.get_model(model_name)
        target = await work.models.get_version(model.name, version)
        active = {v.id: v for v in await work.models.list_versions_by_status([ModelStatus.ACTIVE])}
        names = {m.id: m.name for m in await work.models.list_models()}
    planned = plan_weight(active, target, model.name, weight)
    shifts = sorted(
        (
            WeightShift(
                model=names.get(v.model_id, str(v.model_id)),
                version=v.version,
                before=v.traffic_weight,
                after=planned[v.id],
                target=v.id == target.id,
            )
            for v in active.values()
        ),
        key=lambda shift: (shift.model, shift.version),
    )
    return WeightPreview(model.name, target.version, weight, shifts)
