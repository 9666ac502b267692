"""Audit log and system metric bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from domain.model import AuditLog, Outcome, SystemMetric
from domain.pagination import Page


class AuditLogOut(msgspec.Struct):
    id: uuid.UUID
    user_id: uuid.UUID | None
    action: str
    resource: str
    outcome: Outcome
    ip: str | None
    details: dict[str, Any]
    timestamp: datetime


class AuditLogPage(msgspec.Struct):
    audit_logs: list[AuditLogOut]
    next_cursor: str | None


class SystemMetricOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    value: float
    labels: dict[str, str]
    recorded_at: datetime


class SystemMetricPage(msgspec.Struct):
    metrics: list[SystemMetricOut]
    next_cursor: str | None


def audit_page(page: Page[AuditLog]) -> AuditLogPage:
    return AuditLogPage(
        audit_logs=[
            AuditLogOut(
                id=entry.id,
                user_id=entry.user_id,
                action=entry.action,
                resource=entry.resource,
                outcome=entry.outcome,
                ip=entry.ip,
                details=entry.details,
                timestamp=entry.timestamp,
            )
            for entry in page.items
        ],
        next_cursor=page.next_cursor,
    )


def metric_page(page: Page[SystemMetric]) -> SystemMetricPage:
    return SystemMetricPage(
        metrics=[
            SystemMetricOut(
                id=metric.id,
                name=metric.name,
                value=metric.value,
                labels=metric.labels,
                recorded_at=metric.recorded_at,
            )
            for metric in page.items
        ],
        next_cursor=page.next_cursor,
    )
