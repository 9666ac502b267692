"""Contract of ``Locks``: one holder per name at a time, others wait; names are separate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.memory import InMemoryDatabase
from adapters.piccolo import PiccoloDatabase
from ports import Locks
from tests.backends import reset_database
from tests.contract.conftest import BACKENDS


@pytest.fixture(params=BACKENDS)
async def locks(request: pytest.FixtureRequest) -> AsyncIterator[Locks]:
    if request.param == "memory":
        yield InMemoryDatabase().locks
        return
    database: PiccoloDatabase = request.getfixturevalue(f"{request.param}_database")
    await reset_database(database)
    yield database.locks


async def test_a_second_holder_waits_until_the_first_lets_go(locks: Locks) -> None:
    events: list[str] = []
    entered, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with locks.exclusive("bootstrap"):
            events.append("first in")
            entered.set()
            await release.wait()
            events.append("first out")

    async def second() -> None:
        async with locks.exclusive("bootstrap"):
            events.append("second in")

    holder = asyncio.create_task(first())
    await entered.wait()
    waiter = asyncio.create_task(second())
    await asyncio.sleep(0.3)  # ample time for the waiter to get in, were it not excluded
    assert events == ["first in"]
    release.set()
    await asyncio.gather(holder, waiter)
    assert events == ["first in", "first out", "second in"]


async def test_locks_of_different_names_do_not_exclude_each_other(locks: Locks) -> None:
    async with locks.exclusive("one"):
        async with asyncio.timeout(10):
            async with locks.exclusive("two"):
                pass


async def test_a_lock_is_free_again_after_its_block_raised(locks: Locks) -> None:
    with pytest.raises(RuntimeError):
        async with locks.exclusive("bootstrap"):
            raise RuntimeError("training failed")
    async with asyncio.timeout(10):
        async with locks.exclusive("bootstrap"):
            pass


async def test_a_waiter_can_be_cancelled(locks: Locks) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with locks.exclusive("bootstrap"):
            entered.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await entered.wait()

    async def wait_for_lock() -> None:
        async with locks.exclusive("bootstrap"):
            raise AssertionError("entered while held")

    waiter = asyncio.create_task(wait_for_lock())
    await asyncio.sleep(0.1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder
    async with asyncio.timeout(10):
        async with locks.exclusive("bootstrap"):
            pass
