"""Verified API keys cached per app instance, over HTTP, on the fakes and on PostgreSQL:
two instances (each its own ``Services`` and cache, as two worker processes have) over one
database, on one clock. A key revoked, or a user deactivated or demoted, through one
instance is refused by that instance at once and by the other within the cache time -
and admitted by the other before it (so the cache is what answered). Failed
authentications are still limited per address with the cache on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from adapters.memory import InMemoryDatabase
from adapters.piccolo import LentDatabase
from adapters.security import HmacSecretDigester
from domain.model import Role
from domain.rate_limits import Rate
from domain.services.users import create_user, issue_api_key
from entrypoints.bootstrap import Container, wire
from entrypoints.http import create_app
from entrypoints.settings import RateLimitSettings
from tests.backends import reset_database
from tests.clocks import ManualClock
from tests.integration.api.conftest import (
    BACKENDS,
    CHEAP_PASSWORDS,
    CLIENT_IP,
    running,
    user_with_key,
)

CACHE_S = 5
MODELS = "/api/v1/models"
WRONG_KEY = {"X-API-Key": "cw_0123456789ab_" + "x" * 43}


@dataclass
class Instance:
    container: Container
    client: httpx.AsyncClient


@dataclass
class Cluster:
    a: Instance
    b: Instance
    clock: ManualClock
    admin: dict[str, str]

    def later(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))


@pytest.fixture(params=BACKENDS)
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    """Two app instances over one store, each caching keys for ``CACHE_S`` seconds."""
    clock = ManualClock()
    digester = HmacSecretDigester("cluster-secret-key-" * 3)
    if request.param == "memory":
        store: InMemoryDatabase | LentDatabase = InMemoryDatabase()
    else:
        database = request.getfixturevalue("postgres_database")
        await reset_database(database)
        store = LentDatabase(database)
    containers = [
        wire(
            store,
            clock=clock,
            digester=digester,
            passwords=CHEAP_PASSWORDS,
            bootstrap_model=False,
            api_key_cache_s=CACHE_S,
        )
        for _ in range(2)
    ]
    _, admin_key = await user_with_key(containers[0], Role.ADMIN)
    limits = RateLimitSettings(auth_failures_per_address=Rate(5, 60), sync_s=3600.0)
    async with AsyncExitStack() as stack:
        instances = []
        for container in containers:
            app = create_app(container, rate_limits=limits)
            transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))  # type: ignore[arg-type]
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://testserver")
            )
            await stack.enter_async_context(running(app))
            instances.append(Instance(container, client))
        yield Cluster(instances[0], instances[1], clock, {"X-API-Key": admin_key})


async def _status(instance: Instance, key: str, path: str = MODELS) -> int:
    return (await instance.client.get(path, headers={"X-API-Key": key})).status_code


async def test_a_key_revoked_on_one_instance_is_refused_on_the_other_within_the_cache_time(
    cluster: Cluster,
) -> None:
    user, key = await user_with_key(cluster.a.container, Role.VIEWER)
    assert [await _status(cluster.a, key), await _status(cluster.b, key)] == [200, 200]
    listed = await cluster.a.client.get(
        "/api/v1/api-keys", params={"user": str(user.id)}, headers=cluster.admin
    )
    (key_id,) = [row["id"] for row in listed.json()["api_keys"]]

    revoked = await cluster.a.client.delete(f"/api/v1/api-keys/{key_id}", headers=cluster.admin)
    assert revoked.status_code == 200

    assert await _status(cluster.a, key) == 401  # the revoking instance: at once
    assert await _status(cluster.b, key) == 200  # the other: from its cache, for now
    cluster.later(CACHE_S - 1)
    assert await _status(cluster.b, key) == 200
    cluster.later(1)
    refused = await cluster.b.client.get(MODELS, headers={"X-API-Key": key})
    assert refused.status_code == 401
    assert refused.json()["detail"] == "the API key has been revoked"


async def test_a_user_deactivated_on_one_instance_is_refused_on_the_other_within_the_cache_time(
    cluster: Cluster,
) -> None:
    user, key = await user_with_key(cluster.a.container, Role.VIEWER)
    assert await _status(cluster.b, key) == 200
    changed = await cluster.a.client.patch(
        f"/api/v1/users/{user.id}", json={"active": False}, headers=cluster.admin
    )
    assert changed.status_code == 200
    assert await _status(cluster.a, key) == 401
    assert await _status(cluster.b, key) == 200
    cluster.later(CACHE_S)
    assert await _status(cluster.b, key) == 401


async def test_a_demoted_user_loses_the_role_on_the_other_instance_within_the_cache_time(
    cluster: Cluster,
) -> None:
    services = cluster.a.container.services
    user = await create_user(services, username="second-admin", role=Role.ADMIN, actor=None)
    key = (await issue_api_key(services, owner_id=user.id, actor=None)).token
    users = "/api/v1/users"
    assert await _status(cluster.b, key, users) == 200
    changed = await cluster.a.client.patch(
        f"/api/v1/users/{user.id}", json={"role": "viewer"}, headers=cluster.admin
    )
    assert changed.status_code == 200
    assert await _status(cluster.a, key, users) == 403
    assert await _status(cluster.b, key, users) == 200
    cluster.later(CACHE_S)
    assert await _status(cluster.b, key, users) == 403
    assert await _status(cluster.b, key) == 200  # still a viewer: reads models


async def test_an_expired_key_is_refused_at_its_expiry_though_cached(cluster: Cluster) -> None:
    user, _ = await user_with_key(cluster.a.container, Role.VIEWER)
    expires_at = cluster.clock.current + timedelta(seconds=2)
    issued = await cluster.a.client.post(
        "/api/v1/api-keys",
        json={"user_id": str(user.id), "expires_at": expires_at.isoformat()},
        headers=cluster.admin,
    )
    assert issued.status_code == 201, issued.text
    key = issued.json()["key"]
    assert await _status(cluster.b, key) == 200
    cluster.clock.current = expires_at
    refused = await cluster.b.client.get(MODELS, headers={"X-API-Key": key})
    assert refused.status_code == 401
    assert refused.json()["detail"] == "the API key has expired"


async def test_failed_authentications_are_still_limited_with_the_cache_on(
    cluster: Cluster,
) -> None:
    _, key = await user_with_key(cluster.a.container, Role.VIEWER)
    assert await _status(cluster.a, key) == 200  # cached now
    prefix = key.rsplit("_", 1)[0]
    wrong_secret = {"X-API-Key": f"{prefix}_{'y' * 43}"}
    statuses = [
        (await cluster.a.client.get(MODELS, headers=headers)).status_code
        for headers in [WRONG_KEY, wrong_secret] * 3
    ]
    assert statuses == [401] * 5 + [429]
    assert len(cluster.a.container.services.verified_keys) == 1  # the valid key only
