"""Contract of ``AnomalyRepository``: storage, filters, counting, paging and reviews."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import (
    AnomalyNotFound,
    DuplicateRecord,
    NotFound,
    PredictionNotFound,
    TransactionNotFound,
)
from domain.explanations import Contribution
from domain.model import Anomaly, ModelVersion, Prediction, ReviewStatus, Severity
from domain.pagination import Cursor, Page, PageRequest
from ports import AnomalyFilter, TimeRange, UnitOfWorkFactory
from ports.repositories import AnomalyInContext
from tests.builders import (
    T0,
    a_prediction,
    a_transaction,
    an_anomaly,
    at,
    collect_pages,
    stored_model_version,
    stored_predictions,
)

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Whole seconds and microseconds mixed, with many collisions (see test_transactions).
offsets_us = st.one_of(
    st.integers(0, 3).map(lambda s: s * 1_000_000),
    st.integers(0, 3_000_000),
)
REVIEWER = uuid.UUID("00000000-0000-4000-8000-00000000beef")


def _newest_first(anomalies: list[Anomaly]) -> list[uuid.UUID]:
    ordered = sorted(anomalies, key=lambda a: (a.detected_at, str(a.id)), reverse=True)
    return [a.id for a in ordered]


async def _store(uow_factory: UnitOfWorkFactory, *anomalies: Anomaly) -> list[Anomaly]:
    async with uow_factory() as uow:
        await uow.anomalies.add_many(anomalies)
        await uow.commit()
    return list(anomalies)


async def _anomalies(
    uow_factory: UnitOfWorkFactory, version: ModelVersion, specs: list[dict[str, object]]
) -> list[Anomaly]:
    """One stored anomaly per spec (fields of ``Anomaly``), each on its own prediction."""
    predictions = await stored_predictions(uow_factory, version, len(specs))
    return await _store(
        uow_factory, *(an_anomaly(p, **spec) for p, spec in zip(predictions, specs, strict=True))
    )


async def test_a_stored_anomaly_reads_back_field_for_field(uow_factory: UnitOfWorkFactory) -> None:
    version = await stored_model_version(uow_factory)
    prediction, other_prediction = await stored_predictions(uow_factory, version, 2)
    anomaly = an_anomaly(
        prediction, severity=Severity.CRITICAL, score=0.987654321, detected_at=at(1)
    )
    reviewed = an_anomaly(
        other_prediction,
        status=ReviewStatus.ESCALATED,
        reviewed_by=REVIEWER,
        reviewed_at=at(2),
        note="looks like a drainer",
    )
    await _store(uow_factory, anomaly, reviewed)

    async with uow_factory() as uow:
        assert await uow.anomalies.get(anomaly.id) == anomaly
        assert await uow.anomalies.get(reviewed.id) == reviewed


async def test_get_raises_anomaly_not_found_for_an_unknown_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(AnomalyNotFound):
            await uow.anomalies.get(uuid.uuid4())


async def test_an_anomaly_id_can_be_stored_only_once(uow_factory: UnitOfWorkFactory) -> None:
    version = await stored_model_version(uow_factory)
    prediction, other_prediction = await stored_predictions(uow_factory, version, 2)
    (anomaly,) = await _store(uow_factory, an_anomaly(prediction, severity=Severity.LOW))

    async with uow_factory() as uow:
        with pytest.raises(DuplicateRecord):
            await uow.anomalies.add_many([an_anomaly(other_prediction, id=anomaly.id)])

    async with uow_factory() as uow:
        assert (await uow.anomalies.get(anomaly.id)).severity is Severity.LOW


async def test_an_anomaly_for_an_unknown_transaction_is_refused(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    (prediction,) = await stored_predictions(uow_factory, version, 1)
    orphan = an_anomaly(prediction, transaction_hash=a_transaction().hash)

    async with uow_factory() as uow:
        with pytest.raises(TransactionNotFound):
            await uow.anomalies.add_many([orphan])


async def test_an_anomaly_for_an_unknown_prediction_is_refused(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    (prediction,) = await stored_predictions(uow_factory, version, 1)
    unsaved: Prediction = a_prediction(a_transaction(hash=prediction.transaction_hash), version)

    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.anomalies.add_many([an_anomaly(unsaved)])


async def test_an_anomaly_for_a_prediction_written_earlier_in_its_unit_of_work_is_stored(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    tx = a_transaction()
    prediction = a_prediction(tx, version)
    anomaly = an_anomaly(prediction)

    async with uow_factory() as uow:
        uow.all_or_nothing()
        await uow.transactions.add_many([tx])
        await uow.predictions.add_many([prediction])
        await uow.anomalies.add_many([anomaly])
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.anomalies.get(anomaly.id) == anomaly


async def test_an_unknown_prediction_is_refused_beside_ones_written_in_the_same_unit_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    tx = a_transaction()
    written = a_prediction(tx, version)
    unsaved = a_prediction(tx, version, served=False)

    async with uow_factory() as uow:
        await uow.transactions.add_many([tx])
        await uow.predictions.add_many([written])
        with pytest.raises(PredictionNotFound) as refused:
            await uow.anomalies.add_many([an_anomaly(written), an_anomaly(unsaved)])
    assert refused.value.key == unsaved.id


async def test_a_prediction_rolled_back_is_no_longer_a_reference_for_an_anomaly(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    (stored,) = await stored_predictions(uow_factory, version, 1)
    undone = a_prediction(a_transaction(hash=stored.transaction_hash), version, served=False)

    async with uow_factory() as uow:
        await uow.predictions.add_many([undone])
        await uow.rollback()  # the unit of work goes on in a new transaction
        with pytest.raises(PredictionNotFound) as refused:
            await uow.anomalies.add_many([an_anomaly(undone)])
    assert refused.value.key == undone.id


async def test_list_without_criteria_is_newest_first_with_ties_broken_by_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    made = await _anomalies(uow_factory, version, [{"detected_at": at(s)} for s in (3, 1, 3, 3, 2)])

    async with uow_factory() as uow:
        page = await uow.anomalies.list(AnomalyFilter(), PageRequest(100))
    assert [a.id for a in page.items] == _newest_first(made)


async def test_each_filter_selects_what_it_names(uow_factory: UnitOfWorkFactory) -> None:
    version = await stored_model_version(uow_factory)
    other_version = await stored_model_version(uow_factory)
    low, high, critical = await _anomalies(
        uow_factory,
        version,
        [
            {"severity": Severity.LOW, "detected_at": at(0)},
            {"severity": Severity.HIGH, "detected_at": at(10), "status": ReviewStatus.CONFIRMED},
            {
                "severity": Severity.CRITICAL,
                "detected_at": at(20),
                "status": ReviewStatus.DISMISSED,
            },
        ],
    )
    (elsewhere,) = await _anomalies(
        uow_factory, other_version, [{"severity": Severity.HIGH, "detected_at": at(5)}]
    )
    criteria_and_expected = [
        (AnomalyFilter(severities=frozenset({Severity.HIGH})), [high, elsewhere]),
        (AnomalyFilter(severities=frozenset({Severity.LOW, Severity.CRITICAL})), [critical, low]),
        (AnomalyFilter(statuses=frozenset({ReviewStatus.OPEN})), [elsewhere, low]),
        (
            AnomalyFilter(statuses=frozenset({ReviewStatus.CONFIRMED, ReviewStatus.DISMISSED})),
            [critical, high],
        ),
        (AnomalyFilter(period=TimeRange(at(5), at(20))), [high, elsewhere]),
        (AnomalyFilter(model_version_id=other_version.id), [elsewhere]),
        (
            AnomalyFilter(
                severities=frozenset({Severity.HIGH}),
                statuses=frozenset({ReviewStatus.OPEN}),
                period=TimeRange(since=at(0)),
                model_version_id=other_version.id,
            ),
            [elsewhere],
        ),
        (AnomalyFilter(severities=frozenset({Severity.MEDIUM})), []),
    ]

    async with uow_factory() as uow:
        for criteria, expected in criteria_and_expected:
            page = await uow.anomalies.list(criteria, PageRequest(100))
            assert [a.id for a in page.items] == [a.id for a in expected], criteria
            assert await uow.anomalies.count(criteria) == len(expected), criteria
            for bound in (0, 1, 2, 5):
                counted = await uow.anomalies.count(criteria, at_most=bound)
                assert counted == min(len(expected), bound), (criteria, bound)


async def test_the_detection_period_is_half_open(uow_factory: UnitOfWorkFactory) -> None:
    version = await stored_model_version(uow_factory)
    made = await _anomalies(
        uow_factory, version, [{"detected_at": at(s)} for s in (-0.000001, 0, 59.999999, 60)]
    )

    async with uow_factory() as uow:
        criteria = AnomalyFilter(period=TimeRange(at(0), at(60)))
        page = await uow.anomalies.list(criteria, PageRequest(10))
        assert await uow.anomalies.count(criteria) == 2
    assert [a.id for a in page.items] == [made[2].id, made[1].id]


async def test_record_review_persists_the_review_fields_only(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    (anomaly,) = await _anomalies(uow_factory, version, [{"severity": Severity.MEDIUM}])

    async with uow_factory() as uow:
        loaded = await uow.anomalies.get(anomaly.id)
        loaded.review(ReviewStatus.CONFIRMED, reviewer=REVIEWER, at=at(90), note="known scam")
        loaded.severity = Severity.CRITICAL  # not a review field: must not be written
        await uow.anomalies.record_review(loaded)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.anomalies.get(anomaly.id)
    assert (stored.status, stored.reviewed_by, stored.reviewed_at, stored.note) == (
        ReviewStatus.CONFIRMED,
        REVIEWER,
        at(90),
        "known scam",
    )
    assert stored.severity is Severity.MEDIUM


async def test_a_second_review_replaces_the_first(uow_factory: UnitOfWorkFactory) -> None:
    version = await stored_model_version(uow_factory)
    (anomaly,) = await _anomalies(uow_factory, version, [{}])
    second_reviewer = uuid.uuid4()

    for status, reviewer, seconds, note in (
        (ReviewStatus.ESCALATED, REVIEWER, 10, "needs a second look"),
        (ReviewStatus.DISMISSED, second_reviewer, 20, None),
    ):
        async with uow_factory() as uow:
            loaded = await uow.anomalies.get(anomaly.id)
            loaded.review(status, reviewer=reviewer, at=at(seconds), note=note)
            await uow.anomalies.record_review(loaded)
            await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.anomalies.get(anomaly.id)
        dismissed = await uow.anomalies.count(
            AnomalyFilter(statuses=frozenset({ReviewStatus.DISMISSED}))
        )
    assert (stored.status, stored.reviewed_by, stored.reviewed_at, stored.note) == (
        ReviewStatus.DISMISSED,
        second_reviewer,
        at(20),
        None,
    )
    assert dismissed == 1


async def test_record_review_raises_anomaly_not_found_for_an_unknown_anomaly(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    (prediction,) = await stored_predictions(uow_factory, version, 1)
    never_stored = an_anomaly(prediction)
    never_stored.review(ReviewStatus.CONFIRMED, reviewer=REVIEWER, at=at(1))

    async with uow_factory() as uow:
        with pytest.raises(AnomalyNotFound):
            await uow.anomalies.record_review(never_stored)


@PROPERTY
@given(
    specs=st.lists(
        st.tuples(
            offsets_us,
            st.sampled_from(Severity),
            st.sampled_from(ReviewStatus),
        ),
        max_size=20,
    ),
    wanted_severities=st.frozensets(st.sampled_from(Severity)),
    wanted_statuses=st.frozensets(st.sampled_from(ReviewStatus)),
    bounds=st.tuples(st.none() | offsets_us, st.none() | offsets_us),
    limit=st.integers(1, 6),
)
async def test_paging_filtered_anomalies_returns_every_match_once_in_order(
    uow_factory: UnitOfWorkFactory,
    specs: list[tuple[int, Severity, ReviewStatus]],
    wanted_severities: frozenset[Severity],
    wanted_statuses: frozenset[ReviewStatus],
    bounds: tuple[int | None, int | None],
    limit: int,
) -> None:
    # A fresh model version per example isolates it from earlier examples' rows.
    version = await stored_model_version(uow_factory)
    made = await _anomalies(
        uow_factory,
        version,
        [
            {
                "detected_at": T0 + timedelta(microseconds=offset),
                "severity": severity,
                "status": status,
            }
            for offset, severity, status in specs
        ],
    )
    since, until = (None if b is None else T0 + timedelta(microseconds=b) for b in bounds)
    criteria = AnomalyFilter(
        severities=wanted_severities,
        statuses=wanted_statuses,
        period=TimeRange(since, until),
        model_version_id=version.id,
    )

    async with uow_factory() as uow:
        pages = await collect_pages(lambda request: uow.anomalies.list(criteria, request), limit)
        counted = await uow.anomalies.count(criteria)

    expected = _newest_first([a for a in made if criteria.matches(a)])
    assert [a.id for page in pages for a in page] == expected
    assert counted == len(expected)


async def test_by_prediction_ids_finds_the_anomaly_of_each_flagging_prediction(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    flagged, quiet, other = await stored_predictions(uow_factory, version, 3)
    first, second = await _store(
        uow_factory, an_anomaly(flagged, severity=Severity.LOW), an_anomaly(other)
    )

    async with uow_factory() as uow:
        found = await uow.anomalies.by_prediction_ids([flagged.id, quiet.id, uuid.uuid4()])
        everything = await uow.anomalies.by_prediction_ids(p.id for p in (flagged, quiet, other))
        assert await uow.anomalies.by_prediction_ids([]) == {}

    assert found == {flagged.id: first}
    assert everything == {flagged.id: first, other.id: second}


@PROPERTY
@given(
    specs=st.lists(st.tuples(offsets_us, st.sampled_from(Severity)), max_size=14),
    wanted_severities=st.frozensets(st.sampled_from(Severity)),
    limit=st.integers(1, 5),
    bound=st.integers(0, 8),
)
async def test_listing_in_context_pages_like_list_and_counts_up_to_the_bound(
    uow_factory: UnitOfWorkFactory,
    specs: list[tuple[int, Severity]],
    wanted_severities: frozenset[Severity],
    limit: int,
    bound: int,
) -> None:
    version = await stored_model_version(uow_factory)
    made = await _anomalies(
        uow_factory,
        version,
        [{"detected_at": T0 + timedelta(microseconds=o), "severity": s} for o, s in specs],
    )
    criteria = AnomalyFilter(severities=wanted_severities, model_version_id=version.id)
    counts: list[int] = []

    async def page_of(request: PageRequest) -> Page[AnomalyInContext]:
        listed = await uow.anomalies.list_in_context(criteria, request, count_at_most=bound)
        counts.append(listed.matching)
        return listed.page

    async with uow_factory() as uow:
        pages = await collect_pages(page_of, limit)
        plain = await collect_pages(lambda request: uow.anomalies.list(criteria, request), limit)

    expected = [a for a in made if criteria.matches(a)]
    assert [[i.anomaly for i in page] for page in pages] == plain
    assert [i.anomaly.id for page in pages for i in page] == _newest_first(expected)
    assert counts == [min(len(expected), bound)] * len(pages)


async def test_each_listed_anomaly_carries_its_transaction_and_flagging_contributions(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    transactions = [a_transaction(value=2**256 - 1 - i, timestamp=at(i)) for i in range(3)]
    why = (Contribution("log_value", 2.5), Contribution("gas_price", -0.25))
    explained = a_prediction(transactions[0], version, contributions=why)
    unexplained = a_prediction(transactions[1], version)
    shadow = a_prediction(transactions[2], version, served=False, contributions=why)
    async with uow_factory() as uow:
        await uow.transactions.add_many(transactions)
        await uow.predictions.add_many([explained, unexplained, shadow])
        await uow.commit()
    flagging = (explained, unexplained, shadow)
    anomalies = await _store(
        uow_factory, *(an_anomaly(p, detected_at=at(10 - i)) for i, p in enumerate(flagging))
    )

    async with uow_factory() as uow:
        listed = await uow.anomalies.list_in_context(
            AnomalyFilter(model_version_id=version.id), PageRequest(10), count_at_most=100
        )

    assert listed.matching == 3
    assert [(i.anomaly, i.transaction, i.contributions) for i in listed.page.items] == [
        (anomalies[0], transactions[0], why),
        (anomalies[1], transactions[1], None),
        (anomalies[2], transactions[2], None),
    ]


async def test_contributions_are_found_whether_or_not_the_anomaly_shares_its_prediction_instant(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # Scoring writes an anomaly at its prediction's instant (PostgreSQL looks there
    # first, in one partition); one detected at another instant must still be explained.
    version = await stored_model_version(uow_factory)
    transactions = [a_transaction(timestamp=at(i)) for i in range(2)]
    why = (Contribution("log_value", 2.5),)
    predictions = [
        a_prediction(tx, version, contributions=why, created_at=at(40 * (i + 1)))
        for i, tx in enumerate(transactions)
    ]
    async with uow_factory() as uow:
        await uow.transactions.add_many(transactions)
        await uow.predictions.add_many(predictions)
        await uow.commit()
    same, later = await _store(
        uow_factory,
        an_anomaly(predictions[0], detected_at=predictions[0].created_at),
        an_anomaly(predictions[1], detected_at=at(86_400 * 45)),  # another month
    )

    async with uow_factory() as uow:
        listed = await uow.anomalies.list_in_context(
            AnomalyFilter(model_version_id=version.id), PageRequest(10), count_at_most=10
        )

    assert [(i.anomaly, i.contributions) for i in listed.page.items] == [
        (later, why),
        (same, why),
    ]


async def test_a_page_past_the_last_match_is_empty_and_still_counts(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    await _anomalies(uow_factory, version, [{"detected_at": at(i)} for i in range(3)])
    beyond = PageRequest(5, Cursor(at(-1), str(uuid.UUID(int=0))))

    async with uow_factory() as uow:
        listed = await uow.anomalies.list_in_context(
            AnomalyFilter(model_version_id=version.id), beyond, count_at_most=10
        )
        with pytest.raises(ValueError, match="count_at_most"):
            await uow.anomalies.list_in_context(AnomalyFilter(), beyond, count_at_most=-1)

    assert listed.page.items == []
    assert listed.page.next_cursor is None
    assert listed.matching == 3


async def test_an_anomaly_carries_its_own_contributions_and_transaction_instant(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # Scoring records both with the anomaly, so a listing need not read the prediction or
    # (partitioned) the transaction's key; the listing still finds the transaction when
    # the instant carried is missing or is not the transaction's.
    version = await stored_model_version(uow_factory)
    transactions = [a_transaction(timestamp=at(86_400 * 40 * i)) for i in range(3)]
    predictions = [
        a_prediction(tx, version, contributions=(Contribution("gas_price", 1.0),))
        for tx in transactions
    ]
    async with uow_factory() as uow:
        await uow.transactions.add_many(transactions)
        await uow.predictions.add_many(predictions)
        await uow.commit()
    own = (Contribution("log_value", 3.5), Contribution("input_size", -0.5))
    carried, missing, wrong = await _store(
        uow_factory,
        an_anomaly(
            predictions[0],
            detected_at=at(30),
            contributions=own,
            transaction_timestamp=transactions[0].timestamp,
        ),
        an_anomaly(predictions[1], detected_at=at(20), contributions=own),
        an_anomaly(
            predictions[2],
            detected_at=at(10),
            transaction_timestamp=transactions[2].timestamp + timedelta(days=45),
        ),
    )

    async with uow_factory() as uow:
        assert await uow.anomalies.get(carried.id) == carried
        assert (await uow.anomalies.get(wrong.id)).transaction_timestamp == (
            wrong.transaction_timestamp
        )
        listed = await uow.anomalies.list_in_context(
            AnomalyFilter(model_version_id=version.id), PageRequest(10), count_at_most=10
        )

    assert [(i.anomaly, i.transaction, i.contributions) for i in listed.page.items] == [
        (carried, transactions[0], own),
        (missing, transactions[1], own),
        (wrong, transactions[2], predictions[2].contributions),
    ]
