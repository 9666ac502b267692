"""A weight change previewed before it is made: the same weights ``set_weight`` then
stores, for every active version of every model, and the same refusals; nothing written."""

from __future__ import annotations

import pytest

from domain.errors import Conflict, InvalidInput, ModelVersionNotFound
from domain.services import lifecycle
from domain.services.weight_preview import WeightShift, preview_weight
from tests.unit.test_model_lifecycle import _activate, _registry


async def test_the_preview_shows_every_active_version_now_and_as_the_change_stores_it() -> None:
    reg = await _registry({"a": 2, "b": 1})
    await _activate(reg, "a", 1)
    await _activate(reg, "b", 1, 40)
    await _activate(reg, "a", 2, 0)  # a standby: it stays at 0
    before = await reg.state()

    preview = await preview_weight(reg.services, "B", 1, 70)

    assert (preview.model, preview.version, preview.weight) == ("b", 1, 70)
    assert preview.shifts == [
        WeightShift("a", 1, 60, 30, target=False),
        WeightShift("a", 2, 0, 0, target=False),
        WeightShift("b", 1, 40, 70, target=True),
    ]
    assert await reg.state() == before
    await lifecycle.set_weight(reg.services, "b", 1, 70, actor=None)
    assert await reg.served() == {(s.model, s.version): s.after for s in preview.shifts if s.after}


async def test_the_preview_refuses_what_the_change_would_refuse() -> None:
    reg = await _registry({"a": 2})
    await _activate(reg, "a", 1)
    with pytest.raises(Conflict, match="no other active version can take the remaining 50%"):
        await preview_weight(reg.services, "a", 1, 50)
    with pytest.raises(Conflict, match="staged, not active"):
        await preview_weight(reg.services, "a", 2, 50)
    with pytest.raises(InvalidInput, match="from 0 to 100"):
        await preview_weight(reg.services, "a", 1, 101)
    with pytest.raises(ModelVersionNotFound):
        await preview_weight(reg.services, "a", 9, 50)
