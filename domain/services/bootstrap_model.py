"""A first model without set-up: when nothing is active, train and activate one.

The service must be able to score from its first start. When no version of any model is
ACTIVE, ``ensure_active_model`` trains the clearly named model ``bootstrap-tails``
(unsupervised: each transaction scored by its least likely feature, see the ``tails``
algorithm; on the labelled synthetic stream it ranks fraud far better than an isolation
forest or ECOD) on transactions the caller supplies - a synthetic stream
at start-up - and activates it at 100% of traffic. Replace it by training a model on real
data and activating that (then retire the bootstrap version).

Several replicas starting at the same moment train it once: the check and the training
run under the database-wide lock ``BOOTSTRAP_LOCK`` (``Services.locks``: a PostgreSQL
advisory lock, a file lock next to a SQLite file), so the others wait, then find the new
version active and train nothing.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence

from domain.errors import DuplicateModel
from domain.model import ModelStatus, ModelVersion, Transaction
from domain.services import lifecycle
from domain.services.registry import create_model, train_version
from domain.services.services import Services
from domain.services.training_data import GivenTransactions, Progress

BOOTSTRAP_MODEL = "bootstrap-tails"
BOOTSTRAP_ALGORITHM = "tails"
BOOTSTRAP_LOCK = "bootstrap-model"


async def _anything_active(services: Services) -> bool:
    async with services.uow() as work:
        return bool(await work.models.list_versions_by_status([ModelStatus.ACTIVE]))


async def ensure_active_model(
    services: Services,
    transactions: Callable[[], Sequence[Transaction]],
    *,
    actor: uuid.UUID | None,
    progress: Progress | None = None,
) -> ModelVersion | None:
    """Train and activate a ``bootstrap-tails`` version on ``transactions()`` unless some
    version is ACTIVE already; returns the new version, or None when nothing was needed.
    ``actor`` is ``None`` when the service does it by itself at start-up.

    Runs under ``BOOTSTRAP_LOCK``: a concurrent caller - in this process or another one
    on the same database - waits for the first one's training, then returns None.
    """
    if await _anything_active(services):
        return None
    async with services.locks.exclusive(BOOTSTRAP_LOCK):
        if await _anything_active(services):
            return None
        return await _train_and_activate(services, transactions, actor, progress)


async def _train_and_activate(
    services: Services,
    transactions: Callable[[], Sequence[Transaction]],
    actor: uuid.UUID | None,
    progress: Progress | None,
) -> ModelVersion | None:
    # The model may be left from an earlier start (its versions retired): it exists,
    # which is all that matters here.
    with contextlib.suppress(DuplicateModel):
        await create_model(
            services,
            BOOTSTRAP_MODEL,
            BOOTSTRAP_ALGORITHM,
            "trained at start-up on a synthetic stream because no model was active; "
            "replace it with a model trained on real data",
            actor=actor,
        )
    version = await train_version(
        services,
        BOOTSTRAP_MODEL,
        GivenTransactions(transactions()),
        actor=actor,
        progress=progress,
    )
    if await _anything_active(services):  # activated meanwhile by someone not locking
        return None
    return await lifecycle.activate(services, BOOTSTRAP_MODEL, version.version, actor=actor)
