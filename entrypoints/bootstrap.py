"""The composition root: the only module that picks implementations for the ports.

``bootstrap(settings)`` wires production (Piccolo on PostgreSQL or SQLite, the system
clock); ``bootstrap_in_memory()`` wires the same shape over the in-memory fakes for tests
and embedding; both go through ``wire``, and that through ``services_over``, the one place
the use cases' ``Services`` are built. None does I/O: the database connects when started.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from adapters.clock import SystemClock
from adapters.memory import InMemoryBlobStore, InMemoryDatabase, InMemoryLocks
from adapters.numpy_features import NumpyFeatureEngine
from adapters.piccolo import PiccoloDatabase
from adapters.security import Argon2PasswordHasher, HmacSecretDigester
from domain.policies import AlertBudget
from domain.services import Services
from domain.services.key_cache import VerifiedKeys
from domain.services.scoring import Scorer
from entrypoints.blobs import blob_store_from_url
from entrypoints.settings import MODELS_FOLDER, ConfigError, Settings
from ports import (
    BlobStore,
    Clock,
    Detector,
    DetectorFactory,
    Locks,
    TrainedDetector,
    TrainingSet,
    UnitOfWork,
    UnitOfWorkFactory,
)
from ports.security import PasswordHasher, SecretDigester


class Database(Protocol):
    """What the entrypoints need from a database: its lifecycle, health, units of work and
    the named locks its processes share."""

    @property
    def locks(self) -> Locks: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def migrate(self) -> list[str]:
        """Apply pending migrations; return the ids applied, oldest first."""
        ...

    async def migrate_backwards(self, to: str = "all") -> list[str]:
        """Revert ``"all"``, ``"1"`` (the latest) or from the id ``to`` on; return the
        reverted ids, newest first. Raises ``ValueError`` for an id that is not applied."""
        ...

    async def pending_migrations(self) -> list[str]: ...

    async def ping(self) -> None:
        """Round-trip to the database; raises ``domain.errors.Unavailable``."""
        ...

    def uow(self) -> UnitOfWork: ...


@runtime_checkable
class ReplicatedDatabase(Protocol):
    """A database that also opens read units of work which may lag (read replicas)."""

    def read_uow(self) -> UnitOfWork: ...


class LazyPyodDetectors:
    """The pyod ``DetectorFactory``, imported on first use: pyod, scikit-learn and numpy
    take seconds to import, which commands that never train or score (backup, migrate,
    create-user) should not pay for at start-up."""

    def __init__(self) -> None:
        self._factory: DetectorFactory | None = None

    def _loaded(self) -> DetectorFactory:
        if self._factory is None:
            from adapters.detectors import PyodDetectorFactory

            self._factory = PyodDetectorFactory()
        return self._factory

    @property
    def algorithms(self) -> frozenset[str]:
        return self._loaded().algorithms

    def train(
        self, algorithm: str, params: Mapping[str, object], data: TrainingSet
    ) -> TrainedDetector:
        return self._loaded().train(algorithm, params, data)

    def load(self, artifact: bytes) -> Detector:
        return self._loaded().load(artifact)


@dataclass(frozen=True, slots=True)
class Container:
    """The wired application: hand it to ``create_app`` or use its parts directly.
    Build it with ``wire`` (or ``bootstrap`` / ``bootstrap_in_memory``)."""

    database: Database
    services: Services
    """What every use case is given; its ``uow`` opens units of work over ``database``."""
    scorer: Scorer
    """Serves the ACTIVE and SHADOW versions; also ``services.serving``, so changes to the
    serving set are loaded at once."""
    auto_migrate: bool = False
    bootstrap_model: bool = True
    """Train and activate ``bootstrap-tails`` at start-up when no version is active."""


def services_over(
    uow: UnitOfWorkFactory,
    *,
    clock: Clock | None = None,
    digester: SecretDigester | None = None,
    passwords: PasswordHasher | None = None,
    blobs: BlobStore | None = None,
    detectors: DetectorFactory | None = None,
    alerts: AlertBudget | None = None,
    locks: Locks | None = None,
    api_key_cache_s: float = 0.0,
    reads: UnitOfWorkFactory | None = None,
) -> Services:
    """The use cases' ``Services`` over ``uow``, serving nothing (``wire`` adds the
    scorer). Defaults: the system clock, API key secrets digested with a random key (it
    lives and dies with the process), argon2 passwords, artifacts in memory, the pyod
    detectors (imported on first use), the default alert budget, training features computed
    in bulk with numpy, locks of this process only, verified API keys cached for
    ``api_key_cache_s`` seconds (0: not cached), and ``reads`` as ``uow`` unless given."""
    return Services(
        uow=uow,
        reads=reads,
        clock=SystemClock() if clock is None else clock,
        blobs=InMemoryBlobStore() if blobs is None else blobs,
        detectors=LazyPyodDetectors() if detectors is None else detectors,
        passwords=Argon2PasswordHasher() if passwords is None else passwords,
        digester=_digester(None) if digester is None else digester,
        locks=InMemoryLocks() if locks is None else locks,
        alerts=AlertBudget() if alerts is None else alerts,
        verified_keys=VerifiedKeys(api_key_cache_s),
        features=NumpyFeatureEngine(),
    )


def wire(
    database: Database,
    *,
    clock: Clock | None = None,
    digester: SecretDigester | None = None,
    passwords: PasswordHasher | None = None,
    blobs: BlobStore | None = None,
    detectors: DetectorFactory | None = None,
    alerts: AlertBudget | None = None,
    auto_migrate: bool = False,
    bootstrap_model: bool = True,
    api_key_cache_s: float = 0.0,
) -> Container:
    """The application over ``database``: ``services_over`` its units of work and locks
    (same defaults, and its read units of work when it has replicas), with the scorer as
    what serves."""
    ports = services_over(
        database.uow,
        locks=database.locks,
        reads=database.read_uow if isinstance(database, ReplicatedDatabase) else None,
        clock=clock,
        digester=digester,
        passwords=passwords,
        blobs=blobs,
        detectors=detectors,
        alerts=alerts,
        api_key_cache_s=api_key_cache_s,
    )
    scorer = Scorer(ports)
    return Container(
        database=database,
        services=dataclasses.replace(ports, serving=scorer),
        scorer=scorer,
        auto_migrate=auto_migrate,
        bootstrap_model=bootstrap_model,
    )


def bootstrap(settings: Settings) -> Container:
    """Production wiring from validated settings."""
    return wire(
        PiccoloDatabase(settings.database, settings.replicas),
        clock=SystemClock(),
        auto_migrate=settings.auto_migrate,
        digester=_digester(settings.secret_key),
        blobs=model_store(settings),
        alerts=settings.alerts,
        bootstrap_model=settings.bootstrap_model,
        api_key_cache_s=settings.api_key_cache_s,
    )


def model_store(settings: Settings) -> BlobStore:
    """The configured model artifact store (``CHAINWATCH_MODEL_STORE``, by default
    ``$CHAINWATCH_DATA_DIR/models``): serving reads it, backups copy from it."""
    url = settings.model_store or (settings.data_dir / MODELS_FOLDER).as_uri()
    try:
        return blob_store_from_url(url, settings.s3)
    except ValueError as error:
        raise ConfigError(f"CHAINWATCH_MODEL_STORE: {error}") from None


def _digester(secret_key: str | None) -> SecretDigester:
    return HmacSecretDigester(secret_key or secrets.token_urlsafe(48))


def bootstrap_in_memory(
    database: InMemoryDatabase | None = None,
    clock: Clock | None = None,
    *,
    passwords: PasswordHasher | None = None,
    blobs: BlobStore | None = None,
    detectors: DetectorFactory | None = None,
    alerts: AlertBudget | None = None,
    bootstrap_model: bool = True,
    api_key_cache_s: float = 0.0,
) -> Container:
    """The same wiring over the in-memory fakes (a new empty store unless ``database``),
    with a random secret key, artifacts in memory (unless ``blobs``), the real pyod
    detectors (unless ``detectors``), the default alert budget (unless ``alerts``) and no
    API key cache (unless ``api_key_cache_s``)."""
    return wire(
        InMemoryDatabase() if database is None else database,
        clock=clock,
        passwords=passwords,
        blobs=blobs,
        detectors=detectors,
        alerts=alerts,
        bootstrap_model=bootstrap_model,
        api_key_cache_s=api_key_cache_s,
    )
