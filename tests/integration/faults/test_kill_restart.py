"""Durable group commit, end to end: ``kill -9`` of a real ``chainwatch serve`` on a scratch
PostgreSQL database while client coroutines post single ``/predict`` requests, then a
restart. A 2xx is sent only after the micro-batch holding the transaction committed, so
every acknowledged transaction must be there after the crash with the very prediction
that was answered: the restarted server replays it (same ``prediction_id``,
``replayed: true``), and the database holds the transaction and its served prediction.

The clients are coroutines on one event loop (``httpx.AsyncClient``), as many as
``CLIENTS``, so that the server's micro-batches really gather concurrent requests; each
records the prediction id of every 2xx. A connection error acknowledges nothing."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.backends import run_in_thread
from tests.integration.faults.conftest import Deployment
from tests.integration.faults.servers import Server, a_transaction, serving

pytestmark = [pytest.mark.postgres, pytest.mark.fault]

CLIENTS = 32
ACKNOWLEDGED_BEFORE_KILL = 300
LOAD_LIMIT_S = 60.0


@dataclass
class Acknowledged:
    """What the clients saw: each acknowledged hash with the prediction id answered."""

    predictions: dict[str, str] = field(default_factory=dict)
    bodies: dict[str, dict[str, object]] = field(default_factory=dict)
    sent: int = 0
    connection_errors: int = 0
    non_2xx: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once ``ACKNOWLEDGED_BEFORE_KILL`` are acknowledged."""


async def _client(
    client: httpx.AsyncClient, url: str, seen: Acknowledged, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        body = a_transaction()
        seen.sent += 1
        try:
            response = await client.post(f"{url}/api/v1/predict", json=body)
        except httpx.TransportError:
            seen.connection_errors += 1
            await asyncio.sleep(0.01)
            continue
        if 200 <= response.status_code < 300:
            seen.predictions[str(body["hash"])] = response.json()["prediction_id"]
            seen.bodies[str(body["hash"])] = body
            if len(seen.predictions) >= ACKNOWLEDGED_BEFORE_KILL:
                seen.enough.set()
        else:
            seen.non_2xx += 1


async def _load_then_kill(server: Server, key: str) -> Acknowledged:
    """Load from ``CLIENTS`` coroutines; ``kill -9`` once enough are acknowledged, while
    the load goes on; stop the clients once the server is gone."""
    seen, stop = Acknowledged(), asyncio.Event()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(headers={"X-API-Key": key}, timeout=30, limits=limits) as client:
        clients = [
            asyncio.create_task(_client(client, server.url, seen, stop)) for _ in range(CLIENTS)
        ]
        with contextlib.suppress(TimeoutError):  # too few: the assertions say so
            await asyncio.wait_for(seen.enough.wait(), LOAD_LIMIT_S)
        server.kill()
        await asyncio.to_thread(server.wait)
        await asyncio.sleep(0.2)  # the clients see their connections fail
        stop.set()
        await asyncio.gather(*clients)
    return seen


async def _replayed(url: str, key: str, seen: Acknowledged) -> dict[str, str]:
    """Each acknowledged transaction posted again to ``url``: hash -> the prediction id
    of a replay (absent when it was scored anew, i.e. had been lost)."""
    replays: dict[str, str] = {}
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(headers={"X-API-Key": key}, timeout=30) as client:

        async def again(tx_hash: str) -> None:
            async with gate:
                response = await client.post(f"{url}/api/v1/predict", json=seen.bodies[tx_hash])
            response.raise_for_status()
            answer = response.json()
            if answer["replayed"]:
                replays[tx_hash] = answer["prediction_id"]

        await asyncio.gather(*(again(tx_hash) for tx_hash in seen.predictions))
    return replays


async def _stored_predictions(database_url: str, hashes: list[str]) -> dict[str, str]:
    """hash -> id of its served prediction, for those of ``hashes`` that have one."""
    connection = await asyncpg.connect(database_url, timeout=10)
    try:
        rows = await connection.fetch(
            "SELECT t.hash, p.id FROM transactions t JOIN predictions p "
            "ON p.transaction_hash = t.hash AND p.served WHERE t.hash = ANY($1::text[])",
            hashes,
        )
    finally:
        await connection.close()
    return {row["hash"]: str(uuid.UUID(str(row["id"]))) for row in rows}


def test_every_acknowledged_prediction_survives_kill_9_and_is_replayed_after_restart(
    deployment: Deployment, tmp_path: Path
) -> None:
    environment = deployment.environment(CHAINWATCH_MICRO_BATCH_WAIT_MS="5")
    with serving(environment, tmp_path / "before.log") as server:
        seen = asyncio.run(_load_then_kill(server, deployment.key))
        exit_code = server.wait()
    acknowledged = sorted(seen.predictions)
    stored = run_in_thread(lambda: _stored_predictions(deployment.database_url, acknowledged))
    with serving(environment, tmp_path / "after.log") as restarted:
        replays = asyncio.run(_replayed(restarted.url, deployment.key, seen))

    lost = [h for h in acknowledged if h not in stored]
    changed = [h for h in acknowledged if h in stored and stored[h] != seen.predictions[h]]
    print(
        f"\nkill -9 under load from {CLIENTS} coroutines: sent {seen.sent}, acknowledged "
        f"{len(acknowledged)}, found {len(stored)} with their prediction, lost {len(lost)}, "
        f"replayed after restart {len(replays)}; connection errors {seen.connection_errors}, "
        f"other non-2xx {seen.non_2xx}"
    )
    assert exit_code == -signal.SIGKILL
    assert seen.connection_errors > 0  # it died under load, not after it
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL
    assert lost == []
    assert changed == []
    assert replays == seen.predictions
