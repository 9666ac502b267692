"""domain.history and feature set 4: a sender's past as of just before a transaction.

Properties: the history columns are finite for any valid history, never fall when more
is sent in the window, do not depend on the order earlier transactions are given in;
the training sweep equals the repository's answer; a scoring batch's earlier
transactions of a sender count as its history."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.memory import InMemoryDatabase
from domain.errors import InvalidInput
from domain.features import extract_features, feature_names, history_features
from domain.history import (
    HISTORY_CAP,
    NEW_SENDER,
    HistoryPoint,
    HistorySweep,
    Send,
    SenderActivity,
    SenderHistory,
    batch_histories,
    sweep_histories,
)
from domain.model import Transaction
from domain.services.training_data import StoredTransactions, gather
from domain.values import UINT256_MAX
from ports import TimeRange
from tests.builders import a_transaction, at, random_address, random_hash
from tests.services import services_for

SENDER = "0x" + "5e" * 20
POINT = HistoryPoint(SENDER, at(0), "0x" + "80" * 32)
HISTORY_COLUMNS = feature_names(4)[len(feature_names(3)) :]
COUNT_COLUMNS = ("log_sent_last_hour", "log_sent_last_day", "log_counterparties_last_day")

wei = st.one_of(st.sampled_from([0, 1, 10**18, UINT256_MAX]), st.integers(0, UINT256_MAX))
# Offsets before the point, in seconds: inside the hour, the day, and outside the window.
offsets = st.one_of(st.floats(0, 3_600), st.floats(0, 90_000), st.sampled_from([0.0, 3_600.0]))
receivers = st.one_of(st.none(), st.sampled_from([random_address() for _ in range(4)]))


@st.composite
def sends(draw: st.DrawFn) -> Send:
    offset = draw(offsets)
    return Send(
        POINT.timestamp - timedelta(seconds=offset), random_hash(), draw(wei), draw(receivers)
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[datetime | None, list[Send]]:
    earlier = draw(st.lists(sends(), max_size=HISTORY_CAP + 20))
    age = draw(st.one_of(st.none(), st.floats(0, 10**10)))
    first_seen = None if age is None else POINT.timestamp - timedelta(seconds=age)
    if earlier and first_seen is not None:
        first_seen = min(first_seen, *(send.timestamp for send in earlier))
    return first_seen, earlier


def _columns(value: int, history: SenderHistory) -> dict[str, float]:
    return dict(zip(HISTORY_COLUMNS, history_features(value, history), strict=True))


@settings(max_examples=200, deadline=None)
@given(histories(), wei)
def test_the_history_columns_are_finite_for_any_valid_history(
    history: tuple[datetime | None, list[Send]], value: int
) -> None:
    first_seen, earlier = history
    row = history_features(value, SenderHistory.of(POINT, first_seen, earlier))
    assert len(row) == len(HISTORY_COLUMNS)
    assert all(isinstance(x, float) and math.isfinite(x) for x in row)


@settings(max_examples=200, deadline=None)
@given(histories(), st.lists(sends(), min_size=1, max_size=5), wei)
def test_more_sends_in_the_window_never_lower_the_count_columns(
    history: tuple[datetime | None, list[Send]], more: list[Send], value: int
) -> None:
    first_seen, earlier = history
    if first_seen is not None:
        first_seen = min(first_seen, *(send.timestamp for send in more))
    fewer = _columns(value, SenderHistory.of(POINT, first_seen, earlier))
    larger = _columns(value, SenderHistory.of(POINT, first_seen, [*earlier, *more]))
    for column in COUNT_COLUMNS:
        assert larger[column] >= fewer[column], column


@settings(max_examples=200, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_the_order_the_earlier_transactions_come_in_does_not_matter(
    history: tuple[datetime | None, list[Send]], rng: random.Random
) -> None:
    first_seen, earlier = history
    shuffled = earlier[:]
    rng.shuffle(shuffled)
    assert SenderHistory.of(POINT, first_seen, shuffled) == SenderHistory.of(
        POINT, first_seen, earlier
    )
    # Repeats count once; sends at or after the point are not history.
    later = Send(POINT.timestamp, "0x" + "ff" * 32, 5, None)
    assert SenderHistory.of(POINT, first_seen, [*earlier, *earlier, later]) == (
        SenderHistory.of(POINT, first_seen, earlier)
    )


def test_a_sender_never_seen_has_its_own_clear_row() -> None:
    columns = _columns(10**18, NEW_SENDER)
    assert columns["sender_is_new"] == 1.0
    assert columns["log_sender_age_s"] == 0.0
    assert columns["value_vs_sender_median"] == 0.0  # neutral without history
    assert all(columns[c] == 0.0 for c in COUNT_COLUMNS)
    seen_now = _columns(10**18, SenderHistory.of(POINT, POINT.timestamp, []))
    assert seen_now["sender_is_new"] == 0.0


def test_the_windows_the_cap_and_the_median_follow_the_definitions() -> None:
    def send(seconds_before: float, value: int, to: str | None = None) -> Send:
        return Send(POINT.timestamp - timedelta(seconds=seconds_before), random_hash(), value, to)

    earlier = [
        send(10, 4, "0xa"),
        send(3_600, 0, "0xa"),  # the hour's edge is inside
        send(3_601, 10, "0xb"),
        send(86_400, 2, "0xb"),  # the day's edge is inside
        send(86_401, 99),  # outside the window
    ]
    history = SenderHistory.of(POINT, POINT.timestamp - timedelta(days=30), earlier)
    assert history == SenderHistory(
        sent_last_hour=2,
        value_last_hour=4,
        sent_last_day=4,
        value_last_day=16,
        counterparties_last_day=2,
        age=timedelta(days=30),
        median_value=4,  # lower median of the nonzero 2, 4, 10
    )
    assert _columns(40, history)["value_vs_sender_median"] == pytest.approx(1.0)
    busy = [send(i, 1) for i in range(1, HISTORY_CAP + 50)]
    assert SenderHistory.of(POINT, None, busy).sent_last_day == HISTORY_CAP


def test_feature_set_4_is_set_3_followed_by_the_history_and_needs_it() -> None:
    tx = a_transaction()
    history = SenderHistory(3, 10**18, 5, 2 * 10**18, 2, timedelta(hours=2), 10**17)
    row = extract_features(tx, 4, history=history)
    assert row == (*extract_features(tx, 3), *history_features(tx.value, history))
    assert extract_features(tx, 3, history=history) == extract_features(tx, 3)
    with pytest.raises(InvalidInput) as caught:
        extract_features(tx, 4)
    assert caught.value.field == "history"


def _stream(seed: int, count: int = 400) -> list[Transaction]:
    rng = random.Random(seed)
    people = [random_address() for _ in range(5)]
    start = datetime(2024, 5, 1, tzinfo=UTC)
    return [
        a_transaction(
            from_address=people[0] if rng.random() < 0.5 else rng.choice(people),
            to_address=rng.choice([*people, random_address(), None]),
            value=rng.choice([0, 10**12, rng.randrange(1, 10**21)]),
            timestamp=start + timedelta(seconds=rng.choice([0, 60, 3_000, 80_000, 100_000])
                                        + rng.randrange(0, 30)),
        )
        for _ in range(count)
    ]  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_training_sweep_equals_the_repository_answer_for_the_same_rows(
    seed: int,
) -> None:
    rows = _stream(seed)
    database = InMemoryDatabase()
    async with database.uow() as uow:
        await uow.transactions.add_many(rows)
        await uow.commit()
        answers = await uow.transactions.sender_activity(HistoryPoint.of(tx) for tx in rows)

    swept = sweep_histories(reversed(rows))  # any input order: it sorts
    for tx in rows:
        point = HistoryPoint.of(tx)
        assert SenderHistory.from_activity(point, answers[point]) == swept[tx.hash]


async def test_a_primed_sweep_over_a_later_range_equals_the_repository_answer() -> None:
    rows = sorted(_stream(4), key=lambda tx: (tx.timestamp, tx.hash))
    since = rows[len(rows) // 2].timestamp
    database = InMemoryDatabase()
    async with database.uow() as uow:
        await uow.transactions.add_many(rows)
        await uow.commit()
        later = [tx for tx in rows if tx.timestamp >= since]
        answers = await uow.transactions.sender_activity(HistoryPoint.of(tx) for tx in later)
        senders = {tx.from_address for tx in later}
        primes = await uow.transactions.sender_activity(
            HistoryPoint(address, since, "") for address in senders
        )
    sweep = HistorySweep()
    for point, activity in primes.items():
        sweep.prime(point.address, activity)
    for tx in later:
        point = HistoryPoint.of(tx)
        assert sweep.history(tx) == SenderHistory.from_activity(point, answers[point])


def test_a_sweep_refuses_rows_out_of_time_order() -> None:
    sweep = HistorySweep()
    sweep.history(a_transaction(timestamp=at(10)))
    with pytest.raises(InvalidInput):
        sweep.history(a_transaction(timestamp=at(5)))


def test_earlier_transactions_of_the_batch_count_as_the_senders_history() -> None:
    stored_send = Send(at(-100), random_hash(), 7, None)
    stored = SenderActivity(at(-5_000), (stored_send,))
    first, second, third = (a_transaction(from_address=SENDER, timestamp=at(i)) for i in range(3))
    newcomer = a_transaction(timestamp=at(1))
    # The batch arrives in any order; "earlier" is time order.
    batch = [third, first, newcomer, second]
    points = {HistoryPoint.of(tx): stored for tx in (first, second, third)}

    got = batch_histories(batch, points)

    assert [got[tx.hash].sent_last_day for tx in (first, second, third)] == [1, 2, 3]
    assert got[third.hash] == SenderHistory.of(
        HistoryPoint.of(third), at(-5_000), [stored_send, Send.of(first), Send.of(second)]
    )
    assert got[newcomer.hash] == NEW_SENDER


def test_a_receiver_of_an_earlier_transaction_in_the_batch_is_not_new_when_it_sends() -> None:
    paid = random_address()
    payment = a_transaction(to_address=paid, timestamp=at(0))
    onward = a_transaction(from_address=paid, timestamp=at(30))

    got = batch_histories([onward, payment], {})

    assert got[onward.hash].age == timedelta(seconds=30)
    assert got[onward.hash].sent_last_day == 0


async def test_training_rows_of_a_stored_range_carry_the_history_the_repository_gives() -> None:
    rows = sorted(_stream(5), key=lambda tx: (tx.timestamp, tx.hash))
    since = rows[len(rows) // 3].timestamp
    database = InMemoryDatabase()
    async with database.uow() as uow:
        await uow.transactions.add_many(rows)
        await uow.commit()
        later = [tx for tx in rows if tx.timestamp >= since]
        answers = await uow.transactions.sender_activity(HistoryPoint.of(tx) for tx in later)

    data = await gather(
        services_for(database.uow),
        StoredTransactions(TimeRange(since, None)),
        holdout=0.0,
        feature_version=4,
    )

    expected = [
        extract_features(tx, 4, history=SenderHistory.from_activity(point, answers[point]))
        for tx, point in ((tx, HistoryPoint.of(tx)) for tx in later)
    ]
    assert data.train.rows == expected
    assert any(row[HISTORY_COLUMNS.index("sender_is_new") - len(HISTORY_COLUMNS)] == 0.0
               for row in expected[:5])  # fmt: skip
