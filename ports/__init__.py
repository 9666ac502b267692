"""Ports: the interfaces the core needs, as ``typing.Protocol`` classes."""

from ports.blobs import BlobInfo, BlobStore
from ports.clock import Clock
from ports.detector import (
    Detector,
    DetectorFactory,
    FeatureRows,
    TrainedDetector,
    TrainingSet,
)
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
    "BlobInfo",
    "BlobStore",
    "Clock",
    "DatabaseHealth",
    "Detector",
    "DetectorFactory",
    "FeatureRows",
    "ModelRepository",
    "PredictionRepository",
    "SystemMetricRepository",
    "TimeRange",
    "TrainedDetector",
    "TrainingSet",
    "TransactionRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
]
