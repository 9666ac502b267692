"""What to review next: the stored, unlabelled transactions whose label would teach the
serving models most (``domain.active_learning`` says how they are chosen).

Candidates are bounded and read through indexed access paths only: the newest
``candidates`` served predictions of the ACTIVE, calibrated versions created within
``window`` of now (``predictions.list_by_time``, newest first, at most
``candidates * SCAN_FACTOR`` prediction rows read, so shadow predictions cannot make the
scan unbounded), their transactions (one ``get_many``) and latest labels (one
``latest_for``). Labelled ones are left out of the queue, but they count as known for
the diversity step: a transaction just like one an analyst has labelled is worth less.
Versions trained before calibration are left out (their raw scores are not quantiles).
Distances are measured in the newest active feature set's transaction-only columns
(``features.static_features``: a set with sender history is compared on the rest).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.active_learning import Candidate, Pick, QueuePolicy, select_for_review
from domain.calibration import REFERENCE_KEY
from domain.errors import InvalidInput
from domain.features import static_features
from domain.model import ModelStatus, Prediction, Transaction
from domain.pagination import MAX_LIMIT, PageRequest
from domain.services.naming import version_tag
from domain.services.services import Services
from ports.repositories import TimeRange, UnitOfWork

DEFAULT_LIMIT = 20
MAX_QUEUE = 200
DEFAULT_WINDOW = timedelta(days=7)
DEFAULT_CANDIDATES = 2_000
SCAN_FACTOR = 5


@dataclass(frozen=True, slots=True)
class ReviewItem:
    transaction: Transaction
    prediction: Prediction
    """The served prediction that made it a candidate."""
    model_version: str
    """The tag of the version that served it (``naming.version_tag``)."""
    pick: Pick
    """Why it is in the queue: score, uncertainty, informativeness, distance, rank."""


@dataclass(frozen=True, slots=True)
class ReviewQueue:
    items: list[ReviewItem]
    """Most valuable first."""
    candidates: int
    """Unlabelled transactions considered."""
    labelled: int
    """Labelled transactions in the window (left out, used as known points)."""
    since: datetime
    """Start of the window the candidates were predicted in."""
    alert_share: float
    feature_version: int | None
    """The feature set distances were measured in (None: no candidates)."""


@dataclass(frozen=True, slots=True)
class _Gathered:
    predictions: list[Prediction]
    transactions: dict[str, Transaction]
    labelled: set[str]
    tags: dict[str, str]
    """Version id (as text) -> tag."""
    feature_version: int | None


async def review_queue(
    services: Services,
    *,
    limit: int = DEFAULT_LIMIT,
    window: timedelta = DEFAULT_WINDOW,
    candidates: int = DEFAULT_CANDIDATES,
    salt: str = "",
) -> ReviewQueue:
    """Up to ``limit`` (1 to ``MAX_QUEUE``) unlabelled transactions to review, most
    valuable first, with the reasons (see the module docstring). ``salt`` changes the
    exploration order (``QueuePolicy.salt``; the API keeps it empty). Raises ``InvalidInput``
    naming ``limit``, ``window`` or ``candidates`` when out of range."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_QUEUE:
        raise InvalidInput(f"limit must be between 1 and {MAX_QUEUE}", field="limit")
    if window <= timedelta(0):
        raise InvalidInput("window must be positive", field="window")
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
        raise InvalidInput("candidates must be a positive integer", field="candidates")
    since = services.clock.now() - window
    policy = QueuePolicy(alert_share=services.alerts.alert_share, salt=salt)
    async with services.read_uow() as work:
        gathered = await _gather(work, TimeRange(since, None), candidates)
    version = gathered.feature_version
    pool = [p for p in gathered.predictions if p.transaction_hash not in gathered.labelled]
    if version is None or not pool:
        return ReviewQueue([], len(pool), len(gathered.labelled), since, policy.alert_share, None)
    txs = gathered.transactions

    def choose() -> list[Pick]:
        known = [static_features(txs[h], version) for h in sorted(gathered.labelled)]
        rows = [
            Candidate(
                p.transaction_hash, p.score, static_features(txs[p.transaction_hash], version)
            )
            for p in pool
        ]
        return select_for_review(rows, limit, policy=policy, labelled=known)

    picks = await asyncio.to_thread(choose)
    served = {p.transaction_hash: p for p in pool}
    items = [
        ReviewItem(
            txs[pick.key],
            served[pick.key],
            gathered.tags[str(served[pick.key].model_version_id)],
            pick,
        )
        for pick in picks
    ]
    return ReviewQueue(items, len(pool), len(gathered.labelled), since, policy.alert_share, version)


async def _gather(work: UnitOfWork, period: TimeRange, candidates: int) -> _Gathered:
    active = [
        v
        for v in await work.models.list_versions_by_status([ModelStatus.ACTIVE])
        if REFERENCE_KEY in v.thresholds
    ]
    if not active:
        return _Gathered([], {}, set(), {}, None)
    wanted = {v.id for v in active}
    newest: dict[str, Prediction] = {}
    page = PageRequest(min(MAX_LIMIT, candidates))
    read = 0
    while len(newest) < candidates and read < candidates * SCAN_FACTOR:
        found = await work.predictions.list_by_time(period, page)
        read += len(found.items)
        for prediction in found.items:
            if prediction.served and prediction.model_version_id in wanted:
                newest.setdefault(prediction.transaction_hash, prediction)
        if found.next_cursor is None:
            break
        page = PageRequest.from_token(page.limit, found.next_cursor)
    chosen = list(newest.values())[:candidates]
    hashes = [p.transaction_hash for p in chosen]
    transactions = await work.transactions.get_many(hashes)
    labels = await work.labels.latest_for(hashes)
    names = {model.id: model.name for model in await work.models.list_models()}
    tags = {str(v.id): version_tag(names.get(v.model_id, "?"), v.version) for v in active}
    kept = [p for p in chosen if p.transaction_hash in transactions]
    return _Gathered(
        kept,
        transactions,
        set(labels) & {p.transaction_hash for p in kept},
        tags,
        max(v.feature_version for v in active),
    )
