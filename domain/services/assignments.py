"""Who works an anomaly: assigning it to an analyst (or back to the pool), audited."""

from __future__ import annotations

import uuid

from domain.errors import InvalidInput
from domain.model import Anomaly
from domain.services.audit import anomaly_resource, succeeded
from domain.services.auth import GRANTS, Permission
from domain.services.services import Services


async def assign_anomaly(
    services: Services,
    anomaly_id: uuid.UUID,
    assignee: uuid.UUID | None,
    *,
    actor: uuid.UUID | None,
) -> Anomaly:
    """Assign the anomaly to ``assignee`` (``None``: unassign), with an audit row, in one
    unit of work.

    Raises ``AnomalyNotFound``, ``UserNotFound`` for an unknown assignee, and
    ``InvalidInput`` (field ``assignee``) for a deactivated one or one whose role cannot
    review anomalies."""
    now = services.clock.now()
    async with services.uow() as work:
        anomaly = await work.anomalies.get(anomaly_id)
        if assignee is not None:
            user = await work.users.get(assignee)
            if not user.active or Permission.REVIEW not in GRANTS[user.role]:
                raise InvalidInput(
                    f"{user.username} cannot review anomalies (inactive, or a {user.role.value})",
                    field="assignee",
                )
        previous = anomaly.assigned_to
        anomaly.assign(assignee, at=now)
        await work.anomalies.record_assignment(anomaly)
        await work.audit.append(
            succeeded(
                "anomaly.assign",
                anomaly_resource(anomaly.id),
                actor=actor,
                at=now,
                details={
                    "assigned_to": None if assignee is None else str(assignee),
                    "previous": None if previous is None else str(previous),
                },
            )
        )
        await work.commit()
    return anomaly
