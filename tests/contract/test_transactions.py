"""Contract of ``TransactionRepository``: every backend stores, finds and pages alike."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.piccolo.sql.statements import COPY_THRESHOLD
from domain.errors import TransactionNotFound
from domain.model import Transaction
from domain.pagination import PageRequest
from domain.values import UINT256_MAX
from ports import TimeRange, TrainingColumns, UnitOfWorkFactory
from tests.builders import (
    T0,
    a_transaction,
    at,
    collect_pages,
    random_address,
    random_hash,
    stored_transactions,
)

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
WEI_EDGES = [0, 1, 2**64, 10**18, UINT256_MAX]
wei = st.one_of(st.sampled_from(WEI_EDGES), st.integers(0, UINT256_MAX))
# Whole seconds and microseconds mixed, with many collisions: rows share instants, and
# instants with and without a fractional part sort together (naive text ordering breaks).
offsets_us = st.one_of(
    st.integers(0, 4).map(lambda s: s * 1_000_000),
    st.integers(0, 4_000_000),
)
# Each hypothesis example works in its own hour, since the store is emptied per test only.
_windows = itertools.count(1)


def _next_window() -> TimeRange:
    start = T0 + timedelta(days=next(_windows))
    return TimeRange(start, start + timedelta(hours=1))


def _order(transactions: list[Transaction]) -> list[str]:
    ordered = sorted(transactions, key=lambda tx: (tx.timestamp, tx.hash), reverse=True)
    return [tx.hash for tx in ordered]


async def test_a_stored_transaction_reads_back_field_for_field(
    uow_factory: UnitOfWorkFactory,
) -> None:
    tx = a_transaction(value=UINT256_MAX, gas_price=2**200 + 1, timestamp=at(0.000123))
    contract_creation = a_transaction(to_address=None, block_number=None, nonce=None, gas_used=None)
    await stored_transactions(uow_factory, tx, contract_creation)

    async with uow_factory() as uow:
        assert await uow.transactions.get(tx.hash) == tx
        assert await uow.transactions.get(contract_creation.hash) == contract_creation


async def test_instants_come_back_in_utc_with_microseconds(uow_factory: UnitOfWorkFactory) -> None:
    plus_two = timezone(timedelta(hours=2))
    tx = a_transaction(timestamp=T0.astimezone(plus_two) + timedelta(microseconds=1))
    await stored_transactions(uow_factory, tx)

    async with uow_factory() as uow:
        got = await uow.transactions.get(tx.hash)
    assert got.timestamp == T0 + timedelta(microseconds=1)
    assert got.timestamp.utcoffset() == timedelta(0)
    assert got.ingested_at.utcoffset() == timedelta(0)


async def test_get_raises_transaction_not_found_for_an_unknown_hash(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(TransactionNotFound):
            await uow.transactions.get(random_hash())


async def test_get_finds_a_transaction_whatever_the_case_of_the_hash(
    uow_factory: UnitOfWorkFactory,
) -> None:
    tx = a_transaction()
    await stored_transactions(uow_factory, tx)

    async with uow_factory() as uow:
        assert (await uow.transactions.get(tx.hash.upper().replace("0X", "0x"))).hash == tx.hash


async def test_add_many_reports_inserted_hashes(uow_factory: UnitOfWorkFactory) -> None:
    batch = [a_transaction() for _ in range(3)]
    async with uow_factory() as uow:
        result = await uow.transactions.add_many(batch)
        await uow.commit()
    assert sorted(result.inserted) == sorted(tx.hash for tx in batch)
    assert result.duplicates == ()


async def test_add_many_of_nothing_does_nothing(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        result = await uow.transactions.add_many([])
        await uow.commit()
    assert (result.inserted, result.duplicates) == ((), ())


async def test_a_stored_hash_is_reported_duplicate_and_never_overwritten(
    uow_factory: UnitOfWorkFactory,
) -> None:
    original = a_transaction(value=1, gas_price=2)
    await stored_transactions(uow_factory, original)
    impostor = a_transaction(hash=original.hash.upper().replace("0X", "0x"), value=999)
    fresh = a_transaction()

    async with uow_factory() as uow:
        result = await uow.transactions.add_many([impostor, fresh])
        await uow.commit()

    assert result.duplicates == (original.hash,)
    assert result.inserted == (fresh.hash,)
    async with uow_factory() as uow:
        assert await uow.transactions.get(original.hash) == original
        assert await uow.transactions.get(fresh.hash) == fresh


async def test_a_hash_repeated_within_a_batch_is_stored_once_from_its_first_occurrence(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first = a_transaction(value=1)
    again = a_transaction(hash=first.hash, value=2)

    async with uow_factory() as uow:
        result = await uow.transactions.add_many([first, again])
        await uow.commit()

    assert result.inserted == (first.hash,)
    assert result.duplicates == (first.hash,)
    async with uow_factory() as uow:
        assert (await uow.transactions.get(first.hash)).value == 1


async def test_a_large_batch_is_stored_exactly_across_bulk_paths(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # 1,200 rows crosses the adapters' bulk thresholds (COPY, multi-row chunks).
    stored_before = await stored_transactions(uow_factory, a_transaction(), a_transaction())
    batch = [
        a_transaction(value=WEI_EDGES[i % 5], gas_price=WEI_EDGES[-1 - i % 5], timestamp=at(i))
        for i in range(1_200)
    ]
    batch[10] = a_transaction(hash=stored_before[0].hash, value=5)
    batch[1_100] = a_transaction(hash=stored_before[1].hash, value=6)
    batch[700] = a_transaction(hash=batch[3].hash, value=7)
    batch[1_199] = a_transaction(hash=batch[600].hash, value=8)

    async with uow_factory() as uow:
        result = await uow.transactions.add_many(batch)
        await uow.commit()

    repeats = [batch[10].hash, batch[700].hash, batch[1_100].hash, batch[1_199].hash]
    assert sorted(result.duplicates) == sorted(repeats)
    assert len(result.inserted) == 1_196
    assert set(result.inserted) == {tx.hash for tx in batch} - {tx.hash for tx in stored_before}
    async with uow_factory() as uow:
        found = await uow.transactions.get_many(tx.hash for tx in batch)
    assert len(found) == 1_198
    assert [found[tx.hash] for tx in stored_before] == stored_before
    firsts: dict[str, Transaction] = {}
    for tx in batch[:10] + batch[11:700] + batch[701:1_100] + batch[1_101:1_199]:
        firsts.setdefault(tx.hash, tx)
    assert all(found[h] == tx for h, tx in firsts.items())


async def test_get_many_returns_only_stored_transactions_keyed_by_hash(
    uow_factory: UnitOfWorkFactory,
) -> None:
    one, two, _ = await stored_transactions(
        uow_factory, a_transaction(), a_transaction(), a_transaction()
    )

    async with uow_factory() as uow:
        found = await uow.transactions.get_many([one.hash, random_hash(), two.hash])
        nothing = await uow.transactions.get_many([])

    assert found == {one.hash: one, two.hash: two}
    assert nothing == {}


async def test_get_many_accepts_hashes_in_any_case(uow_factory: UnitOfWorkFactory) -> None:
    (tx,) = await stored_transactions(uow_factory, a_transaction())

    async with uow_factory() as uow:
        found = await uow.transactions.get_many([tx.hash.upper().replace("0X", "0x")])
    assert found == {tx.hash: tx}


async def test_list_by_time_is_newest_first_with_ties_broken_by_hash_descending(
    uow_factory: UnitOfWorkFactory,
) -> None:
    rows = [a_transaction(timestamp=at(s)) for s in (0, 5, 5, 5, 10, 0.5)]
    await stored_transactions(uow_factory, *rows)

    async with uow_factory() as uow:
        page = await uow.transactions.list_by_time(TimeRange(), PageRequest(100))

    assert [tx.hash for tx in page.items] == _order(rows)
    assert page.next_cursor is None


async def test_list_by_time_range_includes_since_and_excludes_until(
    uow_factory: UnitOfWorkFactory,
) -> None:
    before, at_since, inside, at_until = (
        a_transaction(timestamp=at(s)) for s in (-0.000001, 0, 30, 60)
    )
    await stored_transactions(uow_factory, before, at_since, inside, at_until)

    async with uow_factory() as uow:
        both = await uow.transactions.list_by_time(TimeRange(at(0), at(60)), PageRequest(10))
        since = await uow.transactions.list_by_time(TimeRange(since=at(0)), PageRequest(10))
        until = await uow.transactions.list_by_time(TimeRange(until=at(60)), PageRequest(10))

    assert [tx.hash for tx in both.items] == [inside.hash, at_since.hash]
    assert [tx.hash for tx in since.items] == [at_until.hash, inside.hash, at_since.hash]
    assert [tx.hash for tx in until.items] == [inside.hash, at_since.hash, before.hash]


async def test_list_by_address_finds_sent_and_received_transactions_only(
    uow_factory: UnitOfWorkFactory,
) -> None:
    address = random_address()
    sent = a_transaction(from_address=address, timestamp=at(1))
    received = a_transaction(to_address=address, timestamp=at(2))
    to_self = a_transaction(from_address=address, to_address=address, timestamp=at(3))
    unrelated = a_transaction(timestamp=at(4))
    created = a_transaction(to_address=None, timestamp=at(5))
    await stored_transactions(uow_factory, sent, received, to_self, unrelated, created)

    async with uow_factory() as uow:
        page = await uow.transactions.list_by_address(address, TimeRange(), PageRequest(10))

    assert [tx.hash for tx in page.items] == [to_self.hash, received.hash, sent.hash]


async def test_list_by_address_accepts_checksum_case(uow_factory: UnitOfWorkFactory) -> None:
    address = random_address()
    (tx,) = await stored_transactions(uow_factory, a_transaction(to_address=address))

    async with uow_factory() as uow:
        checksum_case = "0x" + address[2:].upper()
        page = await uow.transactions.list_by_address(checksum_case, TimeRange(), PageRequest(10))
    assert [row.hash for row in page.items] == [tx.hash]


async def test_list_by_address_respects_the_time_range(uow_factory: UnitOfWorkFactory) -> None:
    address = random_address()
    rows = [a_transaction(from_address=address, timestamp=at(s)) for s in (0, 10, 20)]
    await stored_transactions(uow_factory, *rows)

    async with uow_factory() as uow:
        page = await uow.transactions.list_by_address(
            address, TimeRange(at(0), at(20)), PageRequest(10)
        )
    assert [tx.hash for tx in page.items] == [rows[1].hash, rows[0].hash]


async def test_pages_follow_each_other_through_the_cursor(uow_factory: UnitOfWorkFactory) -> None:
    rows = [a_transaction(timestamp=at(s // 3)) for s in range(7)]
    await stored_transactions(uow_factory, *rows)

    async with uow_factory() as uow:
        first = await uow.transactions.list_by_time(TimeRange(), PageRequest(3))
        assert first.next_cursor is not None
        second = await uow.transactions.list_by_time(
            TimeRange(), PageRequest.from_token(3, first.next_cursor)
        )
        assert second.next_cursor is not None
        third = await uow.transactions.list_by_time(
            TimeRange(), PageRequest.from_token(3, second.next_cursor)
        )

    assert [len(p.items) for p in (first, second, third)] == [3, 3, 1]
    assert third.next_cursor is None
    assert [tx.hash for p in (first, second, third) for tx in p.items] == _order(rows)


async def test_an_exactly_full_last_page_has_no_next_cursor(
    uow_factory: UnitOfWorkFactory,
) -> None:
    rows = [a_transaction(timestamp=at(s)) for s in range(4)]
    await stored_transactions(uow_factory, *rows)

    async with uow_factory() as uow:
        first = await uow.transactions.list_by_time(TimeRange(), PageRequest(2))
        assert first.next_cursor is not None
        last = await uow.transactions.list_by_time(
            TimeRange(), PageRequest.from_token(2, first.next_cursor)
        )
    assert len(last.items) == 2
    assert last.next_cursor is None


async def test_extreme_wei_amounts_round_trip_exactly(uow_factory: UnitOfWorkFactory) -> None:
    rows = [a_transaction(value=edge, gas_price=edge) for edge in WEI_EDGES]
    await stored_transactions(uow_factory, *rows)

    async with uow_factory() as uow:
        found = await uow.transactions.get_many(tx.hash for tx in rows)
    for tx in rows:
        assert type(found[tx.hash].value) is int
        assert (found[tx.hash].value, found[tx.hash].gas_price) == (tx.value, tx.gas_price)


@PROPERTY
@example(amounts=[(edge, edge) for edge in WEI_EDGES])
@given(amounts=st.lists(st.tuples(wei, wei), min_size=1, max_size=5))
async def test_wei_amounts_round_trip_exactly_through_every_read(
    uow_factory: UnitOfWorkFactory, amounts: list[tuple[int, int]]
) -> None:
    window = _next_window()
    assert window.since is not None
    rows = [
        a_transaction(value=value, gas_price=gas_price, timestamp=window.since)
        for value, gas_price in amounts
    ]
    await stored_transactions(uow_factory, *rows)

    async with uow_factory() as uow:
        one_by_one = [await uow.transactions.get(tx.hash) for tx in rows]
        by_hash = await uow.transactions.get_many([tx.hash for tx in rows])
        listed = (await uow.transactions.list_by_time(window, PageRequest(10))).items

    expected = {tx.hash: (tx.value, tx.gas_price) for tx in rows}
    for read in (one_by_one, list(by_hash.values()), listed):
        assert {tx.hash: (tx.value, tx.gas_price) for tx in read} == expected
        assert all(type(tx.value) is int and type(tx.gas_price) is int for tx in read)


@PROPERTY
@given(
    offsets=st.lists(offsets_us, min_size=0, max_size=25),
    bounds=st.tuples(st.none() | offsets_us, st.none() | offsets_us),
    limit=st.integers(1, 7),
)
async def test_paging_by_time_returns_every_row_in_range_once_in_order(
    uow_factory: UnitOfWorkFactory,
    offsets: list[int],
    bounds: tuple[int | None, int | None],
    limit: int,
) -> None:
    window = _next_window()
    assert window.since is not None
    start = window.since
    rows = [a_transaction(timestamp=start + timedelta(microseconds=o)) for o in offsets]
    await stored_transactions(uow_factory, *rows)
    since, until = (None if b is None else start + timedelta(microseconds=b) for b in bounds)
    period = TimeRange(since or window.since, until or window.until)

    async with uow_factory() as uow:
        pages = await collect_pages(
            lambda request: uow.transactions.list_by_time(period, request), limit
        )

    in_range = [tx for tx in rows if period.contains(tx.timestamp)]
    assert [tx.hash for page in pages for tx in page] == _order(in_range)


@PROPERTY
@given(
    rows_spec=st.lists(
        st.tuples(offsets_us, st.sampled_from(["sent", "received", "other"])), max_size=25
    ),
    bounds=st.tuples(st.none() | offsets_us, st.none() | offsets_us),
    limit=st.integers(1, 7),
)
async def test_paging_by_address_returns_every_matching_row_once_in_order(
    uow_factory: UnitOfWorkFactory,
    rows_spec: list[tuple[int, str]],
    bounds: tuple[int | None, int | None],
    limit: int,
) -> None:
    address = random_address()
    rows = []
    for offset, role in rows_spec:
        timestamp = T0 + timedelta(microseconds=offset)
        if role == "sent":
            rows.append(a_transaction(from_address=address, timestamp=timestamp))
        elif role == "received":
            rows.append(a_transaction(to_address=address, timestamp=timestamp))
        else:
            rows.append(a_transaction(timestamp=timestamp))
    await stored_transactions(uow_factory, *rows)
    since, until = (None if b is None else T0 + timedelta(microseconds=b) for b in bounds)
    period = TimeRange(since, until)

    async with uow_factory() as uow:
        pages = await collect_pages(
            lambda request: uow.transactions.list_by_address(address, period, request), limit
        )

    matching = [
        tx
        for tx in rows
        if address in (tx.from_address, tx.to_address) and period.contains(tx.timestamp)
    ]
    assert [tx.hash for page in pages for tx in page] == _order(matching)


def _columns_of(chunks: list[TrainingColumns]) -> dict[str, list[object]]:
    fields = [f.name for f in dataclasses.fields(TrainingColumns)]
    return {name: [v for chunk in chunks for v in getattr(chunk, name)] for name in fields}


async def test_training_columns_come_in_training_order_in_chunks_of_the_period(
    uow_factory: UnitOfWorkFactory,
) -> None:
    window = _next_window()
    assert window.since is not None
    inside = [
        a_transaction(
            timestamp=window.since + timedelta(microseconds=offset),
            value=value,
            gas_price=price,
            gas_used=used,
            to_address=to,
            input_size=size,
        )
        for offset, value, price, used, to, size in [
            (0, 0, 0, None, None, 0),
            (0, UINT256_MAX, UINT256_MAX, 21_000, random_address(), 68),
            (1_000_000, 10**18, 30 * 10**9, None, random_address(), 0),
            (1_000_000, 1, 1, 0, None, 5),
            (1_000_000, 2**64, 10**70, 7, random_address(), 1),
            (1_000_001, 15 * 10**17, 2, 21_000, random_address(), 0),
            (3_599_999_999, 42, 43, None, random_address(), 0),
        ]
    ]
    outside = [
        a_transaction(timestamp=window.since - timedelta(microseconds=1)),
        a_transaction(timestamp=window.until),
    ]
    await stored_transactions(uow_factory, *inside, *outside)

    async with uow_factory() as uow:
        chunks = [chunk async for chunk in uow.transactions.training_columns(window, 3)]
        # Other statements of the unit of work run between chunks.
        assert await uow.transactions.get(inside[0].hash) == inside[0]

    assert [len(chunk) for chunk in chunks] == [3, 3, 1]
    expected = sorted(inside, key=lambda tx: (tx.timestamp, tx.hash))
    assert _columns_of(chunks) == _columns_of([TrainingColumns.of(expected)])


async def test_training_columns_of_an_empty_period_are_no_chunks(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await stored_transactions(uow_factory, a_transaction())
    async with uow_factory() as uow:
        chunks = [c async for c in uow.transactions.training_columns(_next_window(), 10)]
    assert chunks == []


@PROPERTY
@given(values=st.lists(st.tuples(wei, wei, offsets_us), min_size=1, max_size=12))
async def test_training_columns_keep_wei_exact_and_order_ties_by_hash(
    uow_factory: UnitOfWorkFactory, values: list[tuple[int, int, int]]
) -> None:
    window = _next_window()
    assert window.since is not None
    txs = [
        a_transaction(value=v, gas_price=p, timestamp=window.since + timedelta(microseconds=us))
        for v, p, us in values
    ]
    await stored_transactions(uow_factory, *txs)
    async with uow_factory() as uow:
        chunks = [c async for c in uow.transactions.training_columns(window, 5)]
    expected = sorted(txs, key=lambda tx: (tx.timestamp, tx.hash))
    assert _columns_of(chunks) == _columns_of([TrainingColumns.of(expected)])


@pytest.mark.parametrize("size", [1, COPY_THRESHOLD])
async def test_hashes_said_absent_are_stored_and_one_stored_after_all_is_still_a_duplicate(
    uow_factory: UnitOfWorkFactory, size: int
) -> None:
    stored = a_transaction()
    await stored_transactions(uow_factory, stored)
    new = [a_transaction() for _ in range(size)]

    async with uow_factory() as uow:
        added = await uow.transactions.add_many(new, found_absent=True)
        # Outside an all-or-nothing unit of work a wrong "absent" is still answered right.
        again = await uow.transactions.add_many([stored, *new[:1]], found_absent=True)
        await uow.commit()

    assert added.inserted == tuple(tx.hash for tx in new)
    assert again.inserted == ()
    assert set(again.duplicates) == {stored.hash, new[0].hash}
    async with uow_factory() as uow:
        assert len(await uow.transactions.get_many(tx.hash for tx in new)) == size
