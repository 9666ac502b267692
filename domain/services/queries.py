"""The read side: what the API and the CLI show, each query one short unit of work.

Records join what a reader needs in a fixed number of queries per page, never one per row:
an anomaly page is one ``list_in_context`` read (the anomalies with their transactions,
their flagging predictions' contributions and the bounded count - one statement on
SQL backends); model versions' tags come from the process's ``VersionTags`` (the
registry is read only for a version not seen before).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from domain.comments import Comment
from domain.errors import AnomalyNotFound, InvalidInput, TransactionNotFound, UserNotFound
from domain.explanations import Contribution
from domain.model import (
    Anomaly,
    AuditLog,
    Label,
    Outcome,
    Prediction,
    Severity,
    SystemMetric,
    Transaction,
    User,
)
from domain.pagination import Page, PageRequest, paginate
from domain.services.auth import GRANTS, Permission
from domain.services.naming import parse_version_tag
from domain.services.services import Services
from domain.values import normalize_address, normalize_hash
from ports.repositories import AnomalyFilter, AuditFilter, TimeRange, UnitOfWork


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    prediction: Prediction
    model_version: str


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    transaction: Transaction
    label: Label | None
    """The latest label, if any."""
    predictions: list[PredictionRecord]
    """Its predictions (served and shadow), oldest first."""


@dataclass(frozen=True, slots=True)
class AnomalyRecord:
    anomaly: Anomaly
    transaction: Transaction
    model_version: str
    """The tag of the version that flagged it (``naming.version_tag``)."""
    contributions: tuple[Contribution, ...] | None
    """Why the flagging prediction scored so; None when not recorded."""


@dataclass(frozen=True, slots=True)
class AnomalyListing:
    items: list[AnomalyRecord]
    total_count: int
    """How many anomalies match the criteria, on every page - exactly when
    ``total_exact``, else at least that many (counting stopped at the bound)."""
    next_cursor: str | None
    total_exact: bool = True


async def get_transaction(services: Services, tx_hash: str) -> TransactionRecord:
    """With its latest label and its predictions. Raises ``InvalidInput`` for a malformed
    hash and ``TransactionNotFound``."""
    tx_hash = normalize_hash(tx_hash, "hash")
    async with services.uow() as work:
        transaction = await work.transactions.get(tx_hash)
        labels = await work.labels.latest_for([tx_hash])
        predictions = await work.predictions.list_by_transaction(tx_hash)
        tags = await services.version_tags.of(work, (p.model_version_id for p in predictions))
    records = [_prediction_record(p, tags) for p in predictions]
    return TransactionRecord(transaction, labels.get(tx_hash), records)


def _prediction_record(prediction: Prediction, tags: dict[uuid.UUID, str]) -> PredictionRecord:
    tag = tags.get(prediction.model_version_id, str(prediction.model_version_id))
    return PredictionRecord(prediction, tag)


async def list_transactions(
    services: Services, address: str | None, period: TimeRange, page: PageRequest
) -> Page[Transaction]:
    """Newest first; only those sent from or to ``address`` when given."""
    async with services.read_uow() as work:
        if address is None:
            return await work.transactions.list_by_time(period, page)
        return await work.transactions.list_by_address(
            normalize_address(address, "address"), period, page
        )


async def resolve_version(services: Services, reference: str) -> uuid.UUID:
    """The id of a model version named by its id or its tag (``iforest:3``).

    Raises ``InvalidInput`` (field ``model_version``) for neither, ``ModelVersionNotFound``
    or ``ModelNotFound`` for a tag of nothing stored."""
    text = reference.strip()
    try:
        return uuid.UUID(text)
    except ValueError:
        pass
    tag = parse_version_tag(text)
    if tag is None:
        raise InvalidInput(
            "model_version must be a version id or <model name>:<version>, e.g. iforest:3",
            field="model_version",
        )
    async with services.uow() as work:
        version = await work.models.get_version(*tag)
    return version.id


COUNT_BOUND = 1_000
"""Listings count matching anomalies up to this many unless an exact count is asked for:
the cost of a page must not grow with millions of matching rows. Counting 10,000 index
entries took about 0.9 ms of a page's 5 ms budget at 10 M transactions; 1,000 ("1,000+")
is as useful to a reader and costs a tenth."""


async def list_anomalies(
    services: Services,
    criteria: AnomalyFilter,
    page: PageRequest,
    *,
    exact_count: bool = False,
    count_bound: int = COUNT_BOUND,
) -> AnomalyListing:
    """Newest first, with their transactions and version tags, and the total count: exact
    below ``count_bound`` matches (or always with ``exact_count``), else ``count_bound``
    with ``total_exact`` False ("at least")."""
    async with services.read_uow() as work:
        # One more than the bound tells "exactly the bound" from "more than it".
        listed = await work.anomalies.list_in_context(
            criteria, page, count_at_most=0 if exact_count else count_bound + 1
        )
        if exact_count:
            total, exact = await work.anomalies.count(criteria), True
        else:
            total, exact = min(listed.matching, count_bound), listed.matching <= count_bound
        found = listed.page.items
        tags = await services.version_tags.of(work, (i.anomaly.model_version_id for i in found))
    records = [
        AnomalyRecord(
            i.anomaly,
            i.transaction,
            tags.get(i.anomaly.model_version_id, str(i.anomaly.model_version_id)),
            i.contributions,
        )
        for i in found
    ]
    return AnomalyListing(records, total, listed.page.next_cursor, total_exact=exact)


async def get_anomaly(services: Services, anomaly_id: uuid.UUID) -> AnomalyRecord:
    """Raises ``AnomalyNotFound``."""
    async with services.uow() as work:
        anomaly = await work.anomalies.get(anomaly_id)
        records = await _anomaly_records(services, work, [anomaly])
    if not records:
        raise AnomalyNotFound(anomaly_id)
    return records[0]


async def severity_counts(
    services: Services, criteria: AnomalyFilter, *, count_bound: int = COUNT_BOUND
) -> dict[Severity, tuple[int, bool]]:
    """For each severity, how many anomalies match ``criteria`` with that severity (its
    own severity filter ignored), and whether the count is exact: bounded like listings,
    one index-backed count per severity."""
    counts = {}
    async with services.read_uow() as work:
        for severity in Severity:
            only = dataclasses.replace(criteria, severities=frozenset({severity}))
            seen = await work.anomalies.count(only, at_most=count_bound + 1)
            counts[severity] = (min(seen, count_bound), seen <= count_bound)
    return counts


@dataclass(frozen=True, slots=True)
class AnomalyInbox:
    """The console's inbox: one page of anomalies, the counts per severity, and who's who."""

    listing: AnomalyListing
    severity_counts: dict[Severity, tuple[int, bool]]
    """Per severity: (count, exact), see ``severity_counts``."""
    usernames: dict[uuid.UUID, str]


async def anomaly_inbox(
    services: Services, criteria: AnomalyFilter, page: PageRequest
) -> AnomalyInbox:
    """A page of ``list_anomalies`` (bounded total), ``severity_counts`` of the same
    criteria, and the users' names (for assignees)."""
    listing = await list_anomalies(services, criteria, page)
    counts = await severity_counts(services, criteria)
    async with services.read_uow() as work:
        usernames = {user.id: user.username for user in await work.users.list()}
    return AnomalyInbox(listing, counts, usernames)


