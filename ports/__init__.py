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
from ports.features import FeatureEngine
from ports.locks import Locks
from ports.repositories import (
    AddManyResult,
    AnomalyFilter,
    AnomalyRepository,
    ApiKeyRepository,
    AuditFilter,
    AuditLogRepository,
    CounterKey,
    JobRepository,
    LabelRepository,
    ModelRepository,
    PredictionRepository,
    RateCounterRepository,
    ScoreHistogram,
    SystemMetricRepository,
    TimeRange,
    TrainingColumns,
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
    "CounterKey",
    "Detector",
    "DetectorFactory",
    "FeatureEngine",
    "FeatureRows",
    "JobRepository",
    "LabelRepository",
    "Locks",
    "ModelRepository",
    "PasswordHasher",
    "PredictionRepository",
    "RateCounterRepository",
    "ScoreHistogram",
    "SecretDigester",
    "SystemMetricRepository",
    "TimeRange",
    "TrainedDetector",
    "TrainingColumns",
    "TrainingSet",
    "TransactionRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
]
