"""An analyst's review of an anomaly, which doubles as a label for training."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from domain.model import Anomaly, Label, LabelKind, ReviewStatus, parse_enum
from domain.services.audit import anomaly_resource, succeeded
from domain.services.services import Services

REVIEW_SOURCE = "analyst-review"
_LABEL_OF: dict[ReviewStatus, LabelKind] = {
    ReviewStatus.CONFIRMED: LabelKind.FRAUD,
    ReviewStatus.DISMISSED: LabelKind.LEGITIMATE,
}


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    anomaly: Anomaly
    label: Label | None
    """The label the review produced: fraud when confirmed, legitimate when dismissed,
    None when escalated (no verdict yet)."""


async def review_anomaly(
    services: Services,
    anomaly_id: uuid.UUID,
    status: ReviewStatus | str,
    note: str | None = None,
    *,
    actor: uuid.UUID,
) -> ReviewOutcome:
    """Record the verdict, the label it implies and an audit entry, in one unit of work:
    all three are stored or none is. ``actor`` is the reviewer (a review needs one).

    Raises ``AnomalyNotFound`` and ``InvalidInput`` (a status of "open" or an unknown one;
    a note over 4000 characters).
    """
    verdict = parse_enum(ReviewStatus, status, "status")
    now = services.clock.now()
    async with services.uow() as work:
        anomaly = await work.anomalies.get(anomaly_id)
        anomaly.review(verdict, reviewer=actor, at=now, note=note)
        await work.anomalies.record_review(anomaly)
        kind = _LABEL_OF.get(verdict)
        label = None
        if kind is not None:
            label = Label(
                transaction_hash=anomaly.transaction_hash,
                kind=kind,
                source=REVIEW_SOURCE,
                created_by=actor,
                anomaly_id=anomaly.id,
                note=note,
                created_at=now,
            )
            await work.labels.add(label)
        await work.audit.append(
            succeeded(
                "anomaly.review",
                anomaly_resource(anomaly.id),
                actor=actor,
                at=now,
                details={
                    "status": verdict.value,
                    "transaction_hash": anomaly.transaction_hash,
                    "label_id": None if label is None else str(label.id),
                },
            )
        )
        await work.commit()
    return ReviewOutcome(anomaly, label)
