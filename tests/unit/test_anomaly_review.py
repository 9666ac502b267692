"""Anomaly.review: an analyst's verdict, re-reviewable but never re-opened."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from domain.errors import InvalidInput
from domain.model import Anomaly, ReviewStatus
from tests.builders import a_model, a_model_version, a_prediction, a_transaction, an_anomaly, at

REVIEWER = uuid.uuid4()


def _open_anomaly() -> Anomaly:
    return an_anomaly(a_prediction(a_transaction(), a_model_version(a_model())))


def test_a_new_anomaly_is_open_and_unreviewed() -> None:
    anomaly = _open_anomaly()
    assert anomaly.status is ReviewStatus.OPEN
    assert (anomaly.reviewed_by, anomaly.reviewed_at, anomaly.note) == (None, None, None)


@pytest.mark.parametrize(
    "status", [ReviewStatus.CONFIRMED, ReviewStatus.DISMISSED, ReviewStatus.ESCALATED]
)
def test_a_review_records_verdict_reviewer_time_and_note(status: ReviewStatus) -> None:
    anomaly = _open_anomaly()
    anomaly.review(status, reviewer=REVIEWER, at=at(5), note="checked on-chain")
    assert (anomaly.status, anomaly.reviewed_by, anomaly.reviewed_at, anomaly.note) == (
        status,
        REVIEWER,
        at(5),
        "checked on-chain",
    )


def test_a_review_can_be_given_as_text() -> None:
    anomaly = _open_anomaly()
    anomaly.review("dismissed", reviewer=REVIEWER, at=at(1))  # type: ignore[arg-type]
    assert anomaly.status is ReviewStatus.DISMISSED


def test_a_review_cannot_reopen_an_anomaly() -> None:
    anomaly = _open_anomaly()
    anomaly.review(ReviewStatus.ESCALATED, reviewer=REVIEWER, at=at(1))
    with pytest.raises(InvalidInput) as refused:
        anomaly.review(ReviewStatus.OPEN, reviewer=REVIEWER, at=at(2))
    assert refused.value.field == "status"
    assert anomaly.status is ReviewStatus.ESCALATED


def test_a_second_review_replaces_the_first_and_clears_its_note() -> None:
    anomaly = _open_anomaly()
    anomaly.review(ReviewStatus.ESCALATED, reviewer=REVIEWER, at=at(1), note="unsure")
    second = uuid.uuid4()
    anomaly.review(ReviewStatus.CONFIRMED, reviewer=second, at=at(2))
    assert (anomaly.status, anomaly.reviewed_by, anomaly.reviewed_at, anomaly.note) == (
        ReviewStatus.CONFIRMED,
        second,
        at(2),
        None,
    )


def test_a_review_needs_an_aware_instant_and_a_bounded_note() -> None:
    anomaly = _open_anomaly()
    with pytest.raises(InvalidInput, match="reviewed_at"):
        anomaly.review(ReviewStatus.CONFIRMED, reviewer=REVIEWER, at=datetime(2024, 1, 1))
    with pytest.raises(InvalidInput, match="note"):
        anomaly.review(ReviewStatus.CONFIRMED, reviewer=REVIEWER, at=at(1), note="x" * 4001)


def test_an_unknown_verdict_is_refused_listing_the_allowed_ones() -> None:
    anomaly = _open_anomaly()
    with pytest.raises(InvalidInput, match="open, confirmed, dismissed, escalated"):
        anomaly.review("ignored", reviewer=REVIEWER, at=at(1))  # type: ignore[arg-type]
