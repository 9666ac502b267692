"""Issue 13 benchmark: ``POST /predict/batch`` with 1,000 transactions a request against raw
asyncpg ``COPY`` of the same rows into the same tables, in one run.

    .venv/bin/python benchmarks/batch_copy.py [--size 1000] [--requests 10] [--rounds 5]

On a scratch PostgreSQL database (created, migrated and dropped here), one app instance in
process over httpx's ASGI transport (production defaults: the bootstrap model,
verified API keys cached for ``DEFAULT_API_KEY_CACHE_S``), and in
rounds:

  chainwatch - ``requests`` batch requests of ``size`` fresh transactions, one at a time
               (bodies JSON-encoded before the clock starts):
               parse, features, scoring, and the one unit of work that stores the
               transactions, their predictions and anomalies and the request's audit row;
  copy       - the rows that the round's requests stored, read back and given new keys
               (hashes and ids), written the fastest way asyncpg offers: per request one
               transaction with one ``COPY`` per table (transactions, predictions,
               anomalies, audit_logs). The rows are ready-made tuples; only the COPY and
               its commit are timed.

Figures: transactions/s of each (median over rounds), and chainwatch / copy. Target
>= 0.5. ``measure(client, dsn, ...)`` is the same measurement for a caller with its own
server (an ``httpx.AsyncClient`` pointed at it and the DSN of its database), such as
``benchmarks/hot_path.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from in_process_http import running, transaction_body, wait_ready

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
TABLES = ("transactions", "predictions", "anomalies", "audit_logs")


@dataclass(frozen=True)
class BatchCopyFigures:
    """Transactions per second (median over rounds) of ``/predict/batch`` and of COPY."""

    size: int
    requests: int
    rounds: int
    chainwatch: list[float]
    copy: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.chainwatch) / statistics.median(self.copy)

    def summary(self) -> str:
        low, high = min(self.chainwatch), max(self.chainwatch)
        copy_low, copy_high = min(self.copy), max(self.copy)
        return (
            f"/predict/batch x{self.size}: chainwatch {statistics.median(self.chainwatch):,.0f} "
            f"tx/s ({low:,.0f}-{high:,.0f}), raw COPY {statistics.median(self.copy):,.0f} "
            f"tx/s ({copy_low:,.0f}-{copy_high:,.0f}), ratio {self.ratio:.2f} (target >= 0.5; "
            f"{self.rounds} rounds x {self.requests} requests)"
        )


@dataclass
class _Rows:
    """The stored rows of one request, by table, as dicts of column -> value."""

    tables: dict[str, list[dict[str, Any]]]


async def _post_batches(
    client: httpx.AsyncClient, key: str, size: int, requests: int
) -> tuple[float, list[list[str]]]:
    """Seconds for ``requests`` batch requests, one at a time; the hashes of each."""
    bodies = [[transaction_body() for _ in range(size)] for _ in range(requests)]
    # Encoded before the clock starts: the client's JSON encoding is not the server's work.
    encoded = [json.dumps({"transactions": body}).encode() for body in bodies]
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    started = time.perf_counter()
    for content in encoded:
        response = await client.post("/api/v1/predict/batch", content=content, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    elapsed = time.perf_counter() - started
    return elapsed, [[str(tx["hash"]) for tx in body] for body in bodies]


async def _stored(connection: asyncpg.Connection, hashes: list[str]) -> _Rows:
    """What chainwatch stored for ``hashes``: their transactions, predictions, anomalies,
    and the newest audit row (the request's)."""
    queries = {
        "transactions": "SELECT * FROM transactions WHERE hash = ANY($1::text[])",
        "predictions": "SELECT * FROM predictions WHERE transaction_hash = ANY($1::text[])",
        "anomalies": "SELECT * FROM anomalies WHERE transaction_hash = ANY($1::text[])",
    }
    tables = {
        table: [dict(row) for row in await connection.fetch(query, hashes)]
        for table, query in queries.items()
    }
    audit = await connection.fetch('SELECT * FROM audit_logs ORDER BY "timestamp" DESC LIMIT 1')
    tables["audit_logs"] = [dict(row) for row in audit]
    return _Rows(tables)


def _rekeyed(rows: _Rows) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """The same rows under new hashes and ids: table -> (columns, records) for COPY."""
    hashes = {row["hash"]: "0x" + secrets.token_hex(32) for row in rows.tables["transactions"]}
    ids = {
        row["id"]: uuid.uuid4()
        for table in ("predictions", "anomalies", "audit_logs")
        for row in rows.tables[table]
    }
    renamed: dict[str, dict[Any, Any]] = {
        "hash": hashes,
        "transaction_hash": hashes,
        "id": ids,
        "prediction_id": ids,
    }
    copies: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    for table in TABLES:
        found = rows.tables[table]
        if not found:
            continue
        columns = list(found[0])
        records = [
            tuple(renamed[c][row[c]] if c in renamed else row[c] for c in columns) for row in found
        ]
        copies[table] = (columns, records)
    return copies


async def _copy_requests(
    connection: asyncpg.Connection, requests: Sequence[dict[str, tuple[list[str], list[Any]]]]
) -> float:
    """Seconds to COPY each request's rows in a transaction of its own, one at a time."""
    started = time.perf_counter()
    for tables in requests:
        async with connection.transaction():
            for table in TABLES:
                if table in tables:
                    columns, records = tables[table]
                    await connection.copy_records_to_table(table, records=records, columns=columns)
    return time.perf_counter() - started


async def measure(
    client: httpx.AsyncClient,
    dsn: str,
    key: str,
    *,
    size: int = 1000,
    requests: int = 10,
    rounds: int = 5,
) -> BatchCopyFigures:
    """``rounds`` of ``requests`` ``/predict/batch`` calls of ``size`` transactions through
    ``client`` (a ``predict`` key ``key``), each followed by COPY of the rows they stored
    (re-keyed) into the same tables of ``dsn``'s database (see the module doc)."""
    connection = await asyncpg.connect(dsn)
    chainwatch: list[float] = []
    copy: list[float] = []
    try:
        await _post_batches(client, key, size, 2)  # warm up: statements prepared
        for _ in range(rounds):
            seconds, hashes = await _post_batches(client, key, size, requests)
            chainwatch.append(size * requests / seconds)
            stored = [await _stored(connection, batch) for batch in hashes]
            rekeyed = [_rekeyed(rows) for rows in stored]
            copy.append(size * requests / await _copy_requests(connection, rekeyed))
    finally:
        await connection.close()
    return BatchCopyFigures(size, requests, rounds, chainwatch, copy)


async def run(size: int, requests: int, rounds: int) -> None:
    name = f"chainwatch_bench_batchcopy_{secrets.token_hex(4)}"
    server = await asyncpg.connect(ADMIN_DSN)
    await server.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(ADMIN_DSN)._replace(path=f"/{name}"))
    config = config_from_url(dsn)
    assert isinstance(config, PostgresConfig)
    database = PiccoloDatabase(replace(config, pool_min=2, pool_max=10))
    digester = HmacSecretDigester(secrets.token_urlsafe(48))
    try:
        await database.start()
        await database.migrate()
        services = wire(
            LentDatabase(database),
            digester=digester,
            passwords=Argon2PasswordHasher.cheap(),
            bootstrap_model=False,
        ).services
        user = await create_user(services, username="bench", role=Role.SERVICE, actor=None)
        key = (await issue_api_key(services, owner_id=user.id, actor=None)).token
        app = create_app(
            wire(
                LentDatabase(database),
                digester=digester,
                blobs=InMemoryBlobStore(),
                bootstrap_model=True,
                api_key_cache_s=DEFAULT_API_KEY_CACHE_S,  # as `chainwatch serve` does
            )
        )
        ready, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(running(app, ready, stop))
        await ready.wait()
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))  # type: ignore[arg-type]
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", timeout=120
            ) as client:
                await wait_ready(client)
                figures = await measure(
                    client, dsn, key, size=size, requests=requests, rounds=rounds
                )
        finally:
            stop.set()
            await task
        print(figures.summary())
    finally:
        await database.stop()
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="transactions per request")
    parser.add_argument("--requests", type=int, default=10, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.size, args.requests, args.rounds))


if __name__ == "__main__":
    main()
