"""The queries of the at-scale benchmark (``at_scale.py``): what is asked through the HTTP
API, with parameters drawn from the loaded rows, timed one request at a time; and the SQL
each use case sends, recorded in process and shown with ``EXPLAIN (ANALYZE, BUFFERS)``."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
from asyncpg.connection import Connection

from domain.model import Severity
from domain.pagination import Cursor, PageRequest
from domain.services import Services, queries
from ports.repositories import AnomalyFilter, TimeRange

DAY = timedelta(days=1)
PAGE = 50
DEEP_PAGE = 100
Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Samples:
    """Parameters drawn from the loaded data: hashes and senders of a random sample of
    transactions (so busy addresses come up as often as they are busy), the service users,
    and the time span the rows cover."""

    hashes: list[str]
    addresses: list[str]
    users: list[uuid.UUID]
    first: datetime
    last: datetime

    def day(self, rng: random.Random) -> tuple[datetime, datetime]:
        since = self.first + (self.last - self.first - DAY) * rng.random()
        return since, since + DAY


async def draw_samples(
    connection: asyncpg.Connection, rows: int, users: list[uuid.UUID], count: int = 4000
) -> Samples:
    percent = min(100.0, 100.0 * count / max(rows, 1))
    sample = await connection.fetch(
        f"SELECT hash, from_address FROM transactions TABLESAMPLE BERNOULLI ({percent})"
    )
    span = await connection.fetchrow('SELECT min("timestamp"), max("timestamp") FROM transactions')
    return Samples(
        [r["hash"] for r in sample], [r["from_address"] for r in sample], users, span[0], span[1]
    )


@dataclass(frozen=True, slots=True)
class Query:
    """One measured query: its HTTP request for a draw of parameters, and the same ask
    as the use case the endpoint calls (for recording its SQL)."""

    name: str
    request: Callable[[random.Random], tuple[str, Params]]
    use_case: Callable[[Services, str, Params], Awaitable[object]]


def _iso(at: datetime) -> str:
    return at.isoformat()


def _severe(cursor: str | None) -> Callable[[random.Random], tuple[str, Params]]:
    def request(_: random.Random) -> tuple[str, Params]:
        params: Params = {"severity": ["high", "critical"], "limit": PAGE}
        if cursor is not None:
            params["cursor"] = cursor
        return "/api/v1/anomalies", params

    return request


async def _anomalies(services: Services, _: str, params: Params) -> object:
    severities = frozenset(Severity(s) for s in params.get("severity", ()))
    period = TimeRange(
        datetime.fromisoformat(params["since"]) if "since" in params else None,
        datetime.fromisoformat(params["until"]) if "until" in params else None,
    )
    page = PageRequest(PAGE, Cursor.decode(params["cursor"]) if "cursor" in params else None)
    return await queries.list_anomalies(services, AnomalyFilter(severities, period=period), page)


def _window(params: Params) -> TimeRange:
    return TimeRange(
        datetime.fromisoformat(params["since"]), datetime.fromisoformat(params["until"])
    )


def catalogue(samples: Samples, deep_cursor: str | None) -> list[Query]:
    """The queries of issue 12's table, in its order, after the floor: ``/health`` (no
    authentication, no database), what any request costs on this machine."""

    def by_hash(rng: random.Random) -> tuple[str, Params]:
        return f"/api/v1/transactions/{rng.choice(samples.hashes)}", {}

    def in_day(path: str, **extra: Any) -> Callable[[random.Random], tuple[str, Params]]:
        def request(rng: random.Random) -> tuple[str, Params]:
            since, until = samples.day(rng)
            return path, {"since": _iso(since), "until": _iso(until), "limit": PAGE, **extra}

        return request

    def audit(rng: random.Random) -> tuple[str, Params]:
        path, params = in_day("/api/v1/audit-logs")(rng)
        return path, {**params, "user": str(rng.choice(samples.users))}

    def by_address(rng: random.Random) -> tuple[str, Params]:
        return "/api/v1/transactions", {"address": rng.choice(samples.addresses), "limit": PAGE}

    async def nothing(_: Services, __: str, ___: Params) -> object:
        return None

    return [
        Query("(floor) GET /health", lambda _: ("/health", {}), nothing),
        Query(
            "tx by hash",
            by_hash,
            lambda s, path, _: queries.get_transaction(s, path.rsplit("/", 1)[1]),
        ),
        Query("anomalies high+critical p1", _severe(None), _anomalies),
        Query(f"anomalies high+critical p{DEEP_PAGE}", _severe(deep_cursor), _anomalies),
        Query("anomalies 24 h", in_day("/api/v1/anomalies"), _anomalies),
        Query(
            "predictions 24 h",
            in_day("/api/v1/predictions"),
            lambda s, _, p: queries.list_predictions(s, None, _window(p), PageRequest(PAGE)),
        ),
        Query(
            "audit by user 24 h",
            audit,
            lambda s, _, p: queries.query_audit_log(
                s, p["user"], None, _window(p), PageRequest(PAGE)
            ),
        ),
        Query(
            "tx by address",
            by_address,
            lambda s, _, p: queries.list_transactions(
                s, p["address"], TimeRange(), PageRequest(PAGE)
            ),
        ),
    ]


def deep_cursor(client: httpx.Client, headers: dict[str, str]) -> tuple[str | None, int]:
    """The cursor of page ``DEEP_PAGE`` of the high+critical listing (walked page by page),
    or of the deepest page there is; and that page's number."""
    cursor: str | None = None
    page = 1
    while page < DEEP_PAGE:
        path, params = _severe(cursor)(random.Random())
        answer = client.get(path, params=params, headers=headers)
        answer.raise_for_status()
        following = answer.json()["next_cursor"]
        if following is None:
            break
        cursor, page = following, page + 1
    return cursor, page


