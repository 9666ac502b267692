"""The pure core of chainwatch: entities, value checks, pagination and domain errors.

Standard library only; import-linter keeps frameworks and drivers out.
"""

from domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    Unavailable,
)
from domain.model import (
    Anomaly,
    APIKey,
    AuditLog,
    Label,
    LabelKind,
    Model,
    ModelStatus,
    ModelVersion,
    Outcome,
    Prediction,
    ReviewStatus,
    Role,
    Severity,
    SystemMetric,
    Transaction,
    User,
)
from domain.pagination import Cursor, Page, PageRequest

__all__ = [
    "APIKey",
    "Anomaly",
    "AuditLog",
    "Conflict",
    "Cursor",
    "DomainError",
    "Forbidden",
    "InvalidInput",
    "Label",
    "LabelKind",
    "Model",
    "ModelStatus",
    "ModelVersion",
    "NotFound",
    "Outcome",
    "Page",
    "PageRequest",
    "Prediction",
    "ReviewStatus",
    "Role",
    "Severity",
    "SystemMetric",
    "Transaction",
    "Unauthorized",
    "Unavailable",
    "User",
]
