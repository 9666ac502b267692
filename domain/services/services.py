"""What every use case is given: the ports, bundled once by the composition root.

Every use case reads ``verb(services, <what is asked>..., *, actor, <options>)``:
``services`` first, then the request, then keyword-only options; ``actor`` is the id of
the user asking (``None`` for the operator's CLI and for the service itself). The
composition root (``entrypoints.bootstrap``) builds one ``Services`` per process; tests
build theirs over the in-memory fakes the same way. Besides the ports it carries the one
configured policy the use cases apply, the alert budget, and the process's caches of
verified API keys and of model versions' tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from domain.policies import AlertBudget
from domain.services.key_cache import VerifiedKeys
from domain.services.version_tags import VersionTags
from ports.blobs import BlobStore
from ports.clock import Clock
from ports.detector import DetectorFactory
from ports.features import FeatureEngine
from ports.locks import Locks
from ports.repositories import UnitOfWork, UnitOfWorkFactory
from ports.security import PasswordHasher, SecretDigester


class Serving(Protocol):
    """What serves model versions in this process (the ``Scorer``), told when the
    registry changed."""

    async def reload(self) -> None:
        """Load the registry's serving set again if one is loaded already. Raises a
        ``DomainError`` when a version cannot be loaded (the previous set stays)."""
        ...


class _NothingServed:
    """A process that serves no models: a registry change has nothing to reload."""

    async def reload(self) -> None:
        return None


NOTHING_SERVED: Serving = _NothingServed()


@dataclass(frozen=True, slots=True)
class Services:
    """The ports the use cases depend on (see the module docstring)."""

    uow: UnitOfWorkFactory
    """A new unit of work per call."""
    clock: Clock
    blobs: BlobStore
    """Where model artifacts live."""
    detectors: DetectorFactory
    """Trains detectors and loads their artifacts."""
    passwords: PasswordHasher
    digester: SecretDigester
    """Digests API key secrets."""
    locks: Locks
    """Named locks shared by every process of the database (do-once work: bootstrap)."""
    serving: Serving = NOTHING_SERVED
    """Reloaded after a change to which versions serve (a failure is logged, not raised:
    the change is committed already)."""
    alerts: AlertBudget = field(default_factory=AlertBudget)
    """Which calibrated scores are anomalies, and of which severity (from the settings)."""
    verified_keys: VerifiedKeys = field(default_factory=VerifiedKeys)
    """API keys verified recently, answered without the database (off by default; the
    settings' ``api_key_cache_s``). Revoking a key or changing a user here forgets theirs."""
    features: FeatureEngine | None = None
    """Computes feature rows of stored transactions in bulk for training (the composition
    root wires numpy's); ``None`` pages through ``Transaction`` objects and computes each
    row with ``domain.features`` - the reference path, much slower on millions of rows."""
    reads: UnitOfWorkFactory | None = None
    """Read-only units of work that may lag (read replicas); ``None``: ``uow``."""
    version_tags: VersionTags = field(default_factory=VersionTags)
    """Model versions' tags by id, kept for the process (tags never change)."""

    def read_uow(self) -> UnitOfWork:
        """A unit of work for listing and reporting reads, which may lag the primary by
        the configured bound (a read replica when one is healthy). Never write in it, and
        never use it for a read that must see the caller's own recent write (a lookup by
        key right after creating or changing the thing): use ``uow()`` for those."""
        return self.uow() if self.reads is None else self.reads()
