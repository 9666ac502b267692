"""Anomaly bodies: the old system's record fields (``hash``, ``value``, ``gas``,
``gasPrice``, ``from_address``, ``to_address``, ``timestamp``, ``detected_at``,
``severity``) plus the review state, the model version that flagged it and why (the flagging
prediction's contributions)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from domain.model import ReviewStatus, Severity
from domain.services.queries import AnomalyListing, AnomalyRecord
from entrypoints.http.schemas.predictions import Contributions, contributions_out
from entrypoints.http.schemas.transactions import Wei


class AnomalyOut(msgspec.Struct):
    id: uuid.UUID
    hash: str
    value: Wei
    gas: int
    gasPrice: Wei  # the old system's name
    from_address: str
    to_address: str | None
    timestamp: datetime
    detected_at: datetime
    severity: Severity
    score: float
    status: ReviewStatus
    model_version: str
    """``<model name>:<version>``."""
    model_version_id: uuid.UUID
    prediction_id: uuid.UUID
    reviewed_by: uuid.UUID | None
    reviewed_at: datetime | None
    note: str | None
    contributions: Contributions
    """Why the flagging prediction scored so: its largest feature contributions."""
    assigned_to: uuid.UUID | None = None
    """The user working on it (None: unassigned)."""
    assigned_at: datetime | None = None


class AnomalyPage(msgspec.Struct):
    anomalies: list[AnomalyOut]
    total_count: int
    """Matching anomalies: exact when ``total_count_exact``, else at least this many."""
    next_cursor: str | None
    total_count_exact: bool
    """False when counting stopped at the bound, 1,000 matches (``count=exact`` counts them
    all)."""


class AssignIn(msgspec.Struct, forbid_unknown_fields=True):
    assignee: uuid.UUID | None
    """The user to assign the anomaly to (an active analyst or admin); null unassigns it."""


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["confirmed", "dismissed", "escalated"]
    note: Annotated[str, msgspec.Meta(max_length=4000)] | None = None


def anomaly_out(record: AnomalyRecord) -> AnomalyOut:
    anomaly, tx = record.anomaly, record.transaction
    return AnomalyOut(
        id=anomaly.id,
        hash=tx.hash,
        value=str(tx.value),
        gas=tx.gas,
        gasPrice=str(tx.gas_price),
        from_address=tx.from_address,
        to_address=tx.to_address,
        timestamp=tx.timestamp,
        detected_at=anomaly.detected_at,
        severity=anomaly.severity,
        score=anomaly.score,
        status=anomaly.status,
        model_version=record.model_version,
        model_version_id=anomaly.model_version_id,
        prediction_id=anomaly.prediction_id,
        reviewed_by=anomaly.reviewed_by,
        reviewed_at=anomaly.reviewed_at,
        note=anomaly.note,
        contributions=contributions_out(record.contributions),
        assigned_to=anomaly.assigned_to,
        assigned_at=anomaly.assigned_at,
    )


def anomaly_page(listing: AnomalyListing) -> AnomalyPage:
    return AnomalyPage(
        anomalies=[anomaly_out(record) for record in listing.items],
        total_count=listing.total_count,
        next_cursor=listing.next_cursor,
        total_count_exact=listing.total_exact,
    )