@dataclass(frozen=True, slots=True)
class AnomalyCase:
    """Everything the case view shows of one anomaly, read in one unit of work."""

    record: AnomalyRecord
    label: Label | None
    """The transaction's latest label."""
    predictions: list[PredictionRecord]
    """Every prediction of the transaction (served and shadow), oldest first."""
    sender_recent: list[Transaction]
    """The sender's newest transactions (this one included), newest first."""
    comments: list[Comment]
    """The thread, oldest first."""
    people: dict[uuid.UUID, User]
    """Every user, by id: names for reviewers, assignees and authors."""

    @property
    def assignable(self) -> list[User]:
        """Active users who may review, by username: who the anomaly can be assigned to."""
        return sorted(
            (u for u in self.people.values() if u.active and Permission.REVIEW in GRANTS[u.role]),
            key=lambda u: u.username,
        )


async def anomaly_case(
    services: Services, anomaly_id: uuid.UUID, *, recent: int = 10, thread: int = 200
) -> AnomalyCase:
    """The anomaly with its transaction, label, prediction history, the sender's ``recent``
    newest transactions, the newest ``thread`` comments and the users. Read from the
    primary: the case view is what an analyst reads right after acting on it. Raises
    ``AnomalyNotFound``."""
    async with services.uow() as work:
        anomaly = await work.anomalies.get(anomaly_id)
        records = await _anomaly_records(services, work, [anomaly])
        if not records:
            raise AnomalyNotFound(anomaly_id)
        record = records[0]
        tx_hash = anomaly.transaction_hash
        labels = await work.labels.latest_for([tx_hash])
        predictions = await work.predictions.list_by_transaction(tx_hash)
        tags = await services.version_tags.of(work, (p.model_version_id for p in predictions))
        sender = await work.transactions.list_by_address(
            record.transaction.from_address, TimeRange(), PageRequest(recent)
        )
        comments = await work.comments.list_for(anomaly_id, thread)
        people = {user.id: user for user in await work.users.list()}
    return AnomalyCase(
        record=record,
        label=labels.get(tx_hash),
        predictions=[_prediction_record(p, tags) for p in predictions],
        sender_recent=sender.items,
        comments=comments,
        people=people,
    )


