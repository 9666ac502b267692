"""Rates, windows and the two limiters on the in-memory fakes: several limiters over one
database stand for several processes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory import InMemoryDatabase
from domain.errors import InvalidInput, RateLimited, Unavailable
from domain.pagination import PageRequest
from domain.rate_limits import Rate, parse_rate
from domain.services.auth_failures import (
    MAX_NAMES,
    OTHER,
    AuthFailureLimiter,
    FailedAuthentication,
)
from domain.services.rate_limits import KeyRateLimiter
from entrypoints.http.rate_limits import RateLimits
from entrypoints.settings import RateLimitSettings
from ports.repositories import AuditFilter, CounterKey
from tests.clocks import ManualClock
from tests.services import services_for

KEY = uuid.uuid4()
FAILURE = FailedAuthentication(reason="the API key is not valid", resource="transactions")


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("300/minute", Rate(300, 60)),
        ("5/s", Rate(5, 1)),
        ("10 / hours", Rate(10, 3600)),
        ("2/MIN", Rate(2, 60)),
        ("off", None),
    ],
)
def test_rates_are_read_from_count_slash_unit(text: str, rate: Rate | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "x", "0/minute", "3/day", "/m", "-1/s", "1.5/s"])
def test_anything_else_is_not_a_rate(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_rate(text)


def test_windows_are_aligned_on_the_epoch_so_every_process_agrees() -> None:
    window = Rate(10, 60).window_at(datetime(2024, 5, 1, 12, 3, 59, 999_000, tzinfo=UTC))

    assert window.start == datetime(2024, 5, 1, 12, 3, tzinfo=UTC)
    assert window.end == datetime(2024, 5, 1, 12, 4, tzinfo=UTC)
    assert window.seconds_left(datetime(2024, 5, 1, 12, 3, 20, 500_000, tzinfo=UTC)) == 40
    assert window.seconds_left(window.end) == 1


async def test_a_key_gets_its_limit_per_window_then_429_until_the_next() -> None:
    clock = ManualClock()
    limiter = KeyRateLimiter(services_for(InMemoryDatabase().uow, clock), Rate(3, 60))
    for _ in range(3):
        limiter.hit(KEY)

    with pytest.raises(RateLimited) as refused:
        limiter.hit(KEY)
    assert 1 <= refused.value.retry_after_s <= 60
    limiter.hit(uuid.uuid4())  # another key has its own count
    clock.advance(timedelta(seconds=60))
    limiter.hit(KEY)


async def test_processes_learn_each_others_key_hits_when_they_sync() -> None:
    database, clock = InMemoryDatabase(), ManualClock()
    one = KeyRateLimiter(services_for(database.uow, clock), Rate(5, 60))
    two = KeyRateLimiter(services_for(database.uow, clock), Rate(5, 60))
    for _ in range(3):
        one.hit(KEY)
    await one.sync()
    two.hit(KEY)
    await two.sync()  # learns the total: 4

    two.hit(KEY)
    with pytest.raises(RateLimited):
        two.hit(KEY)


async def test_key_hits_that_cannot_be_shared_are_kept_for_the_next_sync() -> None:
    database, clock = InMemoryDatabase(), ManualClock()
    one = KeyRateLimiter(services_for(database.uow, clock), Rate(5, 60))
    two = KeyRateLimiter(services_for(database.uow, clock), Rate(5, 60))
    for _ in range(4):
        one.hit(KEY)
    database.available = False
    with pytest.raises(Unavailable):
        await one.sync()
    one.hit(KEY)
    with pytest.raises(RateLimited):  # still limited on its own counts meanwhile
        one.hit(KEY)
    database.available = True
    await one.sync()
    two.hit(KEY)
    await two.sync()

    with pytest.raises(RateLimited):
        two.hit(KEY)


async def test_failures_past_the_limit_block_the_address_and_are_audited_per_minute() -> None:
    database, clock = InMemoryDatabase(), ManualClock()
    limiter = AuthFailureLimiter(services_for(database.uow, clock), Rate(3, 60))
    for _ in range(3):
        limiter.check("192.0.2.1", "transactions")
        await limiter.failed("192.0.2.1", FAILURE)

    with pytest.raises(RateLimited):
        limiter.check("192.0.2.1", "transactions")
    limiter.check("192.0.2.2", "transactions")
    await limiter.flush()
    async with database.uow() as work:
        (row,) = (await work.audit.query(AuditFilter(), PageRequest(10))).items
    assert row.ip == "192.0.2.1"
    assert row.details["count"] == 3
    assert row.details["rate_limited"] == 1
    assert row.details["reasons"] == {"the API key is not valid": 3}


async def test_an_address_is_blocked_on_local_counts_while_the_database_is_down() -> None:
    database, clock = InMemoryDatabase(), ManualClock()
    limiter = AuthFailureLimiter(services_for(database.uow, clock), Rate(2, 60))
    database.available = False
    for _ in range(2):
        with pytest.raises(Unavailable):
            await limiter.failed("192.0.2.1", FAILURE)

    with pytest.raises(RateLimited):
        limiter.check("192.0.2.1", "transactions")


async def test_without_a_limit_failures_are_still_audited_one_row_per_minute() -> None:
    database, clock = InMemoryDatabase(), ManualClock()
    limiter = AuthFailureLimiter(services_for(database.uow, clock), None)
    for _ in range(50):
        limiter.check("192.0.2.1", "users")
        await limiter.failed("192.0.2.1", FAILURE)
    clock.advance(timedelta(minutes=1))
    await limiter.failed("192.0.2.1", FAILURE)

    async with database.uow() as work:
        rows = (await work.audit.query(AuditFilter(), PageRequest(10))).items
    assert sorted(row.details["count"] for row in rows) == [1, 50]


async def test_an_aggregate_row_names_a_bounded_number_of_resources() -> None:
    database, clock = InMemoryDatabase(), ManualClock()
    limiter = AuthFailureLimiter(services_for(database.uow, clock), None)
    for number in range(MAX_NAMES + 15):
        failure = FailedAuthentication(reason="the API key is not valid", resource=f"r/{number}")
        await limiter.failed("192.0.2.1", failure)

    async with database.uow() as work:
        (row,) = (await work.audit.query(AuditFilter(), PageRequest(10))).items
    resources = row.details["resources"]
    assert len(resources) == MAX_NAMES + 1
    assert resources[OTHER] == 15


async def test_the_app_prunes_counters_of_windows_that_are_over() -> None:
    database, clock = InMemoryDatabase(), ManualClock()
    limits = RateLimits(services_for(database.uow, clock), RateLimitSettings(per_key=Rate(9, 60)))
    assert limits.per_key is not None
    limits.per_key.hit(KEY)
    await limits.sync()
    window = Rate(9, 60).window_at(clock.current)
    counter = CounterKey(f"key:{KEY}", window.start)

    await limits.prune()  # the window is still running: kept
    async with database.uow() as work:
        assert await work.rate_counters.add({counter: 0}, window.end) == {counter: 1}
    clock.advance(timedelta(seconds=61))
    await limits.prune()
    async with database.uow() as work:
        assert await work.rate_counters.add({counter: 0}, window.end) == {counter: 0}
