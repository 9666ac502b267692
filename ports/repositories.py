"""Persistence ports: what the use cases need from storage, nothing about how it is done.

All methods are coroutines and run inside a ``UnitOfWork``; none of them commits.
Listing methods return keyset pages newest first (see ``domain.pagination``).
Time ranges are half-open: ``since <= t < until``; ``None`` leaves a side open.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from domain.comments import Comment
from domain.explanations import Contribution
from domain.history import HistoryPoint, SenderActivity
from domain.jobs import Job
from domain.model import (
    Anomaly,
    APIKey,
    AuditLog,
    Label,
    Model,
    ModelStatus,
    ModelVersion,
    Outcome,
    Prediction,
    ReviewStatus,
    Severity,
    SystemMetric,
    Transaction,
    User,
)
from domain.pagination import Page, PageRequest
from domain.sessions import ConsoleSession


@dataclass(frozen=True, slots=True)
class AddManyResult:
    """Outcome of a bulk insert: which hashes were stored and which were already there."""

    inserted: tuple[str, ...]
    duplicates: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TimeRange:
    since: datetime | None = None
    until: datetime | None = None

    def contains(self, instant: datetime) -> bool:
        return (self.since is None or instant >= self.since) and (
            self.until is None or instant < self.until
        )


@dataclass(frozen=True, slots=True)
class TrainingColumns:
    """A chunk of stored transactions as columns (``TransactionRepository.training_columns``):
    what feature sets without sender history are computed from, position ``i`` of every
    column being one transaction. Wei amounts are exact decimal text without leading zeros
    (``"0"`` for zero): 78 digits fit no machine integer, and a bulk reader turns text into
    floats (and counts digits) without building Python integers."""

    hashes: Sequence[str]
    timestamps: Sequence[datetime]
    values: Sequence[str]
    gas: Sequence[int]
    gas_prices: Sequence[str]
    gas_used: Sequence[int | None]
    input_sizes: Sequence[int]
    contract_creations: Sequence[bool]
    """``to_address`` is missing."""

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def of(cls, transactions: Sequence[Transaction]) -> TrainingColumns:
        """The columns of ``transactions``, in order (in-memory stores, tests)."""
        return cls(
            hashes=[tx.hash for tx in transactions],
            timestamps=[tx.timestamp for tx in transactions],
            values=[str(tx.value) for tx in transactions],
            gas=[tx.gas for tx in transactions],
            gas_prices=[str(tx.gas_price) for tx in transactions],
            gas_used=[tx.gas_used for tx in transactions],
            input_sizes=[tx.input_size for tx in transactions],
            contract_creations=[tx.to_address is None for tx in transactions],
        )


@dataclass(frozen=True, slots=True)
class ScoreHistogram:
    """How many scores fell in each bin of ``PredictionRepository.score_histogram``."""

    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class AnomalyFilter:
    """Conjunction of optional criteria; an empty set means "any"."""

    severities: frozenset[Severity] = field(default_factory=frozenset)
    statuses: frozenset[ReviewStatus] = field(default_factory=frozenset)
    period: TimeRange = field(default_factory=TimeRange)
    model_version_id: uuid.UUID | None = None
    assigned_to: uuid.UUID | None = None
    """Only the anomalies assigned to this user."""

    def matches(self, anomaly: Anomaly) -> bool:
        return (
            (not self.severities or anomaly.severity in self.severities)
            and (not self.statuses or anomaly.status in self.statuses)
            and self.period.contains(anomaly.detected_at)
            and (self.model_version_id is None or anomaly.model_version_id == self.model_version_id)
            and (self.assigned_to is None or anomaly.assigned_to == self.assigned_to)
        )


@dataclass(frozen=True, slots=True)
class AnomalyInContext:
    """An anomaly with what a listing shows beside it (``AnomalyRepository.list_in_context``)."""

    anomaly: Anomaly
    transaction: Transaction
    """The flagged transaction."""
    contributions: tuple[Contribution, ...] | None
    """Why the flagging prediction (``anomaly.prediction_id``, a served one) scored so;
    None when not recorded."""


@dataclass(frozen=True, slots=True)
class AnomalyListPage:
    """One page of ``AnomalyRepository.list_in_context`` and the bounded count."""

    page: Page[AnomalyInContext]
    matching: int
    """``min(matches, count_at_most)``: how many anomalies match the criteria, on every page."""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    user_id: uuid.UUID | None = None
    action: str | None = None
    period: TimeRange = field(default_factory=TimeRange)
    outcome: Outcome | None = None

    def matches(self, entry: AuditLog) -> bool:
        return (
            (self.user_id is None or entry.user_id == self.user_id)
            and (self.action is None or entry.action == self.action)
            and (self.outcome is None or entry.outcome is self.outcome)
            and self.period.contains(entry.timestamp)
        )


class TransactionRepository(Protocol):
    async def add_many(
        self, transactions: Sequence[Transaction], *, found_absent: bool = False
    ) -> AddManyResult:
        """Insert new transactions; a hash already stored (or repeated in the batch) is
        reported in ``duplicates`` and left untouched — never overwritten, never an error.
        In an ``all_or_nothing`` unit of work, a hash that a concurrent unit of work
        stores while this one writes may instead raise ``Conflict``, here or from
        ``commit()`` (retry the unit of work: the hash is then stored).

        ``found_absent=True`` says the caller has just looked the hashes up and found none
        stored (the scoring hot path): an adapter may then skip looking again, so that in
        an ``all_or_nothing`` unit of work any stored hash - raced in since, or not - may
        raise ``Conflict``; outside one, duplicates are still reported."""
        ...

    async def get(self, tx_hash: str) -> Transaction:
        """Raises ``TransactionNotFound``."""
        ...

    async def get_many(self, hashes: Iterable[str]) -> dict[str, Transaction]:
        """The stored transactions among ``hashes``, keyed by hash (missing ones left out)."""
        ...

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Transaction]:
        """Ordered by ``(timestamp, hash)`` descending."""
        ...

    async def list_by_address(
        self, address: str, period: TimeRange, page: PageRequest
    ) -> Page[Transaction]:
        """Transactions sent from or to ``address``, ordered by ``(timestamp, hash)`` desc."""
        ...

    def training_columns(self, period: TimeRange, chunk: int) -> AsyncIterator[TrainingColumns]:
        """The transactions of ``period`` in chunks of at most ``chunk`` rows (the last one
        may be shorter; none when there are none), ordered by ``(timestamp, hash)``
        ascending, hashes in code-point order - the order training sorts rows in. One
        statement read in chunks (a server-side cursor on PostgreSQL), not a page query per
        chunk. Consume it inside the unit of work; other statements of the same unit of
        work may run between chunks."""
        ...

    async def sender_activity(
        self, points: Iterable[HistoryPoint]
    ) -> dict[HistoryPoint, SenderActivity]:
        """For each point, what the stored transactions say of its address strictly before
        it (``domain.history``): when it was first seen as sender or receiver, and its
        newest sends (at most ``HISTORY_CAP``, newest first) in the window before the
        point. Every point is answered (an address never seen: ``NO_ACTIVITY``).

        Backed by the (from_address, timestamp, hash) and (to_address, timestamp, hash)
        indexes: a few statements per call whatever the number of points, reading at most
        ``HISTORY_CAP`` sends per distinct address - plus ``HISTORY_CAP`` per point that
        stored sends of the same address interleave with, when that address saturates."""
        ...


class PredictionRepository(Protocol):
    async def add_many(self, predictions: Sequence[Prediction]) -> None:
        """Raises ``DuplicateRecord`` if an id exists; ``TransactionNotFound`` if a
        prediction names a transaction that is not stored."""
        ...

    async def list_by_transaction(self, tx_hash: str) -> list[Prediction]:
        """Every prediction for the transaction, oldest first."""
        ...

    async def served_for(self, hashes: Iterable[str]) -> dict[str, Prediction]:
        """The served (not shadow) prediction of each of ``hashes`` that has one, keyed by
        normalised hash; the oldest one (by ``(created_at, id)``) if there are several.
        One query for the whole batch: the scorer's idempotency check."""
        ...

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Prediction]:
        """Ordered by ``(created_at, id)`` descending."""
        ...

    async def score_histogram(
        self, version_id: uuid.UUID, since: datetime, edges: Sequence[float]
    ) -> ScoreHistogram:
        """The scores of ``version_id``'s predictions (served and shadow) created at or
        after ``since``, counted in the ``len(edges) + 1`` bins cut at the ascending
        ``edges``: bin ``i`` holds ``edges[i - 1] <= score < edges[i]``, the first one
        everything below ``edges[0]``, the last everything from ``edges[-1]`` up. An
        unknown version counts nothing. One aggregate query, index-backed."""
        ...


