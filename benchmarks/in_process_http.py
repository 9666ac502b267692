"""Shared by the in-process HTTP benchmarks (key_cache.py, rate_limits.py): a fresh
/predict body, requests per second at a given concurrency, and an app kept running."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable

import httpx
from litestar import Litestar


def transaction_body() -> dict[str, object]:
    """A /predict body with a new hash (1 ETH at 21,000 gas and 20 gwei)."""
    return {
        "hash": "0x" + secrets.token_hex(32),
        "from": "0x" + secrets.token_hex(20),
        "to": "0x" + secrets.token_hex(20),
        "value": str(10**18),
        "gas": 21000,
        "gasPrice": str(20 * 10**9),
        "timestamp": "2024-05-01T12:00:00Z",
    }


async def requests_per_second(
    send: Callable[[], Awaitable[httpx.Response]], count: int, width: int
) -> float:
    """Requests/s for ``count`` requests, ``width`` at a time; every answer must be 2xx."""
    left = count

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            response = await send()
            if response.status_code >= 300:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(width)))
    return count / (time.perf_counter() - started)


async def running(app: Litestar, ready: asyncio.Event, stop: asyncio.Event) -> None:
    """Run ``app``'s lifespan: ``ready`` once it has started, until ``stop``."""
    async with app.lifespan():
        ready.set()
        await stop.wait()


def sender(
    client: httpx.AsyncClient, route: str, headers: dict[str, str]
) -> Callable[[], Awaitable[httpx.Response]]:
    """One request per call: ``predict`` posts a fresh transaction, anything else reads
    ``/api/v1/models``."""

    def send() -> Awaitable[httpx.Response]:
        if route == "predict":
            return client.post("/api/v1/predict", json=transaction_body(), headers=headers)
        return client.get("/api/v1/models", headers=headers)

    return send


async def wait_ready(client: httpx.AsyncClient) -> None:
    """Until ``/ready`` answers 200 (at most a minute)."""
    for _ in range(600):
        answer = await client.get("/ready")
        if answer.status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the app did not become ready: {answer.text[:300]}")
