"""What to review next: informativeness from the calibrated score, greedy diversity, and
the use case's candidates (recent, served by an ACTIVE calibrated version, unlabelled)."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.memory import InMemoryDatabase
from domain.active_learning import (
    EXPLORE,
    INFORMATIVE,
    Candidate,
    QueuePolicy,
    densities,
    informativeness,
    is_exploration_slot,
    select_for_review,
    standardise,
)
from domain.errors import InvalidInput
from domain.model import LabelKind, ModelStatus
from domain.policies import AlertBudget
from domain.services.review_queue import review_queue
from tests.builders import T0, a_label
from tests.clocks import ManualClock
from tests.queue_data import active_calibrated_version, scored
from tests.services import services_for

EXPLOIT_ONLY = QueuePolicy(explore=0.0)


def test_uncertainty_peaks_at_the_alert_boundary_and_is_symmetric_on_the_logit_scale() -> None:
    policy = QueuePolicy(alert_share=0.01, top_weight=0.0)
    at_boundary, _ = informativeness(0.99, policy)
    below, _ = informativeness(1 - 0.1, policy)  # ten times the boundary's tail share
    above, _ = informativeness(1 - 0.001, policy)  # a tenth of it
    assert at_boundary == pytest.approx(1.0)
    assert below == pytest.approx(above, abs=0.05)
    assert informativeness(0.5, policy)[0] < below < at_boundary


def test_the_very_top_keeps_weight_beyond_the_bell() -> None:
    policy = QueuePolicy(alert_share=0.01, top_weight=0.35)
    top_uncertainty, top = informativeness(0.999999, policy)
    _, middle = informativeness(0.5, policy)
    assert top_uncertainty < 0.1
    assert top > 0.3 > middle
    assert informativeness(float("nan"), policy) == (0.0, 0.0)


def test_a_wider_alert_budget_moves_the_boundary() -> None:
    assert informativeness(0.9, QueuePolicy(alert_share=0.1))[0] == pytest.approx(1.0)
    assert informativeness(0.9, QueuePolicy(alert_share=0.01))[0] < 0.7


def test_near_identical_rows_are_not_both_queued_when_a_distinct_one_exists() -> None:
    candidates = [
        Candidate("a", 0.99, (1.0, 1.0)),
        Candidate("b", 0.99, (1.0, 1.001)),  # a near-copy of "a"
        Candidate("c", 0.98, (5.0, -3.0)),
    ]
    picks = select_for_review(candidates, 2, policy=EXPLOIT_ONLY)
    assert [p.key for p in picks] == ["a", "c"]
    assert picks[0].distance is None  # nothing labelled, nothing picked before it
    assert picks[1].distance is not None
    assert picks[1].distance > 1.0
    assert [p.rank for p in picks] == [1, 2]


def test_a_row_that_stands_for_many_beats_an_isolated_outlier_of_equal_score() -> None:
    crowd = [Candidate(f"crowd{i}", 0.9, (0.0, i / 1000)) for i in range(20)]
    outlier = Candidate("outlier", 0.99, (40.0, 40.0))
    picks = select_for_review([outlier, *crowd], 1, policy=EXPLOIT_ONLY)
    assert picks[0].key.startswith("crowd")
    assert picks[0].density == 1.0
    assert densities([(0.0,), (0.5,), (3.0,)], 1.0) == [1.0, 1.0, 0.5]


def test_a_row_like_a_labelled_one_counts_as_known() -> None:
    candidates = [Candidate("like-known", 0.99, (0.0, 0.0)), Candidate("new", 0.97, (4.0, 4.0))]
    labelled = [(0.0, 0.0), (0.1, 0.0)]
    picks = select_for_review(candidates, 1, policy=EXPLOIT_ONLY, labelled=labelled)
    assert [p.key for p in picks] == ["new"]


def _plain_greedy(candidates: list[Candidate], limit: int, policy: QueuePolicy) -> list[str]:
    points = standardise([c.features for c in candidates])
    density = densities(points, policy.cell)
    chosen: list[int] = []
    for _ in range(limit):
        best, best_gain = -1, -1.0
        for i, candidate in enumerate(candidates):
            if i in chosen:
                continue
            d = min((math.dist(points[i], points[j]) for j in chosen), default=math.inf)
            novelty = 1.0 if math.isinf(d) else d / (d + policy.spacing)
            gain = informativeness(candidate.score, policy)[1] * density[i] * novelty
            if gain > best_gain:
                best, best_gain = i, gain
        chosen.append(best)
    return [candidates[i].key for i in chosen]


def test_the_lazy_greedy_picks_what_the_plain_greedy_picks() -> None:
    rng = random.Random(7)
    candidates = [
        Candidate(f"k{i}", rng.random(), (rng.gauss(0, 1), rng.gauss(0, 1), rng.random()))
        for i in range(120)
    ]
    picks = select_for_review(candidates, 15, policy=EXPLOIT_ONLY)
    assert [p.key for p in picks] == _plain_greedy(candidates, 15, EXPLOIT_ONLY)


def test_exploration_takes_every_other_place_after_the_first() -> None:
    assert [is_exploration_slot(rank, 0.5) for rank in range(1, 7)] == [
        False, True, False, True, False, True,
    ]  # fmt: skip
    assert not any(is_exploration_slot(rank, 0.0) for rank in range(1, 20))
    rng = random.Random(3)
    candidates = [Candidate(f"k{i}", rng.random(), (float(i),)) for i in range(50)]
    picks = select_for_review(candidates, 6, policy=QueuePolicy(explore=0.5))
    assert [p.reason for p in picks] == [INFORMATIVE, EXPLORE] * 3
    assert len({p.key for p in picks}) == 6
    again = select_for_review(candidates, 6, policy=QueuePolicy(explore=0.5))
    assert again == picks  # deterministic


def test_exact_repeats_of_known_rows_are_never_queued() -> None:
    candidates = [Candidate(f"k{i}", 0.99, (1.0, 2.0)) for i in range(5)]
    picks = select_for_review(candidates, 5, policy=QueuePolicy(explore=0.5), labelled=[(0.0, 0.0)])
    assert len(picks) == 1


def test_the_limit_is_checked() -> None:
    with pytest.raises(InvalidInput) as error:
        select_for_review([Candidate("a", 0.5, (1.0,))], 0, policy=QueuePolicy())
    assert error.value.field == "limit"
    assert select_for_review([], 5, policy=QueuePolicy()) == []


@pytest.mark.parametrize(
    "knobs",
    [{"top_weight": 2.0}, {"explore": -0.1}, {"spacing": 0.0}, {"cell": 0.0}, {"width": -1.0}],
)
def test_knobs_out_of_range_are_refused_by_name(knobs: dict[str, float]) -> None:
    with pytest.raises(InvalidInput) as error:
        QueuePolicy(**knobs)  # type: ignore[arg-type]
    assert error.value.field in knobs


# -- the use case ------------------------------------------------------------------------
async def test_the_queue_holds_recent_unlabelled_transactions_of_active_versions() -> None:
    database = InMemoryDatabase()
    clock = ManualClock(T0 + timedelta(days=30))
    services = services_for(database.uow, clock)
    version = await active_calibrated_version(database.uow)
    recent = await scored(
        database.uow, version, [0.99, 0.95, 0.5, 0.999], at=T0 + timedelta(days=29)
    )
    old = await scored(database.uow, version, [0.99], at=T0 + timedelta(days=1))
    shadow = await scored(database.uow, version, [0.99], at=T0 + timedelta(days=29), served=False)
    async with database.uow() as work:
        await work.labels.add(a_label(recent[0], LabelKind.FRAUD))
        await work.commit()

    queue = await review_queue(services, limit=10)

    hashes = [item.transaction.hash for item in queue.items]
    assert set(hashes) == {tx.hash for tx in recent[1:]}
    assert old[0].hash not in hashes
    assert shadow[0].hash not in hashes
    assert (queue.candidates, queue.labelled, queue.feature_version) == (3, 1, 3)
    assert clock.current - timedelta(days=7, seconds=1) < queue.since < clock.current
    first = queue.items[0]
    assert first.pick.rank == 1
    assert first.model_version.endswith(":1")
    assert first.prediction.transaction_hash == first.transaction.hash
    # The top unconfirmed score first; the second place is an exploration draw.
    assert queue.items[0].pick.score == pytest.approx(0.999)
    assert [item.pick.reason for item in queue.items] == [INFORMATIVE, EXPLORE, INFORMATIVE]


async def test_versions_not_serving_or_not_calibrated_give_no_candidates() -> None:
    database = InMemoryDatabase()
    services = services_for(database.uow, ManualClock(T0 + timedelta(days=1)))
    retired = await active_calibrated_version(
        database.uow, status=ModelStatus.RETIRED, traffic_weight=0
    )
    raw = await active_calibrated_version(database.uow, thresholds={"threshold": 0.5})
    await scored(database.uow, retired, [0.99], at=T0)
    await scored(database.uow, raw, [0.99], at=T0)
    queue = await review_queue(services, limit=5)
    assert queue.items == []
    assert queue.candidates == 0


async def test_the_alert_budget_sets_the_boundary() -> None:
    database = InMemoryDatabase()
    services = services_for(database.uow, ManualClock(T0 + timedelta(days=1)))
    services = replace(services, alerts=AlertBudget.of(0.1))
    version = await active_calibrated_version(database.uow)
    await scored(database.uow, version, [0.9, 0.99], at=T0)
    queue = await review_queue(services, limit=1)
    assert queue.alert_share == 0.1
    assert queue.items[0].pick.score == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": 5, "window": timedelta(0)}, "window"),
        ({"limit": 5, "candidates": 0}, "candidates"),
    ],
)
async def test_out_of_range_options_are_refused(options: dict[str, object], field: str) -> None:
    database = InMemoryDatabase()
    with pytest.raises(InvalidInput) as error:
        await review_queue(services_for(database.uow), **options)  # type: ignore[arg-type]
    assert error.value.field == field
