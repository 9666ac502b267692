"""``Services`` for use-case tests: the composition root's ``services_over`` a unit of work
factory, on a ``ManualClock`` unless a clock is given, with cheap password hashing."""

from __future__ import annotations

from adapters.security import Argon2PasswordHasher
from domain.services import Services
from entrypoints.bootstrap import services_over
from ports import BlobStore, Clock, DetectorFactory, SecretDigester, UnitOfWorkFactory
from tests.clocks import ManualClock

CHEAP_PASSWORDS = Argon2PasswordHasher.cheap()


def services_for(
    uow: UnitOfWorkFactory,
    clock: Clock | None = None,
    *,
    blobs: BlobStore | None = None,
    detectors: DetectorFactory | None = None,
    digester: SecretDigester | None = None,
) -> Services:
    return services_over(
        uow,
        clock=ManualClock() if clock is None else clock,
        passwords=CHEAP_PASSWORDS,
        blobs=blobs,
        detectors=detectors,
        digester=digester,
    )
