"""Rate limits over HTTP, on the fakes and on PostgreSQL: failed authentications per client
address (429 after the limit, one audit row per address and minute), requests per API key,
both shared by several app instances (replicas) over one database; which address counts."""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar

from domain.model import AuditLog, Outcome, Role
from domain.pagination import PageRequest
from domain.rate_limits import Rate
from entrypoints.bootstrap import Container
from entrypoints.http import create_app
from entrypoints.http.rate_limits import RateLimits
from entrypoints.settings import RateLimitSettings
from ports.repositories import AuditFilter
from tests.clocks import ManualClock
from tests.integration.api.conftest import (
    BACKENDS,
    CLIENT_IP,
    container_for,
    running,
    user_with_key,
)

WRONG_KEY = {"X-API-Key": "cw_0123456789ab_" + "x" * 43}
NEVER_S = 3600.0  # background sync off: the tests sync by hand


@dataclass
class Replica:
    app: Litestar
    client: httpx.AsyncClient

    @property
    def limits(self) -> RateLimits:
        limits = self.app.state.rate_limits
        assert isinstance(limits, RateLimits)
        return limits


@asynccontextmanager
async def replica(
    container: Container, settings: RateLimitSettings, stack: AsyncExitStack
) -> AsyncIterator[Replica]:
    app = create_app(container, rate_limits=settings)
    yield Replica(app, await _client(app, CLIENT_IP, stack))


async def _client(app: Litestar, ip: str, stack: AsyncExitStack) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))  # type: ignore[arg-type]
    return await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url="http://testserver")
    )


@pytest.fixture(params=BACKENDS)
async def container(request: pytest.FixtureRequest) -> Container:
    return await container_for(request)


def _settings(**changes: object) -> RateLimitSettings:
    given: dict[str, object] = {"sync_s": NEVER_S}
    given.update(changes)
    return RateLimitSettings(**given)  # type: ignore[arg-type]


async def _failure_rows(container: Container) -> list[AuditLog]:
    async with container.services.uow() as uow:
        page = await uow.audit.query(AuditFilter(action="auth.authenticate"), PageRequest(100))
    return page.items


async def test_a_thousand_failed_authentications_leave_one_audit_row_and_429s(
    container: Container,
) -> None:
    settings = _settings(auth_failures_per_address=Rate(20, 60))
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(replica(container, settings, stack))
        await stack.enter_async_context(running(one.app))
        statuses: Counter[int] = Counter()
        limited: list[httpx.Response] = []
        for _ in range(1000):
            response = await one.client.get("/api/v1/transactions", headers=WRONG_KEY)
            statuses[response.status_code] += 1
            if response.status_code == 429:
                limited.append(response)
        await one.limits.sync()

    assert statuses == {401: 20, 429: 980}
    first = limited[0]
    assert first.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(first.headers["Retry-After"]) <= 60
    body = first.json()
    assert body["type"] == "urn:chainwatch:problem:rate-limited"
    assert body["status"] == 429
    assert "failed authentications" in body["detail"]
    rows = await _failure_rows(container)
    assert 1 <= len(rows) <= 2  # one per minute (the clock moves 1 ms per reading)
    assert sum(row.details["count"] for row in rows) == 20
    assert sum(row.details.get("rate_limited", 0) for row in rows) == 980
    assert all(row.ip == CLIENT_IP and row.resource == "transactions" for row in rows)
    assert rows[0].details["key_prefixes"] == ["cw_0123456789ab"]
    assert "x" * 43 not in str([row.details for row in rows])