class AnomalyRepository(Protocol):
    async def add_many(self, anomalies: Sequence[Anomaly]) -> None:
        """Raises ``DuplicateRecord`` if an id exists."""
        ...

    async def get(self, anomaly_id: uuid.UUID) -> Anomaly:
        """Raises ``AnomalyNotFound``."""
        ...

    async def by_prediction_ids(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Anomaly]:
        """The anomalies raised by any of the predictions ``ids``, keyed by prediction id
        (predictions that raised none are left out)."""
        ...

    async def list(self, criteria: AnomalyFilter, page: PageRequest) -> Page[Anomaly]:
        """Ordered by ``(detected_at, id)`` descending."""
        ...

    async def count(self, criteria: AnomalyFilter, *, at_most: int | None = None) -> int:
        """How many anomalies match; with ``at_most``, counting stops there (the answer is
        ``min(matches, at_most)``), so a listing never counts millions of rows."""
        ...

    async def list_in_context(
        self, criteria: AnomalyFilter, page: PageRequest, *, count_at_most: int
    ) -> AnomalyListPage:
        """``list`` (same order, cursors and page), each anomaly with its transaction and
        its flagging prediction's contributions, and ``count(criteria,
        at_most=count_at_most)``: what a listing page shows, read at once (one statement
        on SQL backends). ``count_at_most`` must be a count (>= 0), else ``ValueError``."""
        ...

    async def record_review(self, anomaly: Anomaly) -> None:
        """Persist the review fields (status, reviewed_by, reviewed_at, note) of ``anomaly``.
        Raises ``AnomalyNotFound``."""
        ...

    async def record_assignment(self, anomaly: Anomaly) -> None:
        """Persist ``assigned_to`` and ``assigned_at`` of ``anomaly``. Raises
        ``AnomalyNotFound``."""
        ...


