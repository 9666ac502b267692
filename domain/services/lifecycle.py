"""Serving lifecycle of model versions: stage, activate, shadow, weights, retire, roll back.

Traffic weights are global: every ACTIVE version, of any model, has a weight from 0 to 100
and, whenever any version is ACTIVE, the weights sum to exactly 100. A transaction is
served by one of them, chosen by ``policies.assign_version`` from its hash.

**A version left at weight 0 stays ACTIVE, as a standby**: it is never served (assignment
skips weight 0), but the scorer keeps it loaded and warm, so ``rollback`` to it is instant
and needs no bookkeeping beyond the status. Activating a version at 100 therefore turns
every other active version into a standby; retire standbys you no longer want.

Rules every change keeps (or it is refused with ``Conflict`` and nothing changes):

* the version asked about gets exactly the weight asked for;
* the other active versions share the rest in proportion to their weights
  (``policies.rescale_weights``); when they are all standbys they share it evenly;
* taking the last served version out of service (shadow, retire, stage, weight 0) is
  refused while no other active version could take its traffic;
* only a version with a recorded artifact can be activated or shadowed.

Every change is audited in the same unit of work. After the commit, the process's serving
set is reloaded (``Services.serving``) so the change serves at once here; other replicas
pick it up on their next refresh. The change is committed by then, so a version that
cannot be loaded is logged, not raised. ``change_version`` is the one entry point for a
change asked as a status and/or a weight (the API's PATCH, the CLI's commands).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from domain.errors import Conflict, DomainError, InvalidInput
from domain.model import ModelStatus, ModelVersion
from domain.policies import TOTAL_WEIGHT, rescale_weights
from domain.services.audit import succeeded, version_resource
from domain.services.naming import version_label
from domain.services.services import Services
from domain.values import lookup_key
from ports.repositories import UnitOfWork

_logger = logging.getLogger("chainwatch.models")


class LeaveService(Protocol):
    """The shape of ``shadow``, ``retire`` and ``stage``."""

    async def __call__(
        self, services: Services, model_name: str, version: int, *, actor: uuid.UUID | None
    ) -> ModelVersion: ...


@dataclass(frozen=True, slots=True)
class RollbackOutcome:
    restored: ModelVersion
    retired: ModelVersion


async def _active(work: UnitOfWork) -> dict[uuid.UUID, ModelVersion]:
    return {v.id: v for v in await work.models.list_versions_by_status([ModelStatus.ACTIVE])}


def _weights(active: dict[uuid.UUID, ModelVersion]) -> dict[uuid.UUID, int]:
    return {version_id: v.traffic_weight for version_id, v in active.items()}


async def _store(
    work: UnitOfWork,
    target: ModelVersion,
    status: ModelStatus,
    weights: dict[uuid.UUID, int],
    active: dict[uuid.UUID, ModelVersion],
) -> dict[str, int]:
    """Give ``target`` its status and every active version its weight; returns the
    weights that changed, by version id (for the audit entry)."""
    changed: dict[str, int] = {}
    target.change_status(status)
    if status is ModelStatus.ACTIVE:
        target.set_traffic_weight(weights[target.id])
    await work.models.update_version(target)
    changed[str(target.id)] = target.traffic_weight
    for version_id, weight in weights.items():
        other = active.get(version_id)
        if other is None or other.id == target.id or other.traffic_weight == weight:
            continue
        other.set_traffic_weight(weight)
        await work.models.update_version(other)
        changed[str(other.id)] = weight
    return changed


def _resource(model_name: str, version: int) -> str:
    # Called once the version was found, so the name is a valid one in some casing.
    return version_resource(lookup_key(model_name), version)


def _require_artifact(version: ModelVersion, model_name: str) -> None:
    if version.artifact_sha256 is None or not version.artifact_uri:
        raise Conflict(
            f"{version_label(model_name, version.version)} has no recorded artifact; "
            "train a new version"
        )


async def _reload_serving(services: Services) -> None:
    try:
        await services.serving.reload()
    except DomainError as error:
        _logger.warning("could not refresh the serving models: %s", error.message)


def _check_weight_given(weights: dict[uuid.UUID, int], target: uuid.UUID, asked: int) -> None:
    if weights.get(target, 0) != asked:
        raise Conflict(
            f"no other active version can take the remaining {TOTAL_WEIGHT - asked}% of "
            "traffic; activate another version first"
        )


async def activate(
    services: Services,
    model_name: str,
    version: int,
    weight: int = TOTAL_WEIGHT,
    *,
    actor: uuid.UUID | None,
) -> ModelVersion:
    """Make a version ACTIVE with ``weight``% of traffic (from any status, including a
    standby or a retired version); the other active versions are rescaled to share the
    rest. Raises ``ModelNotFound``/``ModelVersionNotFound``, ``InvalidInput`` for a weight
    outside 0..100, ``Conflict`` per the module rules."""
    async with services.uow() as work:
        await work.models.lock_serving()  # weights are read, then rewritten
        target = await work.models.get_version(model_name, version)
        _require_artifact(target, model_name)
        active = await _active(work)
        weights = rescale_weights(_weights(active), target.id, weight)
        _check_weight_given(weights, target.id, weight)
        if sum(weights.values()) != TOTAL_WEIGHT:
            raise Conflict("activating at weight 0 would leave no version serving traffic")
        previous = target.status
        changed = await _store(work, target, ModelStatus.ACTIVE, weights, active)
        await work.audit.append(
            succeeded(
                "model_version.activate",
                _resource(model_name, version),
                actor=actor,
                at=services.clock.now(),
                details={"from": previous.value, "weight": weight, "weights": changed},
            )
        )
        await work.commit()
    await _reload_serving(services)
    return target


def plan_weight(
    active: Mapping[uuid.UUID, ModelVersion], target: ModelVersion, model_name: str, weight: int
) -> dict[uuid.UUID, int]:
    """The weight of every active version (``active``, by id) once ``target`` - a version
    of ``model_name`` - is given ``weight``, as ``set_weight`` stores them (a preview can
    show them first). Raises ``InvalidInput`` for a weight outside 0..100 and ``Conflict``
    for a target that is not ACTIVE and per the module rules."""
    if target.status is not ModelStatus.ACTIVE:
        raise Conflict(
            f"{version_label(model_name, target.version)} is {target.status.value}, not "
            "active; activate it"
        )
    weights = rescale_weights(_weights(dict(active)), target.id, weight)
    _check_weight_given(weights, target.id, weight)
    if sum(weights.values()) != TOTAL_WEIGHT:
        raise Conflict(
            f"{version_label(model_name, target.version)} is the only active version; it takes 100"
        )
    return weights


async def set_weight(
    services: Services,
    model_name: str,
    version: int,
    weight: int,
    *,
    actor: uuid.UUID | None,
) -> ModelVersion:
    """Change an ACTIVE version's share of traffic; the others are rescaled. Weight 0 makes
    it a standby. Raises ``Conflict`` for a version that is not ACTIVE (activate it) and
    per the module rules."""
    async with services.uow() as work:
        await work.models.lock_serving()  # weights are read, then rewritten
        target = await work.models.get_version(model_name, version)
        active = await _active(work)
        weights = plan_weight(active, target, model_name, weight)
        changed = await _store(work, target, ModelStatus.ACTIVE, weights, active)
        await work.audit.append(
            succeeded(
                "model_version.set_weight",
                _resource(model_name, version),
                actor=actor,
                at=services.clock.now(),
                details={"weight": weight, "weights": changed},
            )
        )
        await work.commit()
    await _reload_serving(services)
    return target


async def _leave_service(
    services: Services,
    model_name: str,
    version: int,
    status: ModelStatus,
    *,
    actor: uuid.UUID | None,
) -> ModelVersion:
    async with services.uow() as work:
        await work.models.lock_serving()  # weights are read, then rewritten
        target = await work.models.get_version(model_name, version)
        if status is ModelStatus.SHADOW:
            _require_artifact(target, model_name)
        active = await _active(work)
        weights = _weights(active)
        if target.id in weights:
            rest = rescale_weights(weights, target.id, 0)
            del rest[target.id]
            if target.traffic_weight > 0 and sum(rest.values()) != TOTAL_WEIGHT:
                raise Conflict(
                    f"{version_label(model_name, version)} is the only version serving "
                    "traffic; activate another version first"
                )
            weights = rest
        previous = target.status
        changed = await _store(work, target, status, weights, active)
        await work.audit.append(
            succeeded(
                f"model_version.{_VERBS[status]}",
                _resource(model_name, version),
                actor=actor,
                at=services.clock.now(),
                details={"from": previous.value, "weights": changed},
            )
        )
        await work.commit()
    await _reload_serving(services)
    return target


_VERBS = {ModelStatus.SHADOW: "shadow", ModelStatus.RETIRED: "retire", ModelStatus.STAGED: "stage"}


async def shadow(
    services: Services, model_name: str, version: int, *, actor: uuid.UUID | None
) -> ModelVersion:
    """Run a version in shadow: it scores every transaction and its predictions are
    stored, but it never serves. If it was active, the others take its traffic."""
    return await _leave_service(services, model_name, version, ModelStatus.SHADOW, actor=actor)


async def retire(
    services: Services, model_name: str, version: int, *, actor: uuid.UUID | None
) -> ModelVersion:
    """Take a version out of service for good (it can still be activated explicitly)."""
    return await _leave_service(services, model_name, version, ModelStatus.RETIRED, actor=actor)


async def stage(
    services: Services, model_name: str, version: int, *, actor: uuid.UUID | None
) -> ModelVersion:
    """Put a version back to STAGED (neither served nor shadowed, not loaded)."""
    return await _leave_service(services, model_name, version, ModelStatus.STAGED, actor=actor)


async def rollback(
    services: Services, model_name: str, *, actor: uuid.UUID | None
) -> RollbackOutcome:
    """Undo a model's latest activation: its current version (the active one with the
    greatest weight, the newest on a tie) is retired and the most recent previously active
    version - its other active version with the highest number, typically the standby the
    current one displaced - is re-activated at 100% of traffic (so every other active
    version, of any model, becomes a standby).

    Raises ``Conflict`` when the model has no active version or no other active version to
    go back to (retired versions are not candidates: activate one explicitly).
    """
    async with services.uow() as work:
        await work.models.lock_serving()  # weights are read, then rewritten
        versions = await work.models.list_versions(model_name)
        active_here = [v for v in versions if v.status is ModelStatus.ACTIVE]
        if not active_here:
            raise Conflict(f"model {model_name} has no active version to roll back")
        current = max(active_here, key=lambda v: (v.traffic_weight, v.version))
        candidates = [v for v in active_here if v.id != current.id]
        if not candidates:
            raise Conflict(
                f"model {model_name} has no earlier active version to roll back to; "
                "activate one explicitly"
            )
        restored = max(candidates, key=lambda v: v.version)
        active = await _active(work)
        weights = {version_id: 0 for version_id in active if version_id != current.id}
        weights[restored.id] = TOTAL_WEIGHT
        current.change_status(ModelStatus.RETIRED)
        await work.models.update_version(current)
        changed = await _store(work, restored, ModelStatus.ACTIVE, weights, active)
        await work.audit.append(
            succeeded(
                "model_version.rollback",
                _resource(model_name, restored.version),
                actor=actor,
                at=services.clock.now(),
                details={
                    "retired_version": current.version,
                    "restored_version": restored.version,
                    "weights": changed,
                },
            )
        )
        await work.commit()
    await _reload_serving(services)
    return RollbackOutcome(restored=restored, retired=current)


async def change_version(
    services: Services,
    model_name: str,
    version: int,
    status: ModelStatus | None = None,
    traffic_weight: int | None = None,
    *,
    actor: uuid.UUID | None,
) -> ModelVersion:
    """Change a version as asked by a status and/or a weight: ``ACTIVE`` activates it with
    ``traffic_weight`` (all traffic when not given); ``SHADOW``, ``RETIRED`` and ``STAGED``
    take it out of service (no weight); a weight alone changes an active version's share.

    Raises ``InvalidInput`` for a weight with another status than ``ACTIVE`` and for
    neither a status nor a weight, plus what ``activate``, ``set_weight``, ``shadow``,
    ``retire`` and ``stage`` raise.
    """
    if status is ModelStatus.ACTIVE:
        weight = TOTAL_WEIGHT if traffic_weight is None else traffic_weight
        return await activate(services, model_name, version, weight, actor=actor)
    if status is not None:
        if traffic_weight is not None:
            raise InvalidInput(
                "traffic_weight goes with status active only", field="traffic_weight"
            )
        return await _leave_service(services, model_name, version, status, actor=actor)
    if traffic_weight is not None:
        return await set_weight(services, model_name, version, traffic_weight, actor=actor)
    raise InvalidInput("give a status, a traffic_weight or both", field="status")
