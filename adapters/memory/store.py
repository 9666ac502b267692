"""The shared in-memory store and one unit of work's view of it.

Committed rows live in ``Table`` dicts shared by every unit of work of one database. A unit
of work reads and writes through ``TableView`` overlays: its own writes are visible to it
alone until ``Workspace.commit`` merges them, and are simply dropped on rollback. Reads see
the latest committed rows (read committed, PostgreSQL's default). Rows are deep-copied on
the way in and out, so a caller mutating an entity can never change what is stored.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from domain.comments import Comment
from domain.errors import (
    Conflict,
    DomainError,
    DuplicateApiKey,
    DuplicateModel,
    DuplicateModelVersion,
    DuplicateRecord,
    DuplicateUser,
)
from domain.jobs import Job
from domain.model import (
    Anomaly,
    APIKey,
    AuditLog,
    Label,
    Model,
    ModelVersion,
    Prediction,
    SystemMetric,
    Transaction,
    User,
)
from domain.pagination import Page
from domain.sessions import ConsoleSession
from ports.repositories import CounterKey

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Unique(Generic[V]):
    """A secondary unique key of a table; ``error`` builds the domain error for a clash."""

    key: Callable[[V], Hashable]
    error: Callable[[V], DomainError]


@dataclass(slots=True)
class RateCounter:
    """A stored ``RateCounterRepository`` counter."""

    total: int
    expires_at: datetime


class Table(Generic[K, V]):
    """Committed rows of one entity, keyed by primary key."""

    def __init__(self, kind: str, unique: Sequence[Unique[V]] = ()) -> None:
        self.kind = kind
        self.unique = tuple(unique)
        self.rows: dict[K, V] = {}


class TableView(Generic[K, V]):
    """One unit of work's view of a table: the committed rows overlaid with its own writes."""

    def __init__(self, table: Table[K, V]) -> None:
        self._table = table
        self._written: dict[K, V] = {}
        self._inserted: set[K] = set()
        self._deleted: set[K] = set()

    def __contains__(self, key: object) -> bool:
        if key in self._deleted:
            return False
        return key in self._written or key in self._table.rows

    def get(self, key: K) -> V | None:
        """A private copy of the row, or None."""
        if key in self._deleted:
            return None
        row = self._written.get(key, self._table.rows.get(key))
        return None if row is None else copy.deepcopy(row)

    def scan(self) -> list[V]:
        """Every visible row, *not* copied: filter and sort them, then copy what leaves."""
        merged = dict(self._table.rows)
        merged.update(self._written)
        return [row for key, row in merged.items() if key not in self._deleted]

    def items(self) -> list[tuple[K, V]]:
        """Every visible row with its key, *not* copied (as ``scan``)."""
        return self._merged_items()

    def insert(self, key: K, row: V) -> None:
        """Add a new row; raises ``DuplicateRecord`` or the clashing unique key's error."""
        if key in self:
            raise DuplicateRecord(self._table.kind, key)
        self._check_unique(key, row)
        self._written[key] = copy.deepcopy(row)
        self._inserted.add(key)
        self._deleted.discard(key)

    def delete(self, key: K) -> None:
        """Remove a row, if there is one."""
        self._written.pop(key, None)
        self._inserted.discard(key)
        self._deleted.add(key)

    def replace(self, key: K, row: V) -> None:
        """Overwrite an existing row (the caller has checked that it exists)."""
        self._check_unique(key, row)
        self._written[key] = copy.deepcopy(row)

    def validate_commit(self) -> None:
        """Re-check this view's writes against rows other units of work committed meanwhile."""
        for key in self._inserted:
            if key in self._table.rows:
                raise Conflict(
                    f"{self._table.kind} {key!s} was stored by a concurrent unit of work; retry"
                )
        for key, row in self._written.items():
            self._check_unique(key, row)

    def apply_commit(self) -> None:
        for key in self._deleted:
            self._table.rows.pop(key, None)
        self._table.rows.update(self._written)

    def _check_unique(self, key: K, row: V) -> None:
        for unique in self._table.unique:
            wanted = unique.key(row)
            for other_key, other in self._merged_items():
                if other_key != key and unique.key(other) == wanted:
                    raise unique.error(row)

    def _merged_items(self) -> list[tuple[K, V]]:
        merged = dict(self._table.rows)
        merged.update(self._written)
        return [(key, row) for key, row in merged.items() if key not in self._deleted]


