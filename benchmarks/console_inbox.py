"""The console's inbox and case view over many anomalies, on PostgreSQL, in one run.

    .venv/bin/python benchmarks/console_inbox.py [--rows 1000000] [--rounds 30]

Creates a scratch database (dropped afterwards), migrates it, stores ``--rows``
transactions, each with a prediction and an anomaly (severities 40/30/20/10 % low to
critical, 90 % open, one detected every second) and vacuums it. Then, ``--rounds`` times
each, the use cases behind the pages, against a baseline in the same run - the API's listing
(``queries.list_anomalies``: a page of 50 and its bounded count):

  inbox       ``queries.anomaly_inbox``: the page of 50 open ones, newest first, its bounded
              count, the four bounded counts per severity and the users;
  inbox+sev   the same, filtered to one severity;
  older page  the inbox's page after following 20 cursors;
  case        ``queries.anomaly_case``: one anomaly with everything its view shows;

and the pages themselves through HTTP - the whole app (``create_app``) in process over
httpx's ASGI transport, signed in as an analyst, so each figure is the server's time for
the page: session check, the use case, template rendering and the response (no network):

  GET /inbox              the first page of 50 open anomalies (what an analyst opens);
  GET /inbox sev          the same, filtered to critical;
  GET /inbox older page   the page after following 20 cursors;
  GET /anomalies/{id}     the case view.

Reports median and p95 milliseconds and each median's ratio to the baseline's. The
target for ``GET /inbox`` is a median under 200 ms over 1,000,000 anomalies.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import asyncpg
import httpx
from in_process_http import running
from ingest_lookup import ADMIN_DSN, make_transactions, pct

from adapters.piccolo import LentDatabase, PiccoloDatabase, PostgresConfig
from domain.model import Anomaly, Model, ModelVersion, Prediction, ReviewStatus, Role, Severity
from domain.pagination import PageRequest
from domain.services import Services, queries
from domain.services.users import create_user, issue_api_key
from entrypoints.bootstrap import wire
from entrypoints.http import create_app
from ports.repositories import AnomalyFilter

BATCH = 10_000
SEVERITIES = [Severity.LOW] * 4 + [Severity.MEDIUM] * 3 + [Severity.HIGH] * 2 + [Severity.CRITICAL]


async def seed(db: PiccoloDatabase, rows: int) -> list[uuid.UUID]:
    rng = random.Random(11)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    model = Model(name="bench", algorithm="iforest")
    version = ModelVersion(model_id=model.id, version=1)
    async with db.uow() as uow:
        await uow.models.add_model(model)
        await uow.models.add_version(version)
        await uow.commit()
    ids = []
    for offset in range(0, rows, BATCH):
        txs = make_transactions(min(BATCH, rows - offset), seed=offset)
        predictions, anomalies = [], []
        for i, tx in enumerate(txs):
            at = start + timedelta(seconds=offset + i)
            prediction = Prediction(tx.hash, version.id, 0.99, True, created_at=at)
            anomaly = Anomaly(
                tx.hash,
                prediction.id,
                version.id,
                rng.choice(SEVERITIES),
                0.99,
                status=ReviewStatus.OPEN if rng.random() < 0.9 else ReviewStatus.DISMISSED,
                detected_at=at,
            )
            predictions.append(prediction)
            anomalies.append(anomaly)
        async with db.uow() as uow:
            await uow.transactions.add_many(txs)
            await uow.predictions.add_many(predictions)
            await uow.anomalies.add_many(anomalies)
            await uow.commit()
        ids.append(anomalies[-1].id)
        print(f"  stored {offset + len(txs):,}", flush=True)
    return ids


async def timed(rounds: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    await call()  # warm: plans cached, pages in memory, as on a server in use
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


async def run(rows: int, rounds: int) -> None:
    name = f"chainwatch_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(ADMIN_DSN)
    db = PiccoloDatabase(
        PostgresConfig(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            database=name,
            user=parts.username or "root",
            password=parts.password,
            pool_min=2,
            pool_max=4,
        )
    )
    try:
        await db.start()
        await db.migrate()
        print(f"storing {rows:,} anomalies ...", flush=True)
        ids = await seed(db, rows)
        raw = await asyncpg.connect(f"postgresql://{parts.netloc}/{name}")
        # What autovacuum does on a server in use: statistics, and the visibility map that
        # lets counts be index-only scans.
        await raw.execute("VACUUM ANALYZE")
        await raw.close()
        container = wire(LentDatabase(db), bootstrap_model=False)
        services = container.services
        open_only = AnomalyFilter(statuses=frozenset({ReviewStatus.OPEN}))
        critical = AnomalyFilter(
            statuses=frozenset({ReviewStatus.OPEN}), severities=frozenset({Severity.CRITICAL})
        )
        page = PageRequest(50)
        cursor = page
        for _ in range(20):
            listing = await queries.list_anomalies(services, open_only, cursor)
            cursor = PageRequest.from_token(50, listing.next_cursor)
        cases = {
            "baseline (API listing)": lambda: queries.list_anomalies(services, open_only, page),
            "inbox": lambda: queries.anomaly_inbox(services, open_only, page),
            "inbox+sev": lambda: queries.anomaly_inbox(services, critical, page),
            "older page": lambda: queries.anomaly_inbox(services, open_only, cursor),
            "case": lambda: queries.anomaly_case(services, ids[len(ids) // 2]),
        }
        results = {label: await timed(rounds, call) for label, call in cases.items()}
        app = create_app(container, migrate_on_start=False)
        stop, ready = asyncio.Event(), asyncio.Event()
        serving = asyncio.create_task(running(app, ready, stop))
        await ready.wait()
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                base_url="http://testserver",
                timeout=60,
            ) as client:
                await sign_in(client, services)
                older = listing.next_cursor or ""
                pages = {
                    "GET /inbox": "/inbox",
                    "GET /inbox sev": "/inbox?filtered=1&status=open&severity=critical",
                    "GET /inbox older page": "/inbox?filtered=1&status=open&cursor=" + older,
                    "GET /anomalies/{id}": f"/anomalies/{ids[len(ids) // 2]}",
                }
                for label, path in pages.items():
                    results[label] = await timed(rounds, functools.partial(get_page, client, path))
        finally:
            stop.set()
            await serving
        base = statistics.median(results["baseline (API listing)"])
        for label, samples in results.items():
            median = statistics.median(samples)
            print(
                f"{label:<24} median {median:7.2f} ms  p95 {pct(samples, 95):7.2f} ms  "
                f"ratio {median / base:5.2f}x"
            )
    finally:
        await db.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def sign_in(client: httpx.AsyncClient, services: Services) -> None:
    """An analyst's session cookie on ``client``, through the sign-in form."""
    analyst = await create_user(services, username="bench-analyst", role=Role.ANALYST, actor=None)
    key = (await issue_api_key(services, owner_id=analyst.id, actor=None)).token
    await client.get("/sign-in")
    answer = await client.post(
        "/sign-in",
        data={"method": "api-key", "api_key": key, "_csrf": client.cookies["cw_sign_in"]},
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text[:200]}")


async def get_page(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    if answer.status_code != 200 or ("data-inbox" not in answer.text and "/inbox" in path):
        raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.rounds))


if __name__ == "__main__":
    main()
