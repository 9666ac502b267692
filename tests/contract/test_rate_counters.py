"""Contract of ``RateCounterRepository`` (and the audit rows kept up to date under its
locks): memory | sqlite | postgres."""

from __future__ import annotations

import asyncio
import uuid

from domain.model import Outcome
from ports import CounterKey, UnitOfWorkFactory
from tests.builders import an_audit_entry, at

A = CounterKey("auth:203.0.113.7", at(0))
B = CounterKey("key:" + str(uuid.uuid4()), at(0))
LATER = CounterKey("auth:203.0.113.7", at(60))
EXPIRES = at(60)


async def _add(
    uow_factory: UnitOfWorkFactory, hits: dict[CounterKey, int]
) -> dict[CounterKey, int]:
    async with uow_factory() as uow:
        totals = await uow.rate_counters.add(hits, EXPIRES)
        await uow.commit()
    return totals


async def test_adding_creates_counters_and_answers_the_new_totals(
    uow_factory: UnitOfWorkFactory,
) -> None:
    assert await _add(uow_factory, {A: 1, B: 5}) == {A: 1, B: 5}
    assert await _add(uow_factory, {A: 2}) == {A: 3}
    assert await _add(uow_factory, {A: 0, B: 0, LATER: 0}) == {A: 3, B: 5, LATER: 0}


async def test_each_window_of_a_bucket_counts_apart(uow_factory: UnitOfWorkFactory) -> None:
    await _add(uow_factory, {A: 4})

    assert await _add(uow_factory, {LATER: 1}) == {LATER: 1}


async def test_hits_of_a_rolled_back_unit_of_work_do_not_count(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await _add(uow_factory, {A: 1})
    async with uow_factory() as uow:
        assert await uow.rate_counters.add({A: 10}, EXPIRES) == {A: 11}
        await uow.rollback()

    assert await _add(uow_factory, {A: 0}) == {A: 1}


async def test_prune_deletes_only_the_counters_that_expired(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.rate_counters.add({A: 3}, at(60))
        await uow.rate_counters.add({LATER: 2}, at(120))
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.rate_counters.prune(at(60)) == 0
        assert await uow.rate_counters.prune(at(61)) == 1
        await uow.commit()

    assert await _add(uow_factory, {A: 0, LATER: 0}) == {A: 0, LATER: 2}


async def test_an_expiry_is_only_ever_extended(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.rate_counters.add({A: 1}, at(120))
        await uow.rate_counters.add({A: 1}, at(60))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.rate_counters.prune(at(100)) == 0
        await uow.commit()


async def test_concurrent_read_modify_writes_after_a_counter_lose_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Writers that add to the same counter first are serialised by it: each one's audit
    row update sees the previous one's, so no count is lost."""
    row = an_audit_entry(outcome=Outcome.DENIED, details={"count": 0})

    async def one_failure() -> None:
        async with uow_factory() as uow:
            await uow.rate_counters.add({A: 1}, EXPIRES)
            stored = await uow.audit.find(row.id)
            entry = stored or row
            entry.details = {"count": int(entry.details["count"]) + 1}
            await uow.audit.put(entry)
            await uow.commit()

    await asyncio.gather(*(one_failure() for _ in range(6)))

    async with uow_factory() as uow:
        stored = await uow.audit.find(row.id)
        totals = await uow.rate_counters.add({A: 0}, EXPIRES)
    assert stored is not None
    assert stored.details == {"count": 6}
    assert totals == {A: 6}
