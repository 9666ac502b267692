"""In-memory adapters: dict-backed fakes of every persistence port, for tests and demos.

They honour the same contract suites as the Piccolo adapters (uniqueness, ordering,
pagination, not-found errors, commit/rollback visibility).
"""

from adapters.memory.anomalies import InMemoryAnomalyRepository
from adapters.memory.api_keys import InMemoryApiKeyRepository
from adapters.memory.audit_log import InMemoryAuditLogRepository
from adapters.memory.blobs import InMemoryBlobStore
from adapters.memory.database import InMemoryDatabase
from adapters.memory.jobs import InMemoryJobRepository
from adapters.memory.labels import InMemoryLabelRepository
from adapters.memory.locks import InMemoryLocks
from adapters.memory.models import InMemoryModelRepository
from adapters.memory.predictions import InMemoryPredictionRepository
from adapters.memory.rate_counters import InMemoryRateCounterRepository
from adapters.memory.system_metrics import InMemorySystemMetricRepository
from adapters.memory.transactions import InMemoryTransactionRepository
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.memory.users import InMemoryUserRepository

__all__ = [
    "InMemoryAnomalyRepository",
    "InMemoryApiKeyRepository",
    "InMemoryAuditLogRepository",
    "InMemoryBlobStore",
    "InMemoryDatabase",
    "InMemoryJobRepository",
    "InMemoryLabelRepository",
    "InMemoryLocks",
    "InMemoryModelRepository",
    "InMemoryPredictionRepository",
    "InMemoryRateCounterRepository",
    "InMemorySystemMetricRepository",
    "InMemoryTransactionRepository",
    "InMemoryUnitOfWork",
    "InMemoryUserRepository",
]
