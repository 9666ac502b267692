"""Entities and enums of chainwatch: the nine things the service keeps.

Entities are mutable dataclasses that validate and normalise themselves on construction
(``__post_init__``); constructing one from already-normal values is a no-op, so adapters
can rebuild them from rows with the same constructor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from domain.errors import Conflict, InvalidInput
from domain.explanations import Contribution, normalize_contributions
from domain.values import (
    check_finite,
    check_sha256,
    check_text,
    check_uint64,
    check_uint256,
    check_utc,
    normalize_address,
    normalize_chain,
    normalize_hash,
    normalize_name,
    utcnow,
)

JSONDict = dict[str, Any]


def new_id() -> uuid.UUID:
    return uuid.uuid4()


_T = TypeVar("_T")


def unchecked(entity: type[_T], **values: Any) -> _T:
    """An ``entity`` holding ``values`` - every one of its fields, each already in the
    normal form its ``__post_init__`` would leave unchanged - without checking them again.

    For the scoring hot path only, which builds thousands of transactions, predictions and
    anomalies a batch from values it has just checked (or made); anything else constructs
    entities the normal way. Raises ``TypeError`` when a field is missing or unknown."""
    names = _FIELD_NAMES.get(entity)
    if names is None:
        names = _FIELD_NAMES[entity] = frozenset(f.name for f in fields(entity))  # type: ignore[arg-type]
    if values.keys() != names:
        raise TypeError(f"{entity.__name__} needs exactly the fields {sorted(names)}")
    item = object.__new__(entity)
    for name, value in values.items():
        object.__setattr__(item, name, value)
    return item


_FIELD_NAMES: dict[type, frozenset[str]] = {}


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class ReviewStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    VIEWER = "viewer"
    SERVICE = "service"


class ModelStatus(StrEnum):
    STAGED = "staged"
    ACTIVE = "active"
    SHADOW = "shadow"
    RETIRED = "retired"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class LabelKind(StrEnum):
    """What a label says a transaction is."""

    FRAUD = "fraud"
    LEGITIMATE = "legitimate"


E = TypeVar("E", bound=StrEnum)


def parse_enum(enum: type[E], value: object, field: str) -> E:
    """``enum(value)`` with an ``InvalidInput`` that lists the allowed values."""
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidInput(
            f"{field} must be one of {allowed}; got {value!r}", field=field
        ) from None


@dataclass(slots=True)
class Transaction:
    """An on-chain transfer or call, as observed. Amounts are exact integers in base units."""

    hash: str
    from_address: str
    to_address: str | None
    value: int
    gas: int
    gas_price: int
    timestamp: datetime
    chain: str = "ethereum"
    block_number: int | None = None
    nonce: int | None = None
    gas_used: int | None = None
    input_size: int = 0
    ingested_at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        self.hash = normalize_hash(self.hash, "hash")
        self.from_address = normalize_address(self.from_address, "from_address")
        if self.to_address is not None:
            self.to_address = normalize_address(self.to_address, "to_address")
        self.value = check_uint256(self.value, "value")
        self.gas = check_uint64(self.gas, "gas")
        self.gas_price = check_uint256(self.gas_price, "gas_price")
        self.timestamp = check_utc(self.timestamp, "timestamp")
        self.chain = normalize_chain(self.chain, "chain")
        if self.block_number is not None:
            self.block_number = check_uint64(self.block_number, "block_number")
        if self.nonce is not None:
            self.nonce = check_uint64(self.nonce, "nonce")
        if self.gas_used is not None:
            self.gas_used = check_uint64(self.gas_used, "gas_used")
            if self.gas_used > self.gas:
                raise InvalidInput("gas_used cannot exceed gas (the gas limit)", field="gas_used")
        self.input_size = check_uint64(self.input_size, "input_size")
        self.ingested_at = check_utc(self.ingested_at, "ingested_at")


@dataclass(slots=True)
class Prediction:
    """One model version's score for one transaction. ``served`` is False for shadow runs.
    ``contributions``: why it scored so (``domain.explanations``), largest first; None when
    not recorded (predictions stored before they were)."""

    transaction_hash: str
    model_version_id: uuid.UUID
    score: float
    is_anomaly: bool
    served: bool = True
    latency_ms: float = 0.0
    contributions: tuple[Contribution, ...] | None = None
    created_at: datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.transaction_hash = normalize_hash(self.transaction_hash, "transaction_hash")
        self.contributions = normalize_contributions(self.contributions)
        self.score = check_finite(self.score, "score")
        self.latency_ms = check_finite(self.latency_ms, "latency_ms")
        if self.latency_ms < 0:
            raise InvalidInput("latency_ms cannot be negative", field="latency_ms")
        self.created_at = check_utc(self.created_at, "created_at")


@dataclass(slots=True)
class Anomaly:
    """A flagged transaction awaiting (or after) an analyst's review."""

    transaction_hash: str
    prediction_id: uuid.UUID
    model_version_id: uuid.UUID
    severity: Severity
    score: float
    status: ReviewStatus = ReviewStatus.OPEN
    reviewed_by: uuid.UUID | None = None
    reviewed_at: datetime | None = None
    note: str | None = None
    detected_at: datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=new_id)
    assigned_to: uuid.UUID | None = None
    """The analyst working on it (None: unassigned)."""
    assigned_at: datetime | None = None
    contributions: tuple[Contribution, ...] | None = None
    """Why the flagging prediction scored so, recorded with the anomaly (None: look at the
    prediction, as for anomalies stored before it was recorded here)."""
    transaction_timestamp: datetime | None = None
    """The flagged transaction's own instant, carried with the reference so a listing finds
    the transaction's row without looking its hash up first (None: not recorded)."""

    def __post_init__(self) -> None:
        self.transaction_hash = normalize_hash(self.transaction_hash, "transaction_hash")
        self.severity = parse_enum(Severity, self.severity, "severity")
        self.contributions = normalize_contributions(self.contributions)
        if self.transaction_timestamp is not None:
            self.transaction_timestamp = check_utc(
                self.transaction_timestamp, "transaction_timestamp"
            )
        if self.assigned_at is not None:
            self.assigned_at = check_utc(self.assigned_at, "assigned_at")
        self.status = parse_enum(ReviewStatus, self.status, "status")
        self.score = check_finite(self.score, "score")
        self.detected_at = check_utc(self.detected_at, "detected_at")
        if self.reviewed_at is not None:
            self.reviewed_at = check_utc(self.reviewed_at, "reviewed_at")
        if self.note is not None:
            self.note = check_text(self.note, "note", max_length=4000, allow_empty=True)

    def review(
        self, status: ReviewStatus, *, reviewer: uuid.UUID, at: datetime, note: str | None = None
    ) -> None:
        """Record an analyst's verdict. An anomaly can be re-reviewed but never re-opened."""
        status = parse_enum(ReviewStatus, status, "status")
        if status is ReviewStatus.OPEN:
            raise InvalidInput("a review must confirm, dismiss or escalate", field="status")
        self.status = status
        self.reviewed_by = reviewer
        self.reviewed_at = check_utc(at, "reviewed_at")
        self.note = (
            None if note is None else check_text(note, "note", max_length=4000, allow_empty=True)
        )

    def assign(self, assignee: uuid.UUID | None, *, at: datetime) -> None:
        """Hand the anomaly to ``assignee`` (``None``: back to the unassigned pool)."""
        self.assigned_to = assignee
        self.assigned_at = None if assignee is None else check_utc(at, "assigned_at")


