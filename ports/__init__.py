"""Ports: the interfaces the core needs, as ``typing.Protocol`` classes."""

from ports.clock import Clock
from ports.repositories import (
    AddManyResult,
    AnomalyFilter,
    AnomalyRepository,
    ApiKeyRepository,
    AuditFilter,
    AuditLogRepository,
    DatabaseHealth,
    ModelRepository,
    PredictionRepository,
    SystemMetricRepository,
    TimeRange,
    TransactionRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    UserRepository,
)

__all__ = [
    "AddManyResult",
    "AnomalyFilter",
    "AnomalyRepository",
    "ApiKeyRepository",
    "AuditFilter",
    "AuditLogRepository",
    "Clock",
    "DatabaseHealth",
    "ModelRepository",
    "PredictionRepository",
    "SystemMetricRepository",
    "TimeRange",
    "TransactionRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
]