class Store:
    """Every table of one in-memory database."""

    def __init__(self) -> None:
        self.transactions: Table[str, Transaction] = Table("transaction")
        self.predictions: Table[uuid.UUID, Prediction] = Table("prediction")
        self.anomalies: Table[uuid.UUID, Anomaly] = Table("anomaly")
        self.models: Table[uuid.UUID, Model] = Table(
            "model", [Unique(_model_name, _duplicate_model)]
        )
        self.model_versions: Table[uuid.UUID, ModelVersion] = Table(
            "model version", [Unique(_model_version_number, _duplicate_version)]
        )
        self.users: Table[uuid.UUID, User] = Table("user", [Unique(_username, _duplicate_user)])
        self.api_keys: Table[uuid.UUID, APIKey] = Table(
            "API key", [Unique(_key_prefix, _duplicate_key)]
        )
        self.audit: Table[uuid.UUID, AuditLog] = Table("audit log entry")
        self.metrics: Table[uuid.UUID, SystemMetric] = Table("system metric")
        self.labels: Table[uuid.UUID, Label] = Table("label")
        self.rate_counters: Table[CounterKey, RateCounter] = Table("rate counter")
        # Counters are locked like rows of a database (``RateCounterRepository.add``): a
        # workspace that touched one holds this lock until its unit of work ends.
        self.rate_counters_lock = asyncio.Lock()
        self.jobs: Table[uuid.UUID, Job] = Table("job")
        self.comments: Table[uuid.UUID, Comment] = Table("comment")
        self.sessions: Table[uuid.UUID, ConsoleSession] = Table(
            "session", [Unique(_session_digest, _duplicate_session)]
        )
        # Jobs a unit of work has locked to claim (``JobRepository.next_claimable``):
        # others skip them until it ends, as PostgreSQL's FOR UPDATE SKIP LOCKED does.
        self.claimed_jobs: set[uuid.UUID] = set()
        # The serving-set lock (``ModelRepository.lock_serving``); like a database's
        # transaction-scoped lock, a workspace holds it until its unit of work ends.
        self.serving_lock = asyncio.Lock()


class Workspace:
    """The uncommitted state of one unit of work; used for at most one commit."""

    def __init__(self, store: Store) -> None:
        self.transactions = TableView(store.transactions)
        self.predictions = TableView(store.predictions)
        self.anomalies = TableView(store.anomalies)
        self.models = TableView(store.models)
        self.model_versions = TableView(store.model_versions)
        self.users = TableView(store.users)
        self.api_keys = TableView(store.api_keys)
        self.audit = TableView(store.audit)
        self.metrics = TableView(store.metrics)
        self.labels = TableView(store.labels)
        self.rate_counters = TableView(store.rate_counters)
        self.jobs = TableView(store.jobs)
        self.comments = TableView(store.comments)
        self.sessions = TableView(store.sessions)
        self.store = store
        self.held_locks: list[asyncio.Lock] = []
        self.claimed_jobs: set[uuid.UUID] = set()

    async def hold(self, lock: asyncio.Lock) -> None:
        """Acquire ``lock`` for the rest of this workspace's life (re-entrant)."""
        if lock not in self.held_locks:
            await lock.acquire()
            self.held_locks.append(lock)

    def claim_job(self, job_id: uuid.UUID) -> None:
        """Lock the job for the rest of this workspace's life (see ``Store.claimed_jobs``)."""
        self.store.claimed_jobs.add(job_id)
        self.claimed_jobs.add(job_id)

    def release_locks(self) -> None:
        while self.held_locks:
            self.held_locks.pop().release()
        self.store.claimed_jobs -= self.claimed_jobs
        self.claimed_jobs.clear()

    def commit(self) -> None:
        """Merge every write into the store, all or nothing."""
        views: tuple[TableView[Any, Any], ...] = (
            self.transactions,
            self.predictions,
            self.anomalies,
            self.models,
            self.model_versions,
            self.users,
            self.api_keys,
            self.audit,
            self.metrics,
            self.labels,
            self.rate_counters,
            self.jobs,
            self.comments,
            self.sessions,
        )
        # Validate everything before touching the store, so a clash leaves it unchanged.
        for view in views:
            view.validate_commit()
        for view in views:
            view.apply_commit()


def _model_name(model: Model) -> Hashable:
    return model.name


def _duplicate_model(model: Model) -> DomainError:
    return DuplicateModel(model.name)


def _model_version_number(version: ModelVersion) -> Hashable:
    return (version.model_id, version.version)


def _duplicate_version(version: ModelVersion) -> DomainError:
    # The repository reports clashes it sees with the model's name; this one is the
    # commit-time backstop, which only knows the model's id.
    return DuplicateModelVersion(str(version.model_id), version.version)


def _username(user: User) -> Hashable:
    return user.username


def _duplicate_user(user: User) -> DomainError:
    return DuplicateUser(user.username)


def _key_prefix(key: APIKey) -> Hashable:
    return key.prefix


def _duplicate_key(key: APIKey) -> DomainError:
    return DuplicateApiKey(key.prefix)


def _session_digest(session: ConsoleSession) -> Hashable:
    return session.digest


def _duplicate_session(session: ConsoleSession) -> DomainError:
    return DuplicateRecord("session", session.id)


def copied(rows: Iterable[V]) -> list[V]:
    """Private copies of stored rows, safe to hand to callers."""
    return [copy.deepcopy(row) for row in rows]


def copied_page(page: Page[V]) -> Page[V]:
    return Page(copied(page.items), page.next_cursor)
