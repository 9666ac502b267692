"""Issue 11 benchmark: what the rate limits cost, against the same app with them off.

    .venv/bin/python benchmarks/rate_limits.py [--requests 500] [--rounds 15]
        [--concurrency 16] [--failures 300]

On a scratch PostgreSQL database (created, migrated and dropped here), one app instance
with the limits off (``per_key`` and ``auth_failures_per_address`` off: what the code did
before, minus its per-failure audit row) and one with the defaults (300,000/minute per
key, synced every second; 120 failures/minute per address), both in process over httpx's
ASGI transport, serving the same kinds of request in rounds (which goes first alternates):

  predict — ``POST /api/v1/predict``, a fresh transaction each (the hot path: scoring,
            micro-batching, one commit per batch);
  read    — ``GET /api/v1/models`` (one short query: the lightest authenticated route).

Each figure is requests/s (median over rounds), the ratio of the medians limited / off,
and the median (and quartiles) of each round's ratio, its two runs back to back. Then the cost
of one failed authentication in the database, the old way (one audit row per failure,
``record_outcome``) against the new (``AuthFailureLimiter.failed``: counter upsert, audit
row read and upsert in one unit of work), in ms per failure and their ratio; and what a
refused request (429, address over its limit) costs with no database work at all, and
the limiters' own work per authenticated request (microseconds, against the milliseconds
a request takes: the figure that stays when the machine is too noisy for the ratios).
Absolute numbers vary between machines and runs; the ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import secrets
import statistics
import time
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from in_process_http import requests_per_second, running, sender, wait_ready

from adapters.memory import InMemoryBlobStore
from adapters.piccolo import LentDatabase, PiccoloDatabase, PostgresConfig, config_from_url
from adapters.security import Argon2PasswordHasher, HmacSecretDigester
from domain.errors import RateLimited
from domain.model import Outcome, Role
from domain.rate_limits import Rate
from domain.services.audit import record_outcome
from domain.services.auth_failures import AuthFailureLimiter, FailedAuthentication
from domain.services.users import create_user, issue_api_key
from entrypoints.bootstrap import wire
from entrypoints.http import create_app
from entrypoints.http.client_address import client_address
from entrypoints.http.rate_limits import RateLimits
from entrypoints.settings import RateLimitSettings

ADMIN_DSN = os.environ.get(
    "CHAINWATCH_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/postgres"
)
OFF = RateLimitSettings(per_key=None, auth_failures_per_address=None)
ON = RateLimitSettings()
BLOBS = InMemoryBlobStore()  # one model store for every app instance
DIGESTER = HmacSecretDigester(secrets.token_urlsafe(48))  # one key for every app instance
FORWARDED = (b"x-forwarded-for", b"192.0.2.1, 198.51.100.7")
FAILURE = FailedAuthentication(reason="the API key is not valid", resource="users")


async def _http_figures(
    database: PiccoloDatabase, key: str, requests: int, rounds: int, width: int
) -> None:
    headers = {"X-API-Key": key}
    apps = {
        "off": create_app(
            wire(LentDatabase(database), digester=DIGESTER, blobs=BLOBS, bootstrap_model=True),
            rate_limits=OFF,
        ),
        "limited": create_app(
            wire(LentDatabase(database), digester=DIGESTER, blobs=BLOBS, bootstrap_model=True),
            rate_limits=ON,
        ),
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
            await requests_per_second(sender(client, "read", headers), 50, width)
        for route in ("predict", "read"):
            figures: dict[str, list[float]] = {name: [] for name in clients}
            for number in range(rounds):
                order = list(clients.items())
                for name, client in order if number % 2 == 0 else reversed(order):
                    send = sender(client, route, headers)
                    figures[name].append(await requests_per_second(send, requests, width))
            off, limited = (statistics.median(figures[name]) for name in ("off", "limited"))
            # Each round's pair ran back to back: the median of their ratios is the least
            # disturbed by load that drifts over the run.
            paired = sorted(b / a for a, b in zip(figures["off"], figures["limited"], strict=True))
            print(
                f"{route:8} off {off:8.1f} req/s   limited {limited:8.1f} req/s   "
                f"ratio of medians {limited / off:.3f}   median of paired ratios "
                f"{statistics.median(paired):.3f} (quartiles {paired[len(paired) // 4]:.3f}"
                f"-{paired[(3 * len(paired)) // 4]:.3f}, {rounds} rounds)"
            )
    finally:
        for client in clients.values():
            await client.aclose()
        stop.set()
        await asyncio.gather(*tasks)


def _per_request_figures(database: PiccoloDatabase) -> None:
    services = wire(LentDatabase(database), digester=DIGESTER, bootstrap_model=False).services
    limits = RateLimits(services, ON)
    assert limits.per_key is not None
    key, count = uuid.uuid4(), 200_000
    started = time.perf_counter()
    for _ in range(count):
        limits.failures.check("203.0.113.7", "models")
        limits.per_key.hit(key)
    limiter_us = (time.perf_counter() - started) * 1e6 / count
    scope: Any = {"type": "http", "client": ("10.0.0.2", 1), "headers": [FORWARDED]}
    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    started = time.perf_counter()
    for _ in range(count):
        client_address(scope, trusted)
    address_us = (time.perf_counter() - started) * 1e6 / count
    print(
        f"limiter work per authenticated request: {limiter_us:.2f} us (address check + key "
        f"hit); client address behind a trusted proxy: {address_us:.2f} us"
    )


async def _failure_figures(database: PiccoloDatabase, failures: int) -> None:
    services = wire(LentDatabase(database), digester=DIGESTER, bootstrap_model=False).services
    started = time.perf_counter()
    for number in range(failures):
        await record_outcome(
            services,
            "auth.authenticate",
            "users",
            Outcome.DENIED,
            actor=None,
            details={"reason": FAILURE.reason, "n": number},
        )
    old_ms = (time.perf_counter() - started) * 1000 / failures
    limiter = AuthFailureLimiter(services, None)  # unlimited: every failure goes to the DB
    started = time.perf_counter()
    for number in range(failures):
        await limiter.failed(f"198.51.100.{number % 50}", FAILURE)
    new_ms = (time.perf_counter() - started) * 1000 / failures
    print(
        f"failed auth in the database: one audit row each {old_ms:.2f} ms, "
        f"counted + aggregated {new_ms:.2f} ms, ratio {new_ms / old_ms:.2f} "
        f"({failures} failures from {min(failures, 50)} addresses in one minute: "
        f"{failures} audit rows before, {min(failures, 50)} now)"
    )
    blocked = AuthFailureLimiter(services, Rate(1, 3600))
    await blocked.failed("192.0.2.1", FAILURE)
    refusals = 100_000
    started = time.perf_counter()
    for _ in range(refusals):
        with contextlib.suppress(RateLimited):
            blocked.check("192.0.2.1", "users")
    per_refusal_us = (time.perf_counter() - started) * 1e6 / refusals
    started = time.perf_counter()
    await blocked.flush()
    flush_ms = (time.perf_counter() - started) * 1000
    print(
        f"a refused request (address over its limit): {per_refusal_us:.2f} us in the limiter, "
        f"no database work; {refusals} refusals written to their audit row in {flush_ms:.1f} ms"
    )


async def run(requests: int, rounds: int, width: int, failures: int) -> None:
    name = f"chainwatch_bench_limits_{secrets.token_hex(4)}"
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
        _per_request_figures(database)
        await _failure_figures(database, failures)
    finally:
        await database.stop()
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--failures", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.rounds, args.concurrency, args.failures))


if __name__ == "__main__":
    main()
