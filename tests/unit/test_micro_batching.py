"""``MicroBatcher``: single transactions gathered into batches, each caller answered with
its own result after the batch, a bounded queue, failures reach every caller, and each
caller's audit row goes to the batch's scoring call."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from domain.errors import InvalidInput, Unavailable
from domain.model import AuditLog, Outcome, Transaction
from domain.services.scoring import AuditFor, ScoredTransaction
from entrypoints.http.batching import MicroBatcher
from tests.builders import a_model, a_model_version, a_prediction, a_transaction

VERSION = a_model_version(a_model())


class FakeScorer:
    """Records the batches it is given; can be held (blocked) or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.error: Exception | None = None
        self.called = asyncio.Event()

        self.audited: list[AuditLog] = []
        self.replayed: set[str] = set()

    async def __call__(
        self, batch: Sequence[Transaction], *, audit: AuditFor | None = None
    ) -> list[ScoredTransaction]:
        self.batches.append([tx.hash for tx in batch])
        self.called.set()
        await self.release.wait()
        if self.error is not None:
            raise self.error
        results = [
            ScoredTransaction(
                tx, a_prediction(tx, VERSION), None, VERSION, tx.hash in self.replayed
            )
            for tx in batch
        ]
        if audit is not None:
            self.audited.extend(audit(results))
        return results


async def test_concurrent_callers_share_one_batch_and_each_gets_its_own_result() -> None:
    scorer = FakeScorer()
    batcher = MicroBatcher(scorer, micro_batch=256, flush_ms=20, workers=1)
    txs = [a_transaction() for _ in range(10)]
    async with batcher.running_workers():
        results = await asyncio.gather(*(batcher.submit(tx) for tx in txs))
    assert [r.transaction.hash for r in results] == [tx.hash for tx in txs]
    assert scorer.batches == [[tx.hash for tx in txs]]


async def test_a_batch_is_flushed_once_it_holds_micro_batch_transactions() -> None:
    scorer = FakeScorer()
    batcher = MicroBatcher(scorer, micro_batch=4, flush_ms=1000, workers=1)
    async with batcher.running_workers():
        await asyncio.wait_for(
            asyncio.gather(*(batcher.submit(a_transaction()) for _ in range(8))), timeout=2
        )
    assert [len(batch) for batch in scorer.batches] == [4, 4]


async def test_a_full_queue_refuses_at_once_with_unavailable() -> None:
    scorer = FakeScorer()
    scorer.release.clear()
    batcher = MicroBatcher(scorer, micro_batch=1, flush_ms=0, queue_size=1, workers=1)
    async with batcher.running_workers():
        in_flight = asyncio.create_task(batcher.submit(a_transaction()))
        await scorer.called.wait()  # the worker holds the first one
        waiting = asyncio.create_task(batcher.submit(a_transaction()))
        await asyncio.sleep(0)
        assert batcher.depth == 1
        with pytest.raises(Unavailable, match="queue is full"):
            await batcher.submit(a_transaction())
        scorer.release.set()
        await asyncio.gather(in_flight, waiting)
    assert batcher.depth == 0


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (Unavailable("the database is unavailable"), Unavailable),
        (ConnectionRefusedError(), Unavailable),
        (InvalidInput("bad"), InvalidInput),
    ],
)
async def test_a_failed_batch_fails_every_caller_instead_of_hanging(
    raised: Exception, expected: type[Exception]
) -> None:
    scorer = FakeScorer()
    scorer.error = raised
    batcher = MicroBatcher(scorer, micro_batch=8, flush_ms=5, workers=1)
    async with batcher.running_workers():
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(batcher.submit(a_transaction()) for _ in range(3)), return_exceptions=True
            ),
            timeout=2,
        )
    assert all(isinstance(outcome, expected) for outcome in outcomes)


async def test_at_shutdown_the_queued_transactions_are_still_scored_and_answered() -> None:
    scorer = FakeScorer()
    scorer.release.clear()
    batcher = MicroBatcher(scorer, micro_batch=2, flush_ms=0, workers=1)
    txs = [a_transaction() for _ in range(5)]
    running = batcher.running_workers()
    await running.__aenter__()
    calls = [asyncio.create_task(batcher.submit(tx)) for tx in txs]
    await scorer.called.wait()  # one batch in the scorer, the rest queued
    stopping = asyncio.create_task(running.__aexit__(None, None, None))
    await asyncio.sleep(0)
    with pytest.raises(Unavailable, match="not running"):
        await batcher.submit(a_transaction())  # refused once the shutdown has begun
    scorer.release.set()
    await stopping
    results = await asyncio.gather(*calls)
    assert [r.transaction.hash for r in results] == [tx.hash for tx in txs]
    assert [h for batch in scorer.batches for h in batch] == [tx.hash for tx in txs]


async def test_callers_still_waiting_when_the_drain_time_is_up_get_unavailable() -> None:
    scorer = FakeScorer()
    scorer.release.clear()
    batcher = MicroBatcher(scorer, micro_batch=1, flush_ms=0, workers=1)
    async with batcher.running_workers(drain_s=0.01):
        calls = [asyncio.create_task(batcher.submit(a_transaction())) for _ in range(3)]
        await scorer.called.wait()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(outcome, Unavailable) for outcome in outcomes)


async def test_callers_in_a_batch_still_gathering_at_shutdown_get_unavailable() -> None:
    scorer = FakeScorer()
    batcher = MicroBatcher(scorer, micro_batch=10, flush_ms=60_000, workers=1)
    async with batcher.running_workers(drain_s=0.01):
        calls = [asyncio.create_task(batcher.submit(a_transaction())) for _ in range(2)]
        await asyncio.sleep(0.01)  # the worker holds both, waiting for more
    outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
    assert all(isinstance(outcome, Unavailable) for outcome in outcomes)
    assert scorer.batches == []


async def test_each_callers_audit_row_is_handed_to_the_batch_noting_replay_and_prediction() -> None:
    scorer = FakeScorer()
    batcher = MicroBatcher(scorer, micro_batch=8, flush_ms=20, workers=1)
    fresh, replayed, unaudited = a_transaction(), a_transaction(), a_transaction()
    scorer.replayed.add(replayed.hash)
    rows = {tx.hash: _row(tx) for tx in (fresh, replayed)}
    async with batcher.running_workers():
        results = await asyncio.gather(
            batcher.submit(fresh, rows[fresh.hash]),
            batcher.submit(replayed, rows[replayed.hash]),
            batcher.submit(unaudited),
        )
    assert len(scorer.batches) == 1
    audited = {row.resource: row for row in scorer.audited}
    assert sorted(audited) == sorted(f"transactions/{tx.hash}" for tx in (fresh, replayed))
    for tx, result in zip((fresh, replayed), results, strict=False):
        row = audited[f"transactions/{tx.hash}"]
        assert row.id == rows[tx.hash].id
        assert row.user_id == rows[tx.hash].user_id
        assert row.details == {
            "request_id": tx.hash[:10],
            "replayed": tx is replayed,
            "prediction_id": str(result.prediction.id),
        }


def _row(tx: Transaction) -> AuditLog:
    return AuditLog(
        action="transaction.predict",
        resource=f"transactions/{tx.hash}",
        outcome=Outcome.SUCCESS,
        user_id=uuid.uuid4(),
        details={"request_id": tx.hash[:10]},
    )


async def test_submitting_before_start_is_refused() -> None:
    with pytest.raises(Unavailable, match="not running"):
        await MicroBatcher(FakeScorer()).submit(a_transaction())
