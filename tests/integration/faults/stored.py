"""What a fault left in the database: acknowledged hashes stored or lost, and whether any
prediction lacks its transaction or any transaction its prediction."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.backends import run_in_thread

_WITHOUT_PREDICTION = (
    "SELECT count(*) FROM transactions t WHERE NOT EXISTS "
    "(SELECT 1 FROM predictions p WHERE p.transaction_hash = t.hash)"
)
_WITHOUT_TRANSACTION = (
    "SELECT count(*) FROM predictions p WHERE NOT EXISTS "
    "(SELECT 1 FROM transactions t WHERE t.hash = p.transaction_hash)"
)


@dataclass(frozen=True)
class Stored:
    acknowledged: int
    stored: int
    """Acknowledged hashes found in ``transactions``."""
    lost: list[str]
    """Acknowledged hashes not found."""
    unacknowledged_stored: int
    """Sent, not acknowledged (an error or a connection cut), yet stored: harmless, a
    retry replays them."""
    transactions_without_prediction: int
    predictions_without_transaction: int

    def summary(self) -> str:
        return (
            f"acknowledged {self.acknowledged}, stored {self.stored}, lost {len(self.lost)}, "
            f"stored without acknowledgement {self.unacknowledged_stored}, transactions "
            f"without prediction {self.transactions_without_prediction}, predictions "
            f"without transaction {self.predictions_without_transaction}"
        )


def _figures(
    hashes: set[str], sent: Collection[str], acknowledged: Collection[str], orphans: tuple[int, int]
) -> Stored:
    acked = set(acknowledged)
    return Stored(
        acknowledged=len(acked),
        stored=len(acked & hashes),
        lost=sorted(acked - hashes),
        unacknowledged_stored=len((set(sent) - acked) & hashes),
        transactions_without_prediction=orphans[0],
        predictions_without_transaction=orphans[1],
    )


def stored_in_postgres(url: str, sent: Collection[str], acknowledged: Collection[str]) -> Stored:
    async def query() -> Stored:
        connection = await asyncpg.connect(url, timeout=10)
        try:
            rows = await connection.fetch(
                "SELECT hash FROM transactions WHERE hash = ANY($1::text[])", list(sent)
            )
            orphans = (
                await connection.fetchval(_WITHOUT_PREDICTION),
                await connection.fetchval(_WITHOUT_TRANSACTION),
            )
        finally:
            await connection.close()
        return _figures({row["hash"] for row in rows}, sent, acknowledged, orphans)

    return run_in_thread(query)


def stored_in_sqlite(path: Path, sent: Collection[str], acknowledged: Collection[str]) -> Stored:
    with sqlite3.connect(path) as connection:
        hashes = {h for (h,) in connection.execute("SELECT hash FROM transactions")}
        orphans = (
            connection.execute(_WITHOUT_PREDICTION).fetchone()[0],
            connection.execute(_WITHOUT_TRANSACTION).fetchone()[0],
        )
    return _figures(hashes & set(sent), sent, acknowledged, orphans)
