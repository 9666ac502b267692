"""The composition root: the only module that picks implementations for the ports.

``bootstrap(settings)`` wires production (Piccolo on PostgreSQL or SQLite, the system
clock); ``bootstrap_in_memory()`` wires the same shape over the in-memory fakes for tests
and embedding. Neither does I/O: the database connects when it is started.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Protocol

from adapters.clock import SystemClock
from adapters.memory import InMemoryBlobStore, InMemoryDatabase
from adapters.piccolo import PiccoloDatabase
from adapters.security import Argon2PasswordHasher, HmacSecretDigester
from domain.services.scoring import Scorer
from entrypoints.blobs import blob_store_from_url
from entrypoints.settings import MODELS_FOLDER, ConfigError, Settings
from ports import BlobStore, Clock, DetectorFactory, UnitOfWork, UnitOfWorkFactory
from ports.security import PasswordHasher, SecretDigester


class Database(Protocol):
    """What the entrypoints need from a database: its lifecycle, health and units of work."""

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


def _pyod_detectors() -> DetectorFactory:
    # Imported on first use: pyod pulls in scikit-learn (~1.5 s), which commands that
    # never score (backup, migrate, create-user) should not pay for at start-up.
    from adapters.detectors import PyodDetectorFactory

    return PyodDetectorFactory()


@dataclass(frozen=True, slots=True)
class Container:
    """The wired application: hand it to ``create_app`` or use its parts directly."""

    database: Database
    clock: Clock
    auto_migrate: bool = False
    # API key secrets are digested with this; a random key (the default) lives and dies
    # with the process.
    digester: SecretDigester = field(default_factory=lambda: _digester(None))
    passwords: PasswordHasher = field(default_factory=Argon2PasswordHasher)
    # Models: artifacts live in ``blobs``; ``detectors`` trains and loads them; ``scorer``
    # serves the ACTIVE and SHADOW versions (built over ``database`` when not given).
    blobs: BlobStore = field(default_factory=InMemoryBlobStore)
    detectors: DetectorFactory = field(default_factory=_pyod_detectors)
    bootstrap_model: bool = True
    """Train and activate ``bootstrap-tails`` at start-up when no version is active."""
    scorer: Scorer = field(init=False)

    def __post_init__(self) -> None:
        scorer = Scorer(self.database.uow, self.detectors, self.blobs, self.clock)
        object.__setattr__(self, "scorer", scorer)  # frozen: set once, here

    @property
    def uow(self) -> UnitOfWorkFactory:
        """A new unit of work per call, over ``database``."""
        return self.database.uow


def bootstrap(settings: Settings) -> Container:
    """Production wiring from validated settings."""
    return Container(
        database=PiccoloDatabase(settings.database),
        clock=SystemClock(),
        auto_migrate=settings.auto_migrate,
        digester=_digester(settings.secret_key),
        blobs=_model_store(settings),
        bootstrap_model=settings.bootstrap_model,
    )


def _model_store(settings: Settings) -> BlobStore:
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
    bootstrap_model: bool = True,
) -> Container:
    """The same wiring over the in-memory fakes (a new empty store unless ``database``),
    with a random secret key, artifacts in memory (unless ``blobs``) and the real pyod
    detectors."""
    return Container(
        database=database or InMemoryDatabase(),
        clock=clock or SystemClock(),
        passwords=passwords or Argon2PasswordHasher(),
        blobs=blobs or InMemoryBlobStore(),
        bootstrap_model=bootstrap_model,
    )
