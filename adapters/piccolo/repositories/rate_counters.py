"""``PiccoloRateCounterRepository``: fixed-window counters, one upsert per batch."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from adapters.piccolo.sql.session import SessionProvider
from adapters.piccolo.sql.statements import sql
from adapters.piccolo.sql.values import db_instant
from domain.values import check_utc
from ports.repositories import CounterKey

# PostgreSQL: one statement for the whole batch, rows upserted (and so locked) in key
# order, so two processes adding the same keys cannot deadlock.
_PG_ADD = (
    'INSERT INTO rate_counters ("key", hits, expires_at) '
    "SELECT k, h, {} FROM unnest({}::varchar[], {}::bigint[]) AS u(k, h) ORDER BY k "
    'ON CONFLICT ("key") DO UPDATE SET hits = rate_counters.hits + EXCLUDED.hits, '
    "expires_at = GREATEST(rate_counters.expires_at, EXCLUDED.expires_at) "
    'RETURNING "key", hits'
)
# SQLite: a write transaction locks the whole database already; one upsert per key.
_SQLITE_ADD = (
    'INSERT INTO rate_counters ("key", hits, expires_at) VALUES ({}, {}, {}) '
    'ON CONFLICT ("key") DO UPDATE SET hits = hits + excluded.hits, '
    "expires_at = MAX(expires_at, excluded.expires_at) "
    "RETURNING hits"
)


def counter_key(key: CounterKey) -> str:
    """The stored key: ``<bucket>@<window start in Unix seconds>``."""
    start = check_utc(key.window_start, "window_start")
    return f"{key.bucket}@{int(start.timestamp())}"


class PiccoloRateCounterRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add(
        self, hits: Mapping[CounterKey, int], expires_at: datetime
    ) -> dict[CounterKey, int]:
        if not hits:
            return {}
        session = await self._session()
        dialect = session.dialect
        expires = db_instant(check_utc(expires_at, "expires_at"), dialect)
        stored = {counter_key(key): key for key in sorted(hits)}
        totals: dict[CounterKey, int] = {}
        async with session.write(savepoint=False):
            if dialect == "postgres":
                rows = await session.fetch(
                    sql(
                        _PG_ADD,
                        expires,
                        list(stored),
                        [hits[key] for key in stored.values()],
                    )
                )
                for row in rows:
                    totals[stored[row["key"]]] = int(row["hits"])
            else:
                for text, key in stored.items():
                    returned = await session.fetchrow(sql(_SQLITE_ADD, text, hits[key], expires))
                    assert returned is not None
                    totals[key] = int(returned["hits"])
        return totals

    async def prune(self, before: datetime) -> int:
        session = await self._session()
        moment = db_instant(check_utc(before, "before"), session.dialect)
        async with session.write(savepoint=False):
            return await session.execute(
                sql("DELETE FROM rate_counters WHERE expires_at < {}", moment)
            )