@dataclass(slots=True)
class Label:
    """Ground truth about one transaction: fraud or legitimate, and who says so.

    ``source`` is a short name of where the verdict comes from ("analyst-review",
    "missed-fraud-report", "chainalysis"); ``anomaly_id`` links a label produced by reviewing
    an anomaly. A transaction may collect several labels; the latest one counts.
    """

    transaction_hash: str
    kind: LabelKind
    source: str
    created_by: uuid.UUID | None = None
    anomaly_id: uuid.UUID | None = None
    note: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.transaction_hash = normalize_hash(self.transaction_hash, "transaction_hash")
        self.kind = parse_enum(LabelKind, self.kind, "kind")
        self.source = normalize_name(self.source, "source")
        if self.note is not None:
            self.note = check_text(self.note, "note", max_length=4000, allow_empty=True)
        self.created_at = check_utc(self.created_at, "created_at")


@dataclass(slots=True)
class Model:
    """A named detector family; its trained artifacts are ``ModelVersion`` rows."""

    name: str
    algorithm: str
    description: str = ""
    created_at: datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.name = normalize_name(self.name, "name")
        self.algorithm = normalize_name(self.algorithm, "algorithm")
        self.description = check_text(
            self.description, "description", max_length=2000, allow_empty=True
        )
        self.created_at = check_utc(self.created_at, "created_at")