class CommentRepository(Protocol):
    """Anomalies' comment threads; append-only."""

    async def add(self, comment: Comment) -> None:
        """Raises ``AnomalyNotFound`` when the anomaly is not stored and
        ``DuplicateRecord`` when the id exists."""
        ...

    async def list_for(self, anomaly_id: uuid.UUID, limit: int) -> list[Comment]:
        """The anomaly's newest ``limit`` comments, oldest first (by ``(created_at, id)``)."""
        ...


class SessionRepository(Protocol):
    """Console sessions (``domain.sessions``), found by the digest of their token."""

    async def add(self, session: ConsoleSession) -> None:
        """Raises ``DuplicateRecord`` when the id or the digest exists."""
        ...

    async def find_by_digest(self, digest: str) -> ConsoleSession | None: ...

    async def touch(self, session_id: uuid.UUID, at: datetime) -> None:
        """Move ``last_seen_at`` to ``at`` (never backwards); unknown ids are ignored."""
        ...

    async def revoke(self, session_id: uuid.UUID, at: datetime) -> None:
        """Mark the session revoked (the first revocation time is kept); unknown ids are
        ignored."""
        ...

    async def revoke_user(self, user_id: uuid.UUID, at: datetime) -> int:
        """Revoke every live session of the user; return how many."""
        ...

    async def delete_ended_before(self, instant: datetime) -> int:
        """Delete sessions that expired or were revoked before ``instant``; return how many."""
        ...