async def test_a_blocked_address_is_refused_even_with_a_valid_key_until_its_window_ends(
    container: Container,
) -> None:
    _, key = await user_with_key(container, Role.VIEWER)
    valid = {"X-API-Key": key}
    clock = container.services.clock
    assert isinstance(clock, ManualClock)
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(
            replica(container, _settings(auth_failures_per_address=Rate(3, 60)), stack)
        )
        await stack.enter_async_context(running(one.app))
        other = await _client(one.app, "198.51.100.20", stack)
        failures = [
            (await one.client.get("/api/v1/transactions", headers=WRONG_KEY)).status_code
            for _ in range(3)
        ]
        blocked = await one.client.get("/api/v1/transactions", headers=valid)
        elsewhere = await other.get("/api/v1/transactions", headers=valid)
        clock.advance(timedelta(seconds=int(blocked.headers["Retry-After"])))
        later = await one.client.get("/api/v1/transactions", headers=valid)

    assert failures == [401, 401, 401]
    assert blocked.status_code == 429
    assert elsewhere.status_code == 200
    assert later.status_code == 200


async def test_failed_authentications_count_across_replicas(container: Container) -> None:
    settings = _settings(auth_failures_per_address=Rate(10, 60))
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(replica(container, settings, stack))
        b = await stack.enter_async_context(replica(container, settings, stack))
        await stack.enter_async_context(running(a.app))
        await stack.enter_async_context(running(b.app))

        async def fail(on: Replica) -> int:
            response = await on.client.get("/api/v1/transactions", headers=WRONG_KEY)
            return response.status_code

        on_a = [await fail(a) for _ in range(6)]
        on_b = [await fail(b) for _ in range(5)]
        again_on_a = await fail(a)

    assert on_a == [401] * 6
    assert on_b == [401, 401, 401, 401, 429]  # b saw the shared total reach 10
    assert again_on_a == 429  # a's next failure found the total past the limit
    rows = await _failure_rows(container)
    assert [row.details["count"] for row in rows] == [11]


async def test_the_per_key_limit_answers_429_and_is_shared_by_replicas(
    container: Container,
) -> None:
    _, key = await user_with_key(container, Role.VIEWER)
    valid = {"X-API-Key": key}
    settings = _settings(per_key=Rate(10, 60))
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(replica(container, settings, stack))
        b = await stack.enter_async_context(replica(container, settings, stack))
        await stack.enter_async_context(running(a.app))
        await stack.enter_async_context(running(b.app))

        async def get(on: Replica) -> httpx.Response:
            return await on.client.get("/api/v1/transactions", headers=valid)

        on_a = [(await get(a)).status_code for _ in range(6)]
        await a.limits.sync()
        on_b = [(await get(b)).status_code for _ in range(3)]
        await b.limits.sync()  # b learns a's 6: 9 of 10 used
        last = await get(b)
        refused = await get(b)

    assert on_a == [200] * 6
    assert on_b == [200] * 3
    assert last.status_code == 200
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["type"] == "urn:chainwatch:problem:rate-limited"
    assert "this API key" in refused.json()["detail"]
    async with container.services.uow() as uow:
        page = await uow.audit.query(AuditFilter(), PageRequest(100))
    # 429s are counted by the metrics, not audited request by request.
    assert [row.action for row in page.items if row.outcome is not Outcome.SUCCESS] == []


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(container: Container) -> None:
    forwarded = {**WRONG_KEY, "X-Forwarded-For": "192.0.2.99, 198.51.100.7"}
    trusted = (ipaddress.ip_network("203.0.113.0/24"),)
    async with AsyncExitStack() as stack:
        behind_proxy = await stack.enter_async_context(
            replica(container, _settings(trusted_proxies=trusted), stack)
        )
        direct = await stack.enter_async_context(replica(container, _settings(), stack))
        await stack.enter_async_context(running(behind_proxy.app))
        await stack.enter_async_context(running(direct.app))
        await behind_proxy.client.get("/api/v1/transactions", headers=forwarded)
        await direct.client.get("/api/v1/transactions", headers=forwarded)

    rows = await _failure_rows(container)
    # The proxy's right-most hop, never what the client wrote left of it; without a
    # trusted proxy the header is ignored.
    assert sorted(row.ip or "" for row in rows) == ["198.51.100.7", CLIENT_IP]
