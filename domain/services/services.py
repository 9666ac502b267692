"""What every use case is given: the ports, bundled once by the composition root.

Every use case reads ``verb(services, <what is asked>..., *, actor, <options>)``:
``services`` first, then the request, then keyword-only options; ``actor`` is the id of
the user asking (``None`` for the operator's CLI and for the service itself). The
composition root (``entrypoints.bootstrap``) builds one ``Services`` per process; tests
build theirs over the in-memory fakes the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from ports.blobs import BlobStore
from ports.clock import Clock
from ports.detector import DetectorFactory
from ports.repositories import UnitOfWorkFactory
from ports.security import PasswordHasher, SecretDigester


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