class ModelRepository(Protocol):
    """Models and their versions: one aggregate, since traffic weights span versions."""

    async def add_model(self, model: Model) -> None:
        """Raises ``DuplicateModel`` when the name is taken."""
        ...

    async def get_model(self, name: str) -> Model:
        """Raises ``ModelNotFound``."""
        ...

    async def list_models(self) -> list[Model]:
        """Ordered by name."""
        ...

    async def add_version(self, version: ModelVersion) -> None:
        """Raises ``ModelNotFound`` for an unknown model id and ``DuplicateModelVersion``
        when the model already has that version number."""
        ...

    async def get_version(self, model_name: str, version: int) -> ModelVersion:
        """Raises ``ModelVersionNotFound`` (or ``ModelNotFound``)."""
        ...

    async def get_version_by_id(self, version_id: uuid.UUID) -> ModelVersion:
        """Raises ``ModelVersionNotFound``."""
        ...

    async def list_versions(self, model_name: str) -> list[ModelVersion]:
        """Ordered by version number. Raises ``ModelNotFound``."""
        ...

    async def list_versions_by_status(self, statuses: Iterable[ModelStatus]) -> list[ModelVersion]:
        """Versions of any model in one of ``statuses``, ordered by (model_id, version)."""
        ...

    async def next_version_number(self, model_id: uuid.UUID) -> int:
        """1 + the highest version number of the model (1 for a model with none)."""
        ...

    async def update_version(self, version: ModelVersion) -> None:
        """Persist the mutable fields: status, traffic_weight, artifact_uri, artifact_sha256,
        params, metrics, thresholds, trained_at. Raises ``ModelVersionNotFound``."""
        ...

    async def lock_serving(self) -> None:
        """Take the serving-set lock: wait until no other unit of work holds it, then hold
        it until this one commits or rolls back. Call it before reading traffic weights
        that the same unit of work rewrites, so concurrent changes cannot break their sum."""
        ...


class LabelRepository(Protocol):
    """Ground-truth labels of transactions; append-only (a newer label supersedes)."""

    async def add(self, label: Label) -> None:
        """Raises ``TransactionNotFound`` when the transaction is not stored and
        ``DuplicateRecord`` when the id exists."""
        ...

    async def latest_for(self, hashes: Iterable[str]) -> dict[str, Label]:
        """The latest label (greatest ``(created_at, id)``) of each of ``hashes`` that has
        one, keyed by normalised hash; unlabelled or unknown hashes are left out."""
        ...

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Label]:
        """Labels created in ``period``, ordered by ``(created_at, id)`` descending."""
        ...


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Raises ``DuplicateUser`` when the username is taken."""
        ...

    async def get(self, user_id: uuid.UUID) -> User:
        """Raises ``UserNotFound``."""
        ...

    async def get_by_username(self, username: str) -> User:
        """Raises ``UserNotFound``."""
        ...

    async def list(self) -> list[User]:
        """Ordered by username."""
        ...

    async def update(self, user: User) -> None:
        """Persist role, active, email and password_hash. Raises ``UserNotFound``."""
        ...


class ApiKeyRepository(Protocol):
    async def add(self, key: APIKey) -> None:
        """Raises ``DuplicateApiKey`` when the prefix is taken, ``UserNotFound`` for an
        unknown user."""
        ...

    async def get(self, key_id: uuid.UUID) -> APIKey:
        """Raises ``ApiKeyNotFound``."""
        ...

    async def find_by_prefix(self, prefix: str) -> APIKey | None: ...

    async def list(self, user_id: uuid.UUID | None = None) -> list[APIKey]:
        """Ordered by (created_at, id); only the user's keys when ``user_id`` is given."""
        ...

    async def revoke(self, key_id: uuid.UUID, at: datetime) -> APIKey:
        """Mark the key revoked (idempotent: the first revocation time is kept).
        Raises ``ApiKeyNotFound``."""
        ...

    async def touch_last_used(self, used: Mapping[uuid.UUID, datetime]) -> None:
        """Record last use for many keys at once; never moves ``last_used_at`` backwards;
        unknown ids are ignored (a key may have been deleted meanwhile)."""
        ...


class AuditLogRepository(Protocol):
    async def append(self, entry: AuditLog) -> None:
        """Raises ``DuplicateRecord`` when an entry with its id is stored."""
        ...

    async def append_many(self, entries: Sequence[AuditLog]) -> None:
        """``append`` of each entry, all or none (one statement where the engine allows)."""
        ...

    async def find(self, entry_id: uuid.UUID) -> AuditLog | None:
        """The entry with that id, or None."""
        ...

    async def put(self, entry: AuditLog) -> None:
        """Insert ``entry``, or replace every field of the stored entry with its id: for
        aggregate rows (one per source and minute) that are kept up to date. Callers
        serialise the updates of one id themselves (``RateCounterRepository.add`` holds a
        lock on its counters until the unit of work ends)."""
        ...

    async def query(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditLog]:
        """Ordered by ``(timestamp, id)`` descending."""
        ...