@dataclass(slots=True)
class ModelVersion:
    """One trained artifact of a model, with its serving status and A/B traffic share."""

    model_id: uuid.UUID
    version: int
    status: ModelStatus = ModelStatus.STAGED
    traffic_weight: int = 0
    artifact_uri: str = ""
    artifact_sha256: str | None = None
    feature_version: int = 1
    params: JSONDict = field(default_factory=dict)
    metrics: JSONDict = field(default_factory=dict)
    thresholds: JSONDict = field(default_factory=dict)
    trained_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise InvalidInput("version must be a positive integer", field="version")
        self.status = parse_enum(ModelStatus, self.status, "status")
        self.set_traffic_weight(self.traffic_weight)
        self.artifact_uri = check_text(
            self.artifact_uri, "artifact_uri", max_length=1024, allow_empty=True
        )
        if self.artifact_sha256 is not None:
            self.artifact_sha256 = check_sha256(self.artifact_sha256, "artifact_sha256")
        if (
            isinstance(self.feature_version, bool)
            or not isinstance(self.feature_version, int)
            or self.feature_version < 1
        ):
            raise InvalidInput(
                "feature_version must be a positive integer", field="feature_version"
            )
        if self.trained_at is not None:
            self.trained_at = check_utc(self.trained_at, "trained_at")
        self.created_at = check_utc(self.created_at, "created_at")

    def set_traffic_weight(self, weight: int) -> None:
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise InvalidInput(
                "traffic_weight must be an integer from 0 to 100", field="traffic_weight"
            )
        if weight and self.status is not ModelStatus.ACTIVE:
            raise Conflict(f"only an active version can take traffic (this one is {self.status})")
        self.traffic_weight = weight

    def change_status(self, status: ModelStatus) -> None:
        status = parse_enum(ModelStatus, status, "status")
        if status is not ModelStatus.ACTIVE:
            self.traffic_weight = 0
        self.status = status


@dataclass(slots=True)
class User:
    username: str
    role: Role
    email: str | None = None
    password_hash: str | None = None
    active: bool = True
    created_at: datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.username = normalize_name(self.username, "username")
        self.role = parse_enum(Role, self.role, "role")
        if self.email is not None:
            self.email = check_text(self.email, "email", max_length=254).strip().lower()
            if "@" not in self.email:
                raise InvalidInput("email must contain '@'", field="email")
        self.created_at = check_utc(self.created_at, "created_at")


@dataclass(slots=True)
class APIKey:
    """An API credential. Only a keyed digest of the secret is kept; ``prefix`` finds it."""

    user_id: uuid.UUID
    prefix: str
    digest: str
    name: str = ""
    scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.prefix = check_text(self.prefix, "prefix", max_length=32)
        self.digest = check_text(self.digest, "digest", max_length=256)
        self.name = check_text(self.name, "name", max_length=200, allow_empty=True)
        self.scopes = tuple(check_text(s, "scopes", max_length=64) for s in self.scopes)
        self.created_at = check_utc(self.created_at, "created_at")
        for name in ("expires_at", "revoked_at", "last_used_at"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, check_utc(value, name))

    def is_usable(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at

    def revoke(self, at: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = check_utc(at, "revoked_at")


@dataclass(slots=True)
class AuditLog:
    """Who did what to which resource, with what outcome. Never holds a secret."""

    action: str
    resource: str
    outcome: Outcome
    user_id: uuid.UUID | None = None
    ip: str | None = None
    details: JSONDict = field(default_factory=dict)
    timestamp: datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.action = check_text(self.action, "action", max_length=100)
        self.resource = check_text(self.resource, "resource", max_length=500, allow_empty=True)
        self.outcome = parse_enum(Outcome, self.outcome, "outcome")
        if self.ip is not None:
            self.ip = check_text(self.ip, "ip", max_length=64)
        self.timestamp = check_utc(self.timestamp, "timestamp")


@dataclass(slots=True)
class SystemMetric:
    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)
    recorded_at: datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.name = check_text(self.name, "name", max_length=200)
        self.value = check_finite(self.value, "value")
        self.recorded_at = check_utc(self.recorded_at, "recorded_at")
