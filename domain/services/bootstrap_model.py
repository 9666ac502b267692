"""A first model without set-up: when nothing is active, train and activate one.

The service must be able to score from its first start. When no version of any model is
ACTIVE, ``ensure_active_model`` trains the clearly named model ``bootstrap-tails``
(unsupervised: each transaction scored by its least likely feature, see the ``tails``
algorithm; on the labelled synthetic stream it ranks fraud far better than an isolation
forest or ECOD) on transactions the caller supplies - a synthetic stream
at start-up - and activates it at 100% of traffic. Replace it by training a model on real
data and activating that (then retire the bootstrap version).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from domain.errors import DuplicateModel
from domain.model import ModelStatus, ModelVersion, Transaction
from domain.services import lifecycle
from domain.services.registry import create_model, train_version
from domain.services.training_data import GivenTransactions, Progress
from ports.blobs import BlobStore
from ports.clock import Clock
from ports.detector import DetectorFactory
from ports.repositories import UnitOfWorkFactory

BOOTSTRAP_MODEL = "bootstrap-tails"
BOOTSTRAP_ALGORITHM = "tails"


async def _anything_active(uow: UnitOfWorkFactory) -> bool:
    async with uow() as work:
        return bool(await work.models.list_versions_by_status([ModelStatus.ACTIVE]))


async def ensure_active_model(
    uow: UnitOfWorkFactory,
    detectors: DetectorFactory,
    blobs: BlobStore,
    clock: Clock,
    transactions: Callable[[], Sequence[Transaction]],
    *,
    progress: Progress | None = None,
) -> ModelVersion | None:
    """Train and activate a ``bootstrap-tails`` version on ``transactions()`` unless some
    version is ACTIVE already; returns the new version, or None when nothing was needed.

    Two replicas starting at once may both train; the second to finish finds a version
    active and leaves its own STAGED.
    """
    if await _anything_active(uow):
        return None
    # The model may be left from an earlier start (its versions retired) or a replica
    # may have been faster: either way it exists now, which is all that matters here.
    with contextlib.suppress(DuplicateModel):
        await create_model(
            uow,
            BOOTSTRAP_MODEL,
            BOOTSTRAP_ALGORITHM,
            "trained at start-up on a synthetic stream because no model was active; "
            "replace it with a model trained on real data",
            actor=None,
            clock=clock,
        )
    version = await train_version(
        uow,
        detectors,
        blobs,
        clock,
        BOOTSTRAP_MODEL,
        GivenTransactions(transactions()),
        actor=None,
        progress=progress,
    )
    if await _anything_active(uow):
        return None
    return await lifecycle.activate(uow, BOOTSTRAP_MODEL, version.version, actor=None, clock=clock)
