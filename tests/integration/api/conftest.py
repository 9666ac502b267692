"""The HTTP API in process (httpx over ASGI), on the fakes and on PostgreSQL.

``api`` is an app over an empty store of the parametrised backend with one user and one
API key per role (``api.as_(Role.ADMIN)`` gives the headers). On PostgreSQL the app uses
the session's scratch database, emptied first; the app and the test share one event loop,
so tests can also seed data straight through ``api.container.services.uow``. (Litestar's own test
clients run the app on a second event loop, where the session's PostgreSQL pool cannot go.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from litestar import Litestar

from adapters.piccolo import LentDatabase, PiccoloDatabase
from adapters.security import Argon2PasswordHasher
from domain.model import Role, User
from domain.services.users import create_user, issue_api_key
from entrypoints.bootstrap import Container, bootstrap_in_memory, wire
from entrypoints.http import create_app
from entrypoints.settings import DEFAULT_API_KEY_CACHE_S
from tests.backends import reset_database
from tests.clocks import ManualClock

BACKENDS = ["memory", pytest.param("postgres", marks=pytest.mark.postgres)]
CHEAP_PASSWORDS = Argon2PasswordHasher.cheap()
CLIENT_IP = "203.0.113.7"
API_KEY_CACHE_S = DEFAULT_API_KEY_CACHE_S
"""Verified keys are cached as in production: the tests' changes go through the app's own
use cases, which forget what they change."""


@dataclass
class Api:
    client: httpx.AsyncClient
    container: Container
    clock: ManualClock
    users: dict[Role, User]
    keys: dict[Role, str]
    app: Litestar

    def as_(self, role: Role) -> dict[str, str]:
        """Headers that authenticate as the user with ``role``."""
        return {"X-API-Key": self.keys[role]}


async def container_for(request: pytest.FixtureRequest) -> Container:
    if request.param == "memory":
        return bootstrap_in_memory(
            clock=ManualClock(),
            passwords=CHEAP_PASSWORDS,
            bootstrap_model=False,
            api_key_cache_s=API_KEY_CACHE_S,
        )
    database: PiccoloDatabase = request.getfixturevalue("postgres_database")
    await reset_database(database)
    return wire(
        LentDatabase(database),
        clock=ManualClock(),
        passwords=CHEAP_PASSWORDS,
        bootstrap_model=False,
        api_key_cache_s=API_KEY_CACHE_S,
    )


async def user_with_key(container: Container, role: Role) -> tuple[User, str]:
    user = await create_user(
        container.services,
        username=f"{role.value}-user",
        role=role,
        actor=None,
    )
    issued = await issue_api_key(container.services, owner_id=user.id, actor=None)
    return user, issued.token


@pytest.fixture(params=BACKENDS)
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    container = await container_for(request)
    users: dict[Role, User] = {}
    keys: dict[Role, str] = {}
    for role in Role:
        users[role], keys[role] = await user_with_key(container, role)
    app = create_app(container)
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))  # type: ignore[arg-type]
    async with (
        running(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        clock = container.services.clock
        assert isinstance(clock, ManualClock)
        yield Api(client, container, clock, users, keys, app)


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[None]:
    """The app's lifespan, entered and exited in a task of its own: the lifespan's task
    group must be left by the task that entered it, and pytest-asyncio may tear a fixture
    down from another task."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    starting = asyncio.create_task(started.wait())
    await asyncio.wait([task, starting], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        starting.cancel()
        task.result()  # start-up failed: raise its error
    try:
        yield
    finally:
        stop.set()
        await task
