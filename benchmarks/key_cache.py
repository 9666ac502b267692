"""Issue 13 benchmark: authentication with the verified-key cache on against off.

    .venv/bin/python benchmarks/key_cache.py [--requests 400] [--rounds 9] [--concurrency 16]

On a scratch PostgreSQL database (created, migrated and dropped here), two app instances
over the same database, both in process over httpx's ASGI transport with the production
defaults otherwise: one with ``CHAINWATCH_API_KEY_CACHE_S=0`` (every request looks its
key and user up, what the code did before) and one with the default 5 s. They serve the
same kinds of request in rounds (which goes first alternates):

  read    - ``GET /api/v1/models`` (one short query: the lightest authenticated route);
  predict - ``POST /api/v1/predict``, a fresh transaction each (scoring, micro-batching,
            one commit per batch).

Each line gives requests/s (median over rounds) for each, the ratio of the medians
on / off and the median of each round's paired ratio, and the database round trips per
request: every statement this process sends to PostgreSQL (BEGIN and COMMIT included;
counted in asyncpg's ``Connection``, since ``pg_stat_statements`` is not installed) during
that instance's rounds, divided by its requests. Background work of both instances (rate
limit sync, key use flush, job polling) is in the counts too; it is a few statements a
second. Absolute numbers vary between machines and runs; compare the ratios and counts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from asyncpg.connection import Connection
from in_process_http import requests_per_second, running, sender, wait_ready

from adapters.memory import InMemoryBlobStore
from adapters.piccolo import LentDatabase, PiccoloDatabase, PostgresConfig, config_from_url
from adapters.security import Argon2PasswordHasher, HmacSecretDigester
from domain.model import Role
from domain.services.users import create_user, issue_api_key
from entrypoints.bootstrap import wire
from entrypoints.http import create_app
from entrypoints.settings import DEFAULT_API_KEY_CACHE_S

ADMIN_DSN = os.environ.get(
    "CHAINWATCH_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/postgres"
)
BLOBS = InMemoryBlobStore()  # one model store for every app instance
DIGESTER = HmacSecretDigester(secrets.token_urlsafe(48))  # one key for every app instance
CACHE_SECONDS = {"off": 0, "on": DEFAULT_API_KEY_CACHE_S}


class _RoundTrips:
    """Statements sent through asyncpg by this process: each is one round trip (the
    statement cache keeps prepared statements after the warm-up)."""

    count = 0

    @classmethod
    def install(cls) -> None:
        def counted(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                cls.count += 1
                return await method(*args, **kwargs)

            return wrapper

        execute = Connection.execute

        async def simple_or_extended(self: Connection, query: str, *args: Any, **kw: Any) -> Any:
            if not args:  # the simple protocol (BEGIN, COMMIT): not through _execute
                cls.count += 1
            return await execute(self, query, *args, **kw)

        Connection.execute = simple_or_extended
        Connection._execute = counted(Connection._execute)
        Connection._executemany = counted(Connection._executemany)
        Connection._copy_in = counted(Connection._copy_in)
        Connection.copy_records_to_table = counted(Connection.copy_records_to_table)


async def _http_figures(
    database: PiccoloDatabase, key: str, requests: int, rounds: int, width: int
) -> None:
    headers = {"X-API-Key": key}
    apps = {
        name: create_app(
            wire(
                LentDatabase(database),
                digester=DIGESTER,
                blobs=BLOBS,
                bootstrap_model=True,
                api_key_cache_s=seconds,
            )
        )
        for name, seconds in CACHE_SECONDS.items()
    }
    stop = asyncio.Event()
    tasks = []
    for app in apps.values():
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(running(app, ready, stop)))
        await ready.wait()
    clients = {
        name: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 50000)),  # type: ignore[arg-type]
            base_url="http://testserver",
            timeout=60,
        )
        for name, app in apps.items()
    }
    try:
        for client in clients.values():  # warm up: models loaded, pools full
            await wait_ready(client)
            for route in ("read", "predict"):
                await requests_per_second(sender(client, route, headers), 100, width)
        for route in ("read", "predict"):
            figures: dict[str, list[float]] = {name: [] for name in clients}
            trips: dict[str, int] = dict.fromkeys(clients, 0)
            for number in range(rounds):
                order = list(clients.items())
                for name, client in order if number % 2 == 0 else reversed(order):
                    before = _RoundTrips.count
                    figures[name].append(
                        await requests_per_second(sender(client, route, headers), requests, width)
                    )
                    trips[name] += _RoundTrips.count - before
            off, on = (statistics.median(figures[name]) for name in ("off", "on"))
            paired = sorted(b / a for a, b in zip(figures["off"], figures["on"], strict=True))
            per_request = {name: trips[name] / (requests * rounds) for name in clients}
            print(
                f"{route:8} off {off:8.1f} req/s  on {on:8.1f} req/s  ratio of medians "
                f"{on / off:.3f}  median paired ratio {statistics.median(paired):.3f} "
                f"(quartiles {paired[len(paired) // 4]:.3f}-{paired[(3 * len(paired)) // 4]:.3f})"
                f"  DB round trips/request off {per_request['off']:.2f} "
                f"on {per_request['on']:.2f}  ({rounds} rounds x {requests} requests, "
                f"{width} at a time)"
            )
    finally:
        for client in clients.values():
            await client.aclose()
        stop.set()
        await asyncio.gather(*tasks)


async def run(requests: int, rounds: int, width: int) -> None:
    _RoundTrips.install()
    name = f"chainwatch_bench_keycache_{secrets.token_hex(4)}"
    server = await asyncpg.connect(ADMIN_DSN)
    await server.execute(f'CREATE DATABASE "{name}"')
    config = config_from_url(urlunsplit(urlsplit(ADMIN_DSN)._replace(path=f"/{name}")))
    assert isinstance(config, PostgresConfig)
    database = PiccoloDatabase(replace(config, pool_min=4, pool_max=20))
    try:
        await database.start()
        await database.migrate()
        services = wire(
            LentDatabase(database),
            digester=DIGESTER,
            passwords=Argon2PasswordHasher.cheap(),
            bootstrap_model=False,
        ).services
        admin = await create_user(services, username="bench", role=Role.ADMIN, actor=None)
        key = (await issue_api_key(services, owner_id=admin.id, actor=None)).token
        await _http_figures(database, key, requests, rounds, width)
    finally:
        await database.stop()
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.rounds, args.concurrency))


if __name__ == "__main__":
    main()