def measure(
    client: httpx.Client, headers: dict[str, str], query: Query, count: int, warmup: int
) -> dict[str, float]:
    """p50/p95/p99/max in ms of ``count`` requests after ``warmup``, one at a time."""
    rng = random.Random(query.name)
    samples = []
    for i in range(warmup + count):
        path, params = query.request(rng)
        started = time.perf_counter()
        answer = client.get(path, params=params, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise RuntimeError(f"{query.name}: {answer.status_code} {answer.text[:300]}")
        if i >= warmup:
            samples.append(elapsed)
    return percentiles(samples)


class StatementRecorder:
    """Every statement this process sends through asyncpg's extended protocol, with its
    arguments, while ``recording`` (installed once; asyncpg's ``Connection._execute``)."""

    recording: list[tuple[str, tuple[Any, ...]]] | None = None
    installed = False

    @classmethod
    def install(cls) -> None:
        """Wrap ``Connection._execute`` - once per process: a second wrap (the second
        layout of ``--layout both``) would record every statement twice."""
        if cls.installed:
            return
        cls.installed = True
        execute = Connection._execute

        async def recorded(self: Connection, query: str, args: Any, *rest: Any, **kw: Any) -> Any:
            if cls.recording is not None:
                cls.recording.append((query, tuple(args)))
            return await execute(self, query, args, *rest, **kw)

        Connection._execute = recorded


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(samples)}


async def time_use_case(
    services: Services, query: Query, count: int, warmup: int
) -> dict[str, float]:
    """p50/p95/p99/max in ms of the use case alone (no HTTP, no authentication), for the
    same draws of parameters as ``measure``."""
    rng = random.Random(query.name)
    samples = []
    for i in range(warmup + count):
        path, params = query.request(rng)
        started = time.perf_counter()
        await query.use_case(services, path, params)
        if i >= warmup:
            samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


async def explain(
    services: Services, connection: asyncpg.Connection, query: Query
) -> list[dict[str, Any]]:
    """The use case behind ``query`` run once for a draw of parameters; each SELECT it sent,
    with its plan under ``EXPLAIN (ANALYZE, BUFFERS)`` and those parameters."""
    path, params = query.request(random.Random(query.name))
    StatementRecorder.recording = []
    try:
        await query.use_case(services, path, params)
        sent = StatementRecorder.recording
    finally:
        StatementRecorder.recording = None
    plans = []
    for statement, args in sent:
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *args)
        plan = [row[0] for row in rows]
        executed = [line for line in plan if line.startswith("Execution Time:")]
        ms = float(executed[0].split()[2]) if executed else float("nan")
        plans.append({"sql": statement, "plan": plan, "execution_ms": ms})
    return plans