@dataclass(frozen=True, slots=True, order=True)
class CounterKey:
    """One counter: what is counted (``bucket``, e.g. ``"auth:203.0.113.7"``) in the
    window starting at ``window_start``."""

    bucket: str
    window_start: datetime


class RateCounterRepository(Protocol):
    """Fixed-window counters shared by every process of one database."""

    async def add(
        self, hits: Mapping[CounterKey, int], expires_at: datetime
    ) -> dict[CounterKey, int]:
        """Add each count (0 is allowed) to its counter, creating it (kept at least until
        ``expires_at``) if missing; return every counter's new total, committed hits of
        other units of work included. Each counter touched stays locked against other
        units of work until this one ends, so read-modify-write work done after it in the
        same unit of work is serialised (counters are locked in key order: no deadlock)."""
        ...

    async def prune(self, before: datetime) -> int:
        """Delete the counters that expire before ``before``; return how many."""
        ...


class SystemMetricRepository(Protocol):
    async def append_many(self, metrics: Sequence[SystemMetric]) -> None: ...

    async def query(
        self, name: str | None, period: TimeRange, page: PageRequest
    ) -> Page[SystemMetric]:
        """Ordered by ``(recorded_at, id)`` descending; all names when ``name`` is None."""
        ...


class JobRepository(Protocol):
    """Background jobs (``domain.jobs``): the queue every worker of every replica shares."""

    async def add(self, job: Job) -> None:
        """Raises ``DuplicateRecord`` if the id exists."""
        ...

    async def get(self, job_id: uuid.UUID) -> Job:
        """Raises ``JobNotFound``."""
        ...

    async def next_claimable(self, now: datetime) -> Job | None:
        """The oldest job (by ``(created_at, id)``) a worker may claim at ``now`` - QUEUED,
        or RUNNING with its lease expired - locked for this unit of work until it ends.
        Jobs locked by other units of work are skipped, not waited for (PostgreSQL:
        ``FOR UPDATE SKIP LOCKED``; SQLite: the write transaction excludes other writers,
        so a concurrent claimer waits and then sees the job taken)."""
        ...

    async def save(self, job: Job, *, leased_by: str | None = None) -> bool:
        """Persist the mutable fields (everything but id, kind, payload, max_attempts and
        created_at). With ``leased_by``, only if the stored job is still RUNNING under that
        owner's lease: returns False (and writes nothing) when the lease was lost to
        another worker or the job has ended. Raises ``JobNotFound``."""
        ...

    async def delete_finished_before(self, instant: datetime) -> int:
        """Delete SUCCEEDED and FAILED jobs that finished before ``instant``; return how many."""
        ...

    async def list_recent(self, kind: str, limit: int) -> list[Job]:
        """The newest ``limit`` jobs of ``kind``, newest first (by ``(created_at, id)``)."""
        ...


class UnitOfWork(Protocol):
    """One database transaction around a use case.

    ``async with uow:`` begins; ``await uow.commit()`` makes the work durable; leaving the
    block without committing (or through an exception) rolls everything back.
    """

    transactions: TransactionRepository
    predictions: PredictionRepository
    anomalies: AnomalyRepository
    models: ModelRepository
    users: UserRepository
    api_keys: ApiKeyRepository
    audit: AuditLogRepository
    metrics: SystemMetricRepository
    labels: LabelRepository
    rate_counters: RateCounterRepository
    jobs: JobRepository
    comments: CommentRepository
    sessions: SessionRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def all_or_nothing(self) -> None:
        """Declare (inside ``async with``) that no write of this unit of work is retried
        or recovered from: when one fails, the caller leaves the unit of work and all of
        its work is undone. An adapter may then skip the per-write savepoints that keep a
        unit of work usable after a failed write, and refuse to commit after one. It may
        also hold the writes back and send them with the commit: a refused write then
        raises its domain error (the same one, naming the same key) from ``commit()``
        instead, and nothing of the unit is stored. The unit's reads still see its
        writes."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a new unit of work per call. A factory of *read* units of work (read
    replicas, ``Services.read_uow``) returns ones that may lag the primary by a bounded
    time and refuse to write (``RuntimeError``)."""

    def __call__(self) -> UnitOfWork: ...
