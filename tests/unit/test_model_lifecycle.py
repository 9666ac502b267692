"""Serving lifecycle: activation, A/B weights, standbys, shadow, retirement and rollback."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.memory import InMemoryDatabase
from domain.errors import Conflict, DomainError, InvalidInput, ModelVersionNotFound, Unavailable
from domain.model import AuditLog, Model, ModelStatus, ModelVersion
from domain.pagination import PageRequest
from domain.services import Services, lifecycle
from ports import AuditFilter, UnitOfWorkFactory
from tests.builders import a_model, a_model_version
from tests.clocks import ManualClock
from tests.services import services_for

SHA = "cd" * 32
CLOCK = ManualClock()


@dataclass
class Registry:
    services: Services
    models: list[Model]

    @property
    def uow(self) -> UnitOfWorkFactory:
        return self.services.uow

    async def state(self) -> dict[tuple[str, int], tuple[ModelStatus, int]]:
        """(model, version) -> (status, weight) of every version."""
        result: dict[tuple[str, int], tuple[ModelStatus, int]] = {}
        async with self.uow() as work:
            for model in self.models:
                for v in await work.models.list_versions(model.name):
                    result[(model.name, v.version)] = (v.status, v.traffic_weight)
        return result

    async def served(self) -> dict[tuple[str, int], int]:
        """Versions with traffic, and their weights."""
        return {key: w for key, (s, w) in (await self.state()).items() if w > 0}

    async def audit(self, action: str) -> list[AuditLog]:
        async with self.uow() as work:
            return (await work.audit.query(AuditFilter(action=action), PageRequest())).items


async def _registry(versions: dict[str, int], *, with_artifacts: bool = True) -> Registry:
    """Models named as the keys, each with that many STAGED versions."""
    uow = InMemoryDatabase().uow
    models = [a_model(name=name) for name in versions]
    async with uow() as work:
        for model in models:
            await work.models.add_model(model)
            for number in range(1, versions[model.name] + 1):
                await work.models.add_version(
                    a_model_version(model, number, artifact_sha256=SHA if with_artifacts else None)
                )
        await work.commit()
    return Registry(services_for(uow, CLOCK), models)


async def _activate(reg: Registry, name: str, version: int, weight: int = 100) -> ModelVersion:
    return await lifecycle.activate(reg.services, name, version, weight, actor=None)


async def test_the_first_activated_version_takes_all_traffic() -> None:
    reg = await _registry({"m": 2})
    activated = await _activate(reg, "m", 1)
    assert (activated.status, activated.traffic_weight) == (ModelStatus.ACTIVE, 100)
    assert await reg.served() == {("m", 1): 100}


async def test_activating_with_a_weight_rescales_the_others_to_share_the_rest() -> None:
    reg = await _registry({"m": 3})
    await _activate(reg, "m", 1)
    await _activate(reg, "m", 2, 30)
    assert await reg.served() == {("m", 1): 70, ("m", 2): 30}
    await _activate(reg, "m", 3, 40)
    assert await reg.served() == {("m", 1): 42, ("m", 2): 18, ("m", 3): 40}


async def test_a_version_left_at_zero_stays_active_as_an_unserved_standby() -> None:
    reg = await _registry({"m": 2})
    await _activate(reg, "m", 1)
    await _activate(reg, "m", 2)
    assert await reg.state() == {
        ("m", 1): (ModelStatus.ACTIVE, 0),
        ("m", 2): (ModelStatus.ACTIVE, 100),
    }


async def test_weights_span_models_and_always_sum_to_100() -> None:
    reg = await _registry({"a": 1, "b": 1})
    await _activate(reg, "a", 1)
    await _activate(reg, "b", 1, 25)
    assert await reg.served() == {("a", 1): 75, ("b", 1): 25}


async def test_set_weight_moves_traffic_between_active_versions() -> None:
    reg = await _registry({"m": 2})
    await _activate(reg, "m", 1)
    await _activate(reg, "m", 2, 10)
    await lifecycle.set_weight(reg.services, "m", 2, 60, actor=None)
    assert await reg.served() == {("m", 1): 40, ("m", 2): 60}
    (entry,) = await reg.audit("model_version.set_weight")
    assert entry.resource == "models/m/versions/2"


async def test_a_standby_takes_traffic_again_when_given_some() -> None:
    reg = await _registry({"m": 2})
    await _activate(reg, "m", 1)
    await _activate(reg, "m", 2)
    await lifecycle.set_weight(reg.services, "m", 2, 80, actor=None)
    assert await reg.served() == {("m", 1): 20, ("m", 2): 80}


async def test_the_only_active_version_cannot_give_traffic_away() -> None:
    reg = await _registry({"m": 2})
    await _activate(reg, "m", 1)
    for weight in (0, 50):
        with pytest.raises(Conflict):
            await lifecycle.set_weight(reg.services, "m", 1, weight, actor=None)
    assert await reg.served() == {("m", 1): 100}


async def test_activating_at_zero_makes_a_standby_only_next_to_a_served_version() -> None:
    reg = await _registry({"m": 2})
    with pytest.raises(Conflict, match="no version serving"):
        await _activate(reg, "m", 1, 0)
    await _activate(reg, "m", 1, 100)
    await _activate(reg, "m", 2, 0)
    assert await reg.state() == {
        ("m", 1): (ModelStatus.ACTIVE, 100),
        ("m", 2): (ModelStatus.ACTIVE, 0),
    }


async def test_set_weight_on_a_version_that_is_not_active_is_refused() -> None:
    reg = await _registry({"m": 1})
    with pytest.raises(Conflict, match="activate it"):
        await lifecycle.set_weight(reg.services, "m", 1, 50, actor=None)


@pytest.mark.parametrize("weight", [-1, 101, True])
async def test_a_weight_outside_0_to_100_is_invalid_input(weight: int) -> None:
    reg = await _registry({"m": 1})
    with pytest.raises(InvalidInput) as refused:
        await _activate(reg, "m", 1, weight)
    assert refused.value.field == "traffic_weight"


async def test_a_version_without_an_artifact_cannot_be_activated_or_shadowed() -> None:
    reg = await _registry({"m": 1}, with_artifacts=False)
    with pytest.raises(Conflict, match="no recorded artifact"):
        await _activate(reg, "m", 1)
    with pytest.raises(Conflict, match="no recorded artifact"):
        await lifecycle.shadow(reg.services, "m", 1, actor=None)


async def test_an_unknown_version_raises_not_found() -> None:
    reg = await _registry({"m": 1})
    with pytest.raises(ModelVersionNotFound):
        await _activate(reg, "m", 9)


@pytest.mark.parametrize(
    ("leave", "status"),
    [
        (lifecycle.shadow, ModelStatus.SHADOW),
        (lifecycle.retire, ModelStatus.RETIRED),
        (lifecycle.stage, ModelStatus.STAGED),
    ],
)
async def test_leaving_service_hands_the_traffic_to_the_other_active_versions(
    leave: lifecycle.LeaveService, status: ModelStatus
) -> None:
    reg = await _registry({"m": 3})
    await _activate(reg, "m", 1)
    await _activate(reg, "m", 2, 50)
    await _activate(reg, "m", 3, 20)  # m1 40, m2 40, m3 20
    await leave(reg.services, "m", 3, actor=None)
    state = await reg.state()
    assert state[("m", 3)] == (status, 0)
    assert await reg.served() == {("m", 1): 50, ("m", 2): 50}


@pytest.mark.parametrize("leave", [lifecycle.shadow, lifecycle.retire, lifecycle.stage])
async def test_the_last_served_version_cannot_leave_service(
    leave: lifecycle.LeaveService,
) -> None:
    reg = await _registry({"m": 1})
    await _activate(reg, "m", 1)
    with pytest.raises(Conflict, match="only version serving"):
        await leave(reg.services, "m", 1, actor=None)
    assert await reg.served() == {("m", 1): 100}


async def test_retiring_the_served_version_hands_its_traffic_to_the_standby() -> None:
    reg = await _registry({"m": 2})
    await _activate(reg, "m", 1)
    await _activate(reg, "m", 2)
    await lifecycle.retire(reg.services, "m", 2, actor=None)
    assert await reg.served() == {("m", 1): 100}


async def test_a_shadow_version_takes_no_traffic() -> None:
    reg = await _registry({"m": 2})
    await _activate(reg, "m", 1)
    shadowed = await lifecycle.shadow(reg.services, "m", 2, actor=None)
    assert (shadowed.status, shadowed.traffic_weight) == (ModelStatus.SHADOW, 0)
    assert await reg.served() == {("m", 1): 100}


async def test_rollback_retires_the_current_version_and_restores_the_previous_at_100() -> None:
    reg = await _registry({"m": 3, "other": 1})
    await _activate(reg, "m", 1)
    await _activate(reg, "m", 2)  # m1 becomes a standby
    await _activate(reg, "other", 1, 30)

    outcome = await lifecycle.rollback(reg.services, "m", actor=None)

    assert (outcome.retired.version, outcome.restored.version) == (2, 1)
    state = await reg.state()
    assert state[("m", 2)] == (ModelStatus.RETIRED, 0)
    assert state[("m", 1)] == (ModelStatus.ACTIVE, 100)
    assert state[("other", 1)] == (ModelStatus.ACTIVE, 0)
    (entry,) = await reg.audit("model_version.rollback")
    assert (entry.details["retired_version"], entry.details["restored_version"]) == (2, 1)


async def test_rollback_goes_back_to_the_most_recent_earlier_version() -> None:
    reg = await _registry({"m": 3})
    for number in (1, 2, 3):
        await _activate(reg, "m", number)
    await lifecycle.rollback(reg.services, "m", actor=None)
    assert await reg.served() == {("m", 2): 100}
    await lifecycle.rollback(reg.services, "m", actor=None)
    assert await reg.served() == {("m", 1): 100}
    with pytest.raises(Conflict, match="no earlier active version"):
        await lifecycle.rollback(reg.services, "m", actor=None)


async def test_rollback_of_a_model_without_an_active_version_is_refused() -> None:
    reg = await _registry({"m": 1})
    with pytest.raises(Conflict, match="no active version"):
        await lifecycle.rollback(reg.services, "m", actor=None)


async def test_every_change_is_audited_with_the_actor() -> None:
    reg = await _registry({"m": 2})
    actor = uuid.uuid4()
    await lifecycle.activate(reg.services, "m", 1, actor=actor)
    await lifecycle.shadow(reg.services, "m", 2, actor=actor)
    await lifecycle.activate(reg.services, "m", 2, 50, actor=actor)
    await lifecycle.retire(reg.services, "m", 2, actor=actor)
    for action in ("activate", "shadow", "retire"):
        entries = await reg.audit(f"model_version.{action}")
        assert entries
        assert {entry.user_id for entry in entries} == {actor}


async def test_a_change_asked_as_a_status_and_a_weight_goes_to_its_use_case() -> None:
    reg = await _registry({"m": 2})
    activated = await lifecycle.change_version(reg.services, "m", 1, ModelStatus.ACTIVE, actor=None)
    assert (activated.status, activated.traffic_weight) == (ModelStatus.ACTIVE, 100)
    await lifecycle.change_version(reg.services, "m", 2, ModelStatus.ACTIVE, 30, actor=None)
    await lifecycle.change_version(reg.services, "m", 2, None, 60, actor=None)
    assert await reg.served() == {("m", 1): 40, ("m", 2): 60}
    shadowed = await lifecycle.change_version(reg.services, "m", 2, ModelStatus.SHADOW, actor=None)
    assert (shadowed.status, shadowed.traffic_weight) == (ModelStatus.SHADOW, 0)
    assert await reg.served() == {("m", 1): 100}
    (entry,) = await reg.audit("model_version.shadow")
    assert entry.resource == "models/m/versions/2"


@pytest.mark.parametrize(
    ("status", "weight", "field"),
    [(ModelStatus.RETIRED, 0, "traffic_weight"), (None, None, "status")],
)
async def test_a_weight_with_another_status_than_active_or_no_change_at_all_is_invalid(
    status: ModelStatus | None, weight: int | None, field: str
) -> None:
    reg = await _registry({"m": 1})
    before = await reg.state()
    with pytest.raises(InvalidInput) as refused:
        await lifecycle.change_version(reg.services, "m", 1, status, weight, actor=None)
    assert refused.value.field == field
    assert await reg.state() == before


class CountingServing:
    """A serving set that counts reloads, and fails them with ``error`` when given."""

    def __init__(self, error: DomainError | None = None) -> None:
        self.reloads = 0
        self.error = error

    async def reload(self) -> None:
        self.reloads += 1
        if self.error is not None:
            raise self.error


async def test_each_committed_change_reloads_the_serving_set_and_a_refused_one_does_not() -> None:
    reg = await _registry({"m": 2})
    serving = CountingServing()
    services = dataclasses.replace(reg.services, serving=serving)
    await lifecycle.activate(services, "m", 1, actor=None)
    await lifecycle.activate(services, "m", 2, actor=None)
    await lifecycle.set_weight(services, "m", 2, 50, actor=None)
    await lifecycle.rollback(services, "m", actor=None)
    await lifecycle.stage(services, "m", 2, actor=None)
    assert serving.reloads == 5
    with pytest.raises(Conflict):
        await lifecycle.set_weight(services, "m", 2, 50, actor=None)
    assert serving.reloads == 5


async def test_a_serving_set_that_cannot_be_loaded_is_logged_and_the_change_stays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reg = await _registry({"m": 1})
    services = dataclasses.replace(reg.services, serving=CountingServing(Unavailable("tampered")))
    with caplog.at_level(logging.WARNING, logger="chainwatch.models"):
        activated = await lifecycle.activate(services, "m", 1, actor=None)
    assert activated.status is ModelStatus.ACTIVE
    assert await reg.served() == {("m", 1): 100}
    assert "could not refresh the serving models: tampered" in caplog.text


# -- the invariants, under any sequence of operations --------------------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from(["activate", "set_weight", "shadow", "retire", "stage", "rollback"]),
        st.sampled_from([("a", 1), ("a", 2), ("a", 3), ("b", 1)]),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(steps=operations)
async def test_weights_stay_within_bounds_and_sum_to_100_whatever_happens(
    steps: list[tuple[str, tuple[str, int], int]],
) -> None:
    reg = await _registry({"a": 3, "b": 1})
    for operation, (name, number), weight in steps:
        before = await reg.state()
        try:
            if operation == "activate":
                await _activate(reg, name, number, weight)
            elif operation == "set_weight":
                await lifecycle.set_weight(reg.services, name, number, weight, actor=None)
            elif operation == "rollback":
                await lifecycle.rollback(reg.services, name, actor=None)
            else:
                leave: lifecycle.LeaveService = getattr(lifecycle, operation)
                await leave(reg.services, name, number, actor=None)
        except Conflict:
            assert await reg.state() == before, "a refused change must change nothing"
            continue
        state = await reg.state()
        active = {key: w for key, (status, w) in state.items() if status is ModelStatus.ACTIVE}
        assert all(0 <= w <= 100 for _, w in state.values())
        assert all(w == 0 for key, (s, w) in state.items() if s is not ModelStatus.ACTIVE)
        if active:
            assert sum(active.values()) == 100
        if operation in ("activate", "set_weight"):
            assert state[(name, number)] == (ModelStatus.ACTIVE, weight)
        was_serving = any(w > 0 for (s, w) in before.values() if s is ModelStatus.ACTIVE)
        assert not was_serving or active, "nothing may take the last served version away"
