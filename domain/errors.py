"""Errors of the domain: values a caller can handle, each mapped to HTTP once at the edge."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the core raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """A value breaks an invariant; ``field`` names the offending input where there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    """The thing asked for does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!s} not found")
        self.kind = kind
        self.key = key


class Conflict(DomainError):
    """The change clashes with what is stored (a duplicate key, a forbidden transition)."""


class Unauthorized(DomainError):
    """No valid credentials were presented."""


class Forbidden(DomainError):
    """Valid credentials, but not allowed to do this."""


class Unavailable(DomainError):
    """A dependency (the database, a model) cannot answer right now; retrying may help."""


class DatabaseUnavailable(Unavailable):
    """The database itself cannot answer right now (down, unreachable, not migrated)."""


class TransactionNotFound(NotFound):
    def __init__(self, tx_hash: str) -> None:
        super().__init__("transaction", tx_hash)


class AnomalyNotFound(NotFound):
    def __init__(self, anomaly_id: object) -> None:
        super().__init__("anomaly", anomaly_id)


class PredictionNotFound(NotFound):
    def __init__(self, prediction_id: object) -> None:
        super().__init__("prediction", prediction_id)


class ModelNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__("model", name)


class ModelVersionNotFound(NotFound):
    def __init__(self, key: object) -> None:
        super().__init__("model version", key)


class UserNotFound(NotFound):
    def __init__(self, key: object) -> None:
        super().__init__("user", key)


class ApiKeyNotFound(NotFound):
    def __init__(self, key: object) -> None:
        super().__init__("API key", key)


class DuplicateModel(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"a model named {name!r} already exists")
        self.name = name


class DuplicateModelVersion(Conflict):
    def __init__(self, model_name: str, version: int) -> None:
        super().__init__(f"model {model_name!r} already has a version {version}")


class DuplicateUser(Conflict):
    def __init__(self, username: str) -> None:
        super().__init__(f"a user named {username!r} already exists")
        self.username = username


class DuplicateApiKey(Conflict):
    def __init__(self, prefix: str) -> None:
        super().__init__(f"an API key with prefix {prefix!r} already exists")


class DuplicateRecord(Conflict):
    """A record with the same id exists already (a retried write)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!s} already exists")


class JobNotFound(NotFound):
    def __init__(self, job_id: object) -> None:
        super().__init__("job", job_id)


class BlobNotFound(NotFound):
    def __init__(self, key: str) -> None:
        super().__init__("blob", key)


class ArtifactIntegrityError(DomainError):
    """A stored artifact's bytes do not match the sha256 recorded for it: refuse to load."""


class RateLimited(DomainError):
    """Too many requests (or failed authentications) in the current window; the caller may
    try again in ``retry_after_s`` seconds."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)
