"""One Litestar ``Controller`` per API resource; each handler parses, calls one use case
and shapes the answer. ``API_CONTROLLERS`` is what the ``/api/v1`` router mounts."""

from entrypoints.http.controllers.anomalies import AnomalyController
from entrypoints.http.controllers.api_keys import ApiKeyController
from entrypoints.http.controllers.audit_logs import AuditLogController
from entrypoints.http.controllers.backups import BackupController
from entrypoints.http.controllers.models import ModelController
from entrypoints.http.controllers.predict import PredictController
from entrypoints.http.controllers.predictions import PredictionController
from entrypoints.http.controllers.review_queue import ReviewQueueController
from entrypoints.http.controllers.system_metrics import SystemMetricController
from entrypoints.http.controllers.transactions import TransactionController
from entrypoints.http.controllers.users import UserController

API_CONTROLLERS = [
    PredictController,
    ModelController,
    TransactionController,
    AnomalyController,
    ReviewQueueController,
    PredictionController,
    UserController,
    ApiKeyController,
    AuditLogController,
    BackupController,
    SystemMetricController,
]

__all__ = [
    "API_CONTROLLERS",
    "AnomalyController",
    "ApiKeyController",
    "AuditLogController",
    "BackupController",
    "ModelController",
    "PredictController",
    "PredictionController",
    "ReviewQueueController",
    "SystemMetricController",
    "TransactionController",
    "UserController",
]
