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
from ports.locks import Locks
from ports.repositories import (
    AddManyResult,
    AnomalyFilter,
    AnomalyRepository,
    ApiKeyRepository,
    AuditFilter,
    AuditLogRepository,
    JobRepository,
    LabelRepository,
    ModelRepository,
    PredictionRepository,
    ScoreHistogram,
    SystemMetricRepository,
    TimeRange,
    TransactionRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    UserRepository,
)
from ports.security import PasswordHasher, SecretDigester

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
    "Detector",
    "DetectorFactory",
    "FeatureRows",
    "JobRepository",
    "LabelRepository",
    "Locks",
    "ModelRepository",
    "PasswordHasher",
    "PredictionRepository",
    "ScoreHistogram",
    "SecretDigester",
    "SystemMetricRepository",
    "TimeRange",
    "TrainedDetector",
    "TrainingSet",
    "TransactionRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
]
