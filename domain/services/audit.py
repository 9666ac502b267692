"""The audit trail: who did what to which resource, with what outcome, from where.

Use cases that change something append a ``succeeded(...)`` row in the same unit of work
as the change, so the row exists exactly when the change does. Refusals and failures (the
change did not happen) are recorded on their own with ``record_outcome``.

Where a request came from (client address, request id, channel) is not a use case's
business, so it travels beside the call: an entrypoint sets it for the duration of one
request or command with ``origin(...)``, and every row built meanwhile carries it. Details
never hold a secret: callers pass ids, names and counts only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.model import AuditLog, Outcome
from domain.services.services import Services


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a change was asked for: the client's address, the request id that ties the
    row to the logs, and the channel ("api", "cli", "job", "library")."""

    ip: str | None = None
    request_id: str | None = None
    via: str = "library"


_UNKNOWN = Origin()
_ORIGIN: ContextVar[Origin] = ContextVar("chainwatch_audit_origin", default=_UNKNOWN)


@contextmanager
def origin(where: Origin) -> Iterator[Origin]:
    """Stamp ``where`` on every audit row built inside the block (in this task)."""
    token = _ORIGIN.set(where)
    try:
        yield where
    finally:
        _ORIGIN.reset(token)


def restamp(where: Origin) -> None:
    """Stamp ``where`` on the rest of the current context's rows (inside an ``origin``
    block, whose end restores what was there before): for an entrypoint that learns more
    about the request midway, e.g. that it is a console page."""
    _ORIGIN.set(where)


def current_origin() -> Origin:
    return _ORIGIN.get()


def _entry(
    action: str,
    resource: str,
    outcome: Outcome,
    actor: uuid.UUID | None,
    at: datetime,
    details: dict[str, Any] | None,
) -> AuditLog:
    where = _ORIGIN.get()
    recorded: dict[str, Any] = {"via": where.via}
    if where.request_id is not None:
        recorded["request_id"] = where.request_id
    recorded.update(details or {})
    return AuditLog(
        action=action,
        resource=resource,
        outcome=outcome,
        user_id=actor,
        ip=where.ip,
        details=recorded,
        timestamp=at,
    )


def succeeded(
    action: str,
    resource: str,
    *,
    actor: uuid.UUID | None,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """The row for a change that is being made: append it in the change's unit of work."""
    return _entry(action, resource, Outcome.SUCCESS, actor, at, details)


def refused(
    action: str,
    resource: str,
    outcome: Outcome,
    *,
    actor: uuid.UUID | None,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """The row for a request that changed nothing: ``FAILURE`` or ``DENIED``."""
    return _entry(action, resource, outcome, actor, at, details)


async def record_outcome(
    services: Services,
    action: str,
    resource: str,
    outcome: Outcome,
    *,
    actor: uuid.UUID | None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one row in a unit of work of its own (for refusals and failures)."""
    entry = refused(
        action, resource, outcome, actor=actor, at=services.clock.now(), details=details
    )
    async with services.uow() as work:
        await work.audit.append(entry)
        await work.commit()
    return entry


def transaction_resource(tx_hash: str) -> str:
    return f"transactions/{tx_hash}"


def anomaly_resource(anomaly_id: uuid.UUID) -> str:
    return f"anomalies/{anomaly_id}"


def model_resource(model_name: str) -> str:
    return f"models/{model_name}"


def version_resource(model_name: str, version: int) -> str:
    return f"models/{model_name}/versions/{version}"


def user_resource(user_id: uuid.UUID) -> str:
    return f"users/{user_id}"


def api_key_resource(key_id: uuid.UUID) -> str:
    return f"api-keys/{key_id}"
