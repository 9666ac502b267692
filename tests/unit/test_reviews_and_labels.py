"""Reviews and direct labels: the verdict, its label and its audit entry go together."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest

from adapters.memory import InMemoryDatabase, InMemoryUnitOfWork
from domain.errors import AnomalyNotFound, InvalidInput, TransactionNotFound
from domain.model import Anomaly, AuditLog, Label, LabelKind, ReviewStatus
from domain.pagination import Page, PageRequest
from domain.services.labels import label_transaction
from domain.services.reviews import REVIEW_SOURCE, review_anomaly
from ports import AuditFilter, TimeRange, UnitOfWorkFactory
from tests.builders import (
    a_transaction,
    an_anomaly,
    random_hash,
    stored_model_version,
    stored_predictions,
    stored_transactions,
)
from tests.clocks import ManualClock
from tests.services import services_for

REVIEWER = uuid.UUID("00000000-0000-4000-8000-00000000beef")


async def _open_anomaly(uow: UnitOfWorkFactory) -> Anomaly:
    version = await stored_model_version(uow)
    (prediction,) = await stored_predictions(uow, version, 1)
    anomaly = an_anomaly(prediction)
    async with uow() as work:
        await work.anomalies.add_many([anomaly])
        await work.commit()
    return anomaly


async def _audit(uow: UnitOfWorkFactory, action: str) -> list[AuditLog]:
    async with uow() as work:
        return (await work.audit.query(AuditFilter(action=action), PageRequest())).items


async def _labels(uow: UnitOfWorkFactory) -> list[Label]:
    async with uow() as work:
        return (await work.labels.list_by_time(TimeRange(), PageRequest())).items


@pytest.mark.parametrize(
    ("status", "kind"),
    [(ReviewStatus.CONFIRMED, LabelKind.FRAUD), (ReviewStatus.DISMISSED, LabelKind.LEGITIMATE)],
)
async def test_a_confirmed_or_dismissed_review_labels_the_transaction(
    status: ReviewStatus, kind: LabelKind
) -> None:
    uow = InMemoryDatabase().uow
    anomaly = await _open_anomaly(uow)

    outcome = await review_anomaly(services_for(uow), anomaly.id, status, "checked", actor=REVIEWER)

    assert outcome.label is not None
    assert (outcome.label.kind, outcome.label.source) == (kind, REVIEW_SOURCE)
    assert (outcome.label.anomaly_id, outcome.label.created_by) == (anomaly.id, REVIEWER)
    assert outcome.label.created_at == outcome.anomaly.reviewed_at
    async with uow() as work:
        stored = await work.anomalies.get(anomaly.id)
        assert (stored.status, stored.reviewed_by, stored.note) == (status, REVIEWER, "checked")
        latest = await work.labels.latest_for([anomaly.transaction_hash])
    assert latest == {anomaly.transaction_hash: outcome.label}
    (entry,) = await _audit(uow, "anomaly.review")
    assert (entry.user_id, entry.resource) == (REVIEWER, f"anomalies/{anomaly.id}")
    assert entry.details["status"] == status.value
    assert entry.details["label_id"] == str(outcome.label.id)


async def test_an_escalated_review_is_recorded_and_audited_without_a_label() -> None:
    uow = InMemoryDatabase().uow
    anomaly = await _open_anomaly(uow)

    outcome = await review_anomaly(services_for(uow), anomaly.id, "escalated", None, actor=REVIEWER)

    assert outcome.label is None
    assert outcome.anomaly.status is ReviewStatus.ESCALATED
    assert await _labels(uow) == []
    assert len(await _audit(uow, "anomaly.review")) == 1


async def test_re_reviewing_adds_a_newer_label_that_supersedes_the_first() -> None:
    uow = InMemoryDatabase().uow
    anomaly = await _open_anomaly(uow)
    clock = ManualClock()
    await review_anomaly(
        services_for(uow, clock), anomaly.id, ReviewStatus.CONFIRMED, None, actor=REVIEWER
    )
    second = await review_anomaly(
        services_for(uow, clock), anomaly.id, ReviewStatus.DISMISSED, None, actor=REVIEWER
    )

    async with uow() as work:
        latest = await work.labels.latest_for([anomaly.transaction_hash])
    assert latest[anomaly.transaction_hash] == second.label
    assert len(await _labels(uow)) == 2


class _LostConnectionAudit:
    """An audit log that fails to append, as a dropped connection would."""

    async def append(self, entry: AuditLog) -> None:
        raise RuntimeError("connection lost")

    async def append_many(self, entries: Sequence[AuditLog]) -> None:
        raise RuntimeError("connection lost")

    async def query(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditLog]:
        raise RuntimeError("connection lost")

    async def find(self, entry_id: uuid.UUID) -> AuditLog | None:
        raise RuntimeError("connection lost")

    async def put(self, entry: AuditLog) -> None:
        raise RuntimeError("connection lost")


def _failing_audit(database: InMemoryDatabase) -> UnitOfWorkFactory:
    def uow() -> InMemoryUnitOfWork:
        work = database.uow()
        work.audit = _LostConnectionAudit()
        return work

    return uow


async def test_a_review_whose_audit_entry_fails_changes_nothing() -> None:
    database = InMemoryDatabase()
    anomaly = await _open_anomaly(database.uow)

    with pytest.raises(RuntimeError):
        await review_anomaly(
            services_for(_failing_audit(database)),
            anomaly.id,
            ReviewStatus.CONFIRMED,
            actor=REVIEWER,
        )

    async with database.uow() as work:
        assert (await work.anomalies.get(anomaly.id)).status is ReviewStatus.OPEN
    assert await _labels(database.uow) == []


async def test_reviewing_an_unknown_anomaly_raises_anomaly_not_found() -> None:
    uow = InMemoryDatabase().uow
    with pytest.raises(AnomalyNotFound):
        await review_anomaly(services_for(uow), uuid.uuid4(), "confirmed", None, actor=REVIEWER)
    assert await _audit(uow, "anomaly.review") == []


async def test_a_review_cannot_reopen_an_anomaly() -> None:
    uow = InMemoryDatabase().uow
    anomaly = await _open_anomaly(uow)
    with pytest.raises(InvalidInput) as refused:
        await review_anomaly(services_for(uow), anomaly.id, "open", None, actor=REVIEWER)
    assert refused.value.field == "status"


async def test_labelling_a_transaction_stores_and_audits_the_label() -> None:
    uow = InMemoryDatabase().uow
    (tx,) = await stored_transactions(uow, a_transaction())

    label = await label_transaction(
        services_for(uow), tx.hash.upper().replace("0X", "0x"), "fraud", "Missed-Fraud-Report",
        "reported by the victim", actor=REVIEWER,
    )  # fmt: skip

    assert (label.transaction_hash, label.kind, label.source) == (
        tx.hash,
        LabelKind.FRAUD,
        "missed-fraud-report",
    )
    assert await _labels(uow) == [label]
    (entry,) = await _audit(uow, "transaction.label")
    assert entry.resource == f"transactions/{tx.hash}"
    assert entry.details["kind"] == "fraud"


async def test_labelling_an_unknown_transaction_raises_and_audits_nothing() -> None:
    uow = InMemoryDatabase().uow
    with pytest.raises(TransactionNotFound):
        await label_transaction(
            services_for(uow), random_hash(), LabelKind.LEGITIMATE, "chainalysis", None, actor=None
        )
    assert await _audit(uow, "transaction.label") == []


@pytest.mark.parametrize(
    ("kind", "source", "field"),
    [("scam", "chainalysis", "kind"), ("fraud", "", "source"), ("fraud", "a b", "source")],
)
async def test_a_bad_label_names_the_field(kind: str, source: str, field: str) -> None:
    uow = InMemoryDatabase().uow
    (tx,) = await stored_transactions(uow, a_transaction())
    with pytest.raises(InvalidInput) as refused:
        await label_transaction(services_for(uow), tx.hash, kind, source, None, actor=None)
    assert refused.value.field == field
