"""Contract of ``TransactionRepository.sender_activity``: every backend answers a batch of
history points as ``domain.history`` defines them - whatever the order rows were stored
in, with the per-address cap - and equal to the training sweep over the same rows."""

from __future__ import annotations

import random
from datetime import timedelta

from domain.history import (
    HISTORY_CAP,
    NO_ACTIVITY,
    HistoryPoint,
    Send,
    SenderActivity,
    SenderHistory,
    sweep_histories,
)
from domain.model import Transaction
from ports import UnitOfWorkFactory
from tests.builders import a_transaction, at, random_address, random_hash, stored_transactions

SENDER = "0x" + "5e" * 20


async def _activity(
    uow_factory: UnitOfWorkFactory, *points: HistoryPoint
) -> dict[HistoryPoint, SenderActivity]:
    async with uow_factory() as uow:
        return await uow.transactions.sender_activity(points)


def _point(seconds: float, address: str = SENDER, tx_hash: str | None = None) -> HistoryPoint:
    return HistoryPoint(address, at(seconds), tx_hash or random_hash())


async def test_an_address_never_seen_has_no_activity(uow_factory: UnitOfWorkFactory) -> None:
    await stored_transactions(uow_factory, a_transaction(timestamp=at(0)))
    point = _point(10)

    assert await _activity(uow_factory, point) == {point: NO_ACTIVITY}
    assert await _activity(uow_factory) == {}


async def test_sends_in_the_day_before_count_newest_first_and_receipts_date_first_sight(
    uow_factory: UnitOfWorkFactory,
) -> None:
    received = a_transaction(to_address=SENDER, timestamp=at(-3 * 86_400))
    too_old = a_transaction(from_address=SENDER, timestamp=at(-86_400 - 1))
    edge = a_transaction(from_address=SENDER, timestamp=at(-86_400), value=0, to_address=None)
    recent = a_transaction(from_address=SENDER, timestamp=at(-5), value=7)
    later = a_transaction(from_address=SENDER, timestamp=at(5))
    await stored_transactions(uow_factory, later, recent, edge, too_old, received)
    point = _point(0)

    answer = (await _activity(uow_factory, point))[point]

    assert answer == SenderActivity(received.timestamp, (Send.of(recent), Send.of(edge)))


async def test_a_transaction_is_not_its_own_history_and_ties_are_ordered_by_hash(
    uow_factory: UnitOfWorkFactory,
) -> None:
    low, high = ("0x" + "00" * 31 + "01", "0x" + "ff" * 32)
    first = a_transaction(from_address=SENDER, hash=low, timestamp=at(0))
    second = a_transaction(from_address=SENDER, hash=high, timestamp=at(0))
    await stored_transactions(uow_factory, second, first)
    points = [HistoryPoint.of(first), HistoryPoint.of(second)]

    answers = await _activity(uow_factory, *points)

    assert answers[points[0]] == NO_ACTIVITY
    assert answers[points[1]] == SenderActivity(first.timestamp, (Send.of(first),))


async def test_a_busy_address_saturates_at_the_cap_with_its_newest_sends(
    uow_factory: UnitOfWorkFactory,
) -> None:
    sends = [a_transaction(from_address=SENDER, timestamp=at(i)) for i in range(HISTORY_CAP + 30)]
    await stored_transactions(uow_factory, *reversed(sends))
    newest_first = tuple(Send.of(tx) for tx in reversed(sends))
    # Points of one address in one call: the last, one in the middle (stored sends lie
    # between it and the last, so its share of the capped read is short), and one early.
    last, middle, early = _point(10_000), _point(HISTORY_CAP + 0.5), _point(5.5)

    answers = await _activity(uow_factory, last, middle, early)

    assert answers[last] == SenderActivity(at(0), newest_first[:HISTORY_CAP])
    assert answers[middle] == SenderActivity(at(0), newest_first[29 : 29 + HISTORY_CAP])
    assert answers[early] == SenderActivity(at(0), newest_first[-6:])


def _stream(seed: int) -> list[Transaction]:
    """A dense stream over two days: a few busy senders (one past the cap), receivers that
    later send, shared instants, zero values and contract creations."""
    rng = random.Random(seed)
    people = [random_address() for _ in range(6)]
    rows: list[Transaction] = []
    for _ in range(HISTORY_CAP + 120):
        sender = people[0] if rng.random() < 0.6 else rng.choice(people)
        rows.append(
            a_transaction(
                from_address=sender,
                to_address=None if rng.random() < 0.05 else rng.choice([*people, random_address()]),
                value=rng.choice([0, 1, 10**15, rng.randrange(1, 10**22)]),
                timestamp=at(rng.choice([0, 1, 2, 3600, 7200, 86_000, 90_000, 150_000])
                             + rng.randrange(0, 40) * 0.5),
            )
        )  # fmt: skip
    return rows


async def test_stored_in_any_order_the_answers_equal_the_training_sweep(
    uow_factory: UnitOfWorkFactory,
) -> None:
    rows = _stream(7)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    for start in range(0, len(shuffled), 50):  # out-of-order ingest, in several commits
        await stored_transactions(uow_factory, *shuffled[start : start + 50])
    points = [HistoryPoint.of(tx) for tx in rows]

    answers = await _activity(uow_factory, *points)

    swept = sweep_histories(rows)
    for tx, point in zip(rows, points, strict=True):
        assert SenderHistory.from_activity(point, answers[point]) == swept[tx.hash], tx
    assert max(swept[tx.hash].sent_last_day for tx in rows) == HISTORY_CAP


async def test_points_of_one_address_asked_together_or_alone_get_the_same_answer(
    uow_factory: UnitOfWorkFactory,
) -> None:
    rows = _stream(11)
    await stored_transactions(uow_factory, *rows)
    points = [HistoryPoint.of(tx) for tx in rows if tx.from_address == rows[0].from_address]
    chosen = [*points[::17], HistoryPoint(rows[0].from_address, at(200_000), random_hash())]

    together = await _activity(uow_factory, *chosen)

    for point in chosen:
        assert (await _activity(uow_factory, point))[point] == together[point]
    late = chosen[-1]
    assert together[late].sends == () or together[late].sends[0].timestamp >= late.window_start
    first_seen = together[late].first_seen
    assert first_seen is not None
    assert at(200_000) - first_seen > timedelta(days=1)