async def _anomaly_records(
    services: Services, work: UnitOfWork, anomalies: list[Anomaly]
) -> list[AnomalyRecord]:
    if not anomalies:
        return []
    transactions = await work.transactions.get_many(a.transaction_hash for a in anomalies)
    served = await work.predictions.served_for(a.transaction_hash for a in anomalies)
    tags = await services.version_tags.of(work, (a.model_version_id for a in anomalies))
    records = []
    for anomaly in anomalies:
        transaction = transactions.get(anomaly.transaction_hash)
        if transaction is None:  # the schema's foreign key makes this impossible
            raise TransactionNotFound(anomaly.transaction_hash)
        tag = tags.get(anomaly.model_version_id, str(anomaly.model_version_id))
        flagging = served.get(anomaly.transaction_hash)
        why = flagging.contributions if flagging and flagging.id == anomaly.prediction_id else None
        records.append(AnomalyRecord(anomaly, transaction, tag, why))
    return records


async def list_predictions(
    services: Services, tx_hash: str | None, period: TimeRange, page: PageRequest
) -> Page[PredictionRecord]:
    """Newest first; only the transaction's predictions when ``tx_hash`` is given."""
    async with services.read_uow() as work:
        if tx_hash is None:
            found = await work.predictions.list_by_time(period, page)
        else:
            tx_hash = normalize_hash(tx_hash, "transaction")
            every = await work.predictions.list_by_transaction(tx_hash)
            kept = [p for p in every if period.contains(p.created_at)]
            found = paginate(kept, page, lambda p: (p.created_at, str(p.id)))
        tags = await services.version_tags.of(work, (p.model_version_id for p in found.items))
    return Page([_prediction_record(p, tags) for p in found.items], found.next_cursor)


async def query_audit_log(
    services: Services,
    user: str | None,
    action: str | None,
    period: TimeRange,
    page: PageRequest,
    outcome: Outcome | None = None,
) -> Page[AuditLog]:
    """Newest first. ``user`` is a user id or a username (an unknown one matches nothing);
    ``outcome`` keeps only the rows with that outcome."""
    async with services.read_uow() as work:
        user_id = None
        if user is not None:
            try:
                user_id = uuid.UUID(user.strip())
            except ValueError:
                try:
                    user_id = (await work.users.get_by_username(user)).id
                except UserNotFound:
                    return Page([], None)
        return await work.audit.query(AuditFilter(user_id, action, period, outcome), page)


async def query_system_metrics(
    services: Services, name: str | None, period: TimeRange, page: PageRequest
) -> Page[SystemMetric]:
    """Newest first; every metric name when ``name`` is ``None``."""
    async with services.read_uow() as work:
        return await work.metrics.query(name, period, page)
