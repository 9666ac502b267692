"""``TransactionRepository.sender_activity``: sender histories for a batch, from indexes.

Per call, whatever the number of points (``domain.history`` defines what is answered):

1. **sends**: one statement reads, for each distinct address, its newest ``HISTORY_CAP``
   sends before its latest point and no older than a day before its earliest point - an
   index range scan of (from_address, timestamp, hash) per address, stopped by the
   ``LIMIT``. Each point takes its share of those rows. That is exact for every point
   unless the address saturated the cap *and* stored sends fall between its points; only
   such points are read again, each on its own range (a second statement, same shape);
2. **first seen**: one statement asks, per point, for the oldest row before it on each of
   the (from_address, ...) and (to_address, ...) indexes: two index seeks of one row.

PostgreSQL drives each index scan from ``unnest`` of the points (``CROSS JOIN LATERAL``);
SQLite has neither arrays nor ``LATERAL``, so the points arrive as one JSON text and the
per-address ``LIMIT`` sits in a correlated ``IN`` subquery.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from piccolo.querystring import QueryString

from adapters.piccolo.sql.session import Session
from adapters.piccolo.sql.statements import sql
from adapters.piccolo.sql.values import as_instant, as_wei, db_instant
from domain.history import HISTORY_CAP, HistoryPoint, Send, SenderActivity

_BEFORE = '("timestamp", hash) < (p.until_at, p.until_hash)'
_COLUMNS = '"timestamp", hash, value, to_address'


@dataclass(frozen=True, slots=True)
class _Range:
    """Sends of ``address`` with ``since <= timestamp`` and ``(timestamp, hash) < until``."""

    address: str
    since: datetime
    until: HistoryPoint


def _points(session: Session, ranges: Sequence[_Range]) -> QueryString:
    """The ranges as a row source ``p(n, address, since_at, until_at, until_hash)``, n from 1."""
    if session.dialect == "postgres":
        return sql(
            "unnest({}::text[], {}::timestamptz[], {}::timestamptz[], {}::text[]) "
            "WITH ORDINALITY AS p(address, since_at, until_at, until_hash, n)",
            [r.address for r in ranges],
            [r.since for r in ranges],
            [r.until.timestamp for r in ranges],
            [r.until.hash for r in ranges],
        )
    rows = [
        [r.address, db_instant(r.since, "sqlite"), db_instant(r.until.timestamp, "sqlite"),
         r.until.hash]
        for r in ranges
    ]  # fmt: skip
    fields = ", ".join(
        f"json_extract(value, '$[{i}]') AS {name}"
        for i, name in enumerate(("address", "since_at", "until_at", "until_hash"))
    )
    return sql(f"(SELECT key + 1 AS n, {fields} FROM json_each({{}})) AS p", json.dumps(rows))


def _newest_sends(columns: str) -> str:
    """The newest ``HISTORY_CAP`` sends of range ``p``, as a subquery selecting ``columns``."""
    return (
        f"SELECT {columns} FROM transactions "
        f'WHERE from_address = p.address AND "timestamp" >= p.since_at AND {_BEFORE} '
        f'ORDER BY "timestamp" DESC, hash DESC LIMIT {HISTORY_CAP}'
    )


async def _sends(session: Session, ranges: Sequence[_Range]) -> dict[int, list[Send]]:
    """The newest ``HISTORY_CAP`` sends of each range, newest first, by range index."""
    if not ranges:
        return {}
    if session.dialect == "postgres":
        # LATERAL: one bounded index range scan per range, driven by the unnest.
        template = f"SELECT p.n, t.* FROM {{}} CROSS JOIN LATERAL ({_newest_sends(_COLUMNS)}) AS t"
    else:
        # No LATERAL in SQLite: the per-range LIMIT lives in a correlated IN subquery.
        template = (
            f'SELECT p.n, t."timestamp", t.hash, t.value, t.to_address FROM {{}} '
            f"JOIN transactions AS t ON t.hash IN ({_newest_sends('hash')})"
        )
    found: dict[int, list[Send]] = {}
    for row in await session.fetch(sql(template, _points(session, ranges))):
        send = Send(
            as_instant(row["timestamp"]), row["hash"], as_wei(row["value"]), row["to_address"]
        )
        found.setdefault(int(row["n"]) - 1, []).append(send)
    for sends in found.values():
        sends.sort(key=lambda send: send.key, reverse=True)
    return found


async def _first_seen(session: Session, points: Sequence[HistoryPoint]) -> list[datetime | None]:
    """When each point's address first appears before it, as sender or receiver."""
    ranges = [_Range(point.address, point.timestamp, point) for point in points]
    oldest = (
        'SELECT "timestamp" FROM transactions WHERE {side} = p.address AND '
        f'{_BEFORE} ORDER BY "timestamp", hash LIMIT 1'
    )
    # One index seek per side and point (ORDER BY ... LIMIT 1, not min(): SQLite would
    # read every earlier row of the address to find a min with a WHERE).
    rows = await session.fetch(
        sql(
            f"SELECT p.n, ({oldest.format(side='from_address')}) AS first_sent, "
            f"({oldest.format(side='to_address')}) AS first_received FROM {{}}",
            _points(session, ranges),
        )
    )
    seen: list[datetime | None] = [None] * len(points)
    for row in rows:
        instants = [
            as_instant(v) for v in (row["first_sent"], row["first_received"]) if v is not None
        ]
        seen[int(row["n"]) - 1] = min(instants, default=None)
    return seen


async def sender_activity(
    session: Session, points: Sequence[HistoryPoint]
) -> dict[HistoryPoint, SenderActivity]:
    """See the module docstring and ``TransactionRepository.sender_activity``."""
    unique = list(dict.fromkeys(points))
    if not unique:
        return {}
    by_address: dict[str, list[HistoryPoint]] = {}
    for point in unique:
        by_address.setdefault(point.address, []).append(point)
    groups = list(by_address.values())
    ranges = [
        _Range(
            group[0].address,
            min(p.window_start for p in group),
            max(group, key=lambda p: p.key),
        )
        for group in groups
    ]
    fetched = await _sends(session, ranges)
    sends: dict[HistoryPoint, list[Send]] = {}
    again: list[HistoryPoint] = []
    for index, group in enumerate(groups):
        rows = fetched.get(index, [])
        saturated = len(rows) == HISTORY_CAP
        for point in group:
            mine = [s for s in rows if s.key < point.key and s.timestamp >= point.window_start]
            complete = (
                not saturated or len(mine) >= HISTORY_CAP or rows[-1].timestamp < point.window_start
            )
            if complete:
                sends[point] = mine[:HISTORY_CAP]
            else:
                again.append(point)
    reread = await _sends(session, [_Range(p.address, p.window_start, p) for p in again])
    for index, point in enumerate(again):
        sends[point] = reread.get(index, [])
    first_seen = await _first_seen(session, unique)
    return {
        point: SenderActivity(seen, tuple(sends[point]))
        for point, seen in zip(unique, first_seen, strict=True)
    }
