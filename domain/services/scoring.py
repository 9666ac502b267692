"""Scoring transactions: the hot path.

``Scorer.score_transactions(batch)`` is the one code path for a single transaction and for
a batch of any size, in one unit of work (one pooled connection: its reads run before the
write transaction begins, so no transaction stays open while the batch is scored):

1. one short read: which transactions are stored already, and (a second read, only when
   some are) which of those a served prediction has scored (those are *replays*: their
   stored prediction and anomaly are returned, ``replayed=True``, and nothing is written
   for them again); and, only when a
   serving version's feature set uses sender history (feature set 4), the stored activity
   of the other transactions' senders (``TransactionRepository.sender_activity``), to which
   the batch's own earlier transactions of the same sender are added
   (``domain.history.batch_histories``: they count as if stored first, as they are about
   to be);
2. scoring, outside any database transaction and off the event loop
   (``asyncio.to_thread``): features once per transaction and feature set (each version
   is fed the feature set stored with it), then each ACTIVE version
   scores the transactions that ``policies.assign_version`` sends it, and each SHADOW
   version scores all of them;
3. one all-or-nothing write (``UnitOfWork.all_or_nothing``: one multi-row
   statement, or COPY, per table and no savepoints - on PostgreSQL all of them held for
   the commit and sent as one statement): the new transactions, one served
   prediction per transaction, one shadow prediction per shadow version, and an
   ``Anomaly`` for each transaction its served prediction flags. The stored score, the
   anomaly flag and the severity come from the version's ``calibration.ScoreRule``: the
   calibrated score (the quantile of the raw score in the version's reference
   distribution) under ``services.alerts``, or - for a version trained before
   calibration - the raw score and its stored raw floors. A concurrent writer that stored
   and scored the same hash in between shows up as a duplicate of ``add_many`` (that
   transaction becomes a replay too) or as a ``Conflict`` (the batch is scored again,
   and finds it stored). The caller's audit rows (``audit=``, built from the
   results) are appended in that same unit of work, with one statement, so they exist
   exactly when the predictions do; when every transaction is a replay, they are
   committed on their own (the request still happened).

``refresh()`` reads the ACTIVE and SHADOW versions from the repository (so every replica
serves the same set), loads each artifact after checking its sha256 and warms it; call
it at start-up. ``reload()`` refreshes a scorer that has loaded a set already: it is the
``Services.serving`` that the lifecycle use cases tell after changing the registry.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from domain.errors import Conflict, Unavailable
from domain.history import HistoryPoint, SenderHistory, batch_histories
from domain.model import (
    Anomaly,
    AuditLog,
    ModelStatus,
    ModelVersion,
    Prediction,
    Transaction,
    new_id,
    unchecked,
)
from domain.services.artifacts import load_version_artifact
from domain.services.services import Services
from domain.services.serving import (
    Loaded,
    ServingSet,
    VersionScores,
    check_servable,
    score_pending,
)
from domain.values import check_finite, check_utc
from ports.detector import Detector
from ports.repositories import UnitOfWork

# A concurrent unit of work storing the same new hashes can make a commit fail (the
# in-memory store detects it at commit); the retry then finds them as replays.
_WRITE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ScoredTransaction:
    """The outcome for one submitted transaction. ``transaction`` is the stored one (for a
    replay, what was stored first); ``anomaly`` is set when the served prediction flagged
    it; ``replayed`` is True when the prediction was already stored before this call."""

    transaction: Transaction
    prediction: Prediction
    anomaly: Anomaly | None
    model_version: ModelVersion
    replayed: bool


AuditFor = Callable[[Sequence[ScoredTransaction]], Sequence[AuditLog]]
"""Builds the audit rows of a scoring call from its results (one per submitted
transaction, in order); they are appended in the unit of work that stores the results."""


class Scorer:
    """Scores batches of transactions with the serving model versions (see module doc)."""

    def __init__(self, services: Services) -> None:
        self._uow = services.uow
        self._detectors = services.detectors
        self._blobs = services.blobs
        self._clock = services.clock
        self._alerts = services.alerts
        self._serving: ServingSet | None = None
        self._loaded: dict[tuple[uuid.UUID, str | None], Detector] = {}
        self._refresh_lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        """True once loaded models can serve: at least one ACTIVE version with traffic."""
        return self._serving is not None and self._serving.serves

    @property
    def serving_versions(self) -> list[ModelVersion]:
        """The versions loaded by the last ``refresh``: ACTIVE ones, then SHADOW ones."""
        if self._serving is None:
            return []
        loaded = [*self._serving.active.values(), *self._serving.shadow]
        return [item.version for item in loaded]

    async def refresh(self) -> None:
        """Load and warm every ACTIVE and SHADOW version, replacing the serving set.

        Unchanged versions (same id and artifact sha256) are not loaded again. If any
        version cannot be loaded — missing or tampered artifact (``BlobNotFound``,
        ``ArtifactIntegrityError``), a feature set this build does not compute or unusable
        thresholds
        (``Unavailable``) — this raises and the previous serving set stays in place.
        """
        async with self._refresh_lock:
            async with self._uow() as uow:
                versions = await uow.models.list_versions_by_status(
                    [ModelStatus.ACTIVE, ModelStatus.SHADOW]
                )
            loaded: dict[tuple[uuid.UUID, str | None], Detector] = {}
            ready: dict[uuid.UUID, Loaded] = {}
            for version in versions:
                rule = check_servable(version, self._alerts)
                key = (version.id, version.artifact_sha256)
                detector = self._loaded.get(key)
                if detector is None:
                    detector = await asyncio.to_thread(self._load, version)
                loaded[key] = detector
                ready[version.id] = Loaded(version, detector, rule)
            self._loaded = loaded
            self._serving = ServingSet(
                active={v.id: ready[v.id] for v in versions if v.status is ModelStatus.ACTIVE},
                shadow=tuple(ready[v.id] for v in versions if v.status is ModelStatus.SHADOW),
            )

    async def reload(self) -> None:
        """``refresh`` if a serving set is loaded already (after a registry change). A
        scorer that has loaded none - in a process that has not scored, such as a CLI
        command - has nothing to reload: it loads the current set when it first scores."""
        if self._serving is not None:
            await self.refresh()

    def _load(self, version: ModelVersion) -> Detector:
        return self._detectors.load(load_version_artifact(self._blobs, version))

    async def score_transactions(
        self, batch: Sequence[Transaction], *, audit: AuditFor | None = None
    ) -> list[ScoredTransaction]:
        """Score ``batch`` and store the outcome; one result per submitted transaction,
        in order (a hash repeated in the batch is scored once, the repeats are replays).

        ``audit`` builds the audit rows of the call from those results; they are committed
        together with the predictions (or with nothing else when all are replays), and
        not at all when this raises. An empty batch writes nothing.

        Raises ``Unavailable`` when no ACTIVE version takes traffic.
        """
        if not batch:
            return []
        if self._serving is None:
            await self.refresh()
        serving = self._serving
        if serving is None or not serving.serves:
            raise Unavailable(
                "no active model version with traffic: train one and activate it "
                "(chainwatch models activate), then retry"
            )
        unique = list({tx.hash: tx for tx in reversed(batch)}.values())[::-1]
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                outcome = await self._score_once(serving, batch, unique, audit)
                break
            except Conflict:
                if attempt == _WRITE_ATTEMPTS:
                    raise
        return _ordered(batch, outcome)

    async def _score_once(
        self,
        serving: ServingSet,
        batch: Sequence[Transaction],
        unique: list[Transaction],
        audit: AuditFor | None,
    ) -> dict[str, ScoredTransaction]:
        hashes = [tx.hash for tx in unique]
        # One unit of work for the read and the write: one pooled connection per batch.
        # The read runs before the write transaction begins (adapters send ``BEGIN`` with
        # the first write), so no transaction - and no snapshot - stays open while the
        # batch is scored; a hash stored in between is caught by ``add_many`` below.
        async with self._uow() as uow:
            stored = await uow.transactions.get_many(hashes)
            # A served prediction is stored with its transaction: only a stored hash can
            # be a replay, so a batch of new transactions skips that read.
            outcome = await self._replays(uow, serving, list(stored), stored)
            # The stored transaction wins over a resubmitted one with different fields.
            pending = [stored.get(tx.hash, tx) for tx in unique if tx.hash not in outcome]
            if not pending:
                if await _append_audit(uow, audit, batch, outcome):
                    await uow.commit()
                return outcome
            histories: dict[str, SenderHistory] = {}
            if serving.needs_history:
                activity = await uow.transactions.sender_activity(
                    HistoryPoint.of(tx) for tx in pending
                )
                histories = batch_histories(pending, activity)
            scored = await asyncio.to_thread(score_pending, serving, pending, histories)
            uow.all_or_nothing()  # one multi-row statement per table, no savepoints
            new = [tx for tx in pending if tx.hash not in stored]
            # Looked up in the read above: a hash stored since is a Conflict, retried.
            added = await uow.transactions.add_many(new, found_absent=True)
            if added.duplicates:
                raced = await self._replays(uow, serving, added.duplicates, {})
                outcome.update(raced)
                pending = [tx for tx in pending if tx.hash not in raced]
            written = self._records(pending, scored)
            await uow.predictions.add_many(written.predictions)
            await uow.anomalies.add_many(written.anomalies)
            outcome.update(written.results)
            await _append_audit(uow, audit, batch, outcome)
            await uow.commit()
        return outcome

    async def _replays(
        self,
        uow: UnitOfWork,
        serving: ServingSet,
        hashes: Iterable[str],
        transactions: Mapping[str, Transaction],
    ) -> dict[str, ScoredTransaction]:
        """Stored served predictions of ``hashes``, as replayed results (no read for none)."""
        hashes = list(hashes)
        if not hashes:
            return {}
        predictions = await uow.predictions.served_for(hashes)
        if not predictions:
            return {}
        anomalies = await uow.anomalies.by_prediction_ids(p.id for p in predictions.values())
        missing = [h for h in predictions if h not in transactions]
        found = {**transactions, **(await uow.transactions.get_many(missing) if missing else {})}
        versions = {
            item.version.id: item.version for item in (*serving.active.values(), *serving.shadow)
        }
        replays: dict[str, ScoredTransaction] = {}
        for tx_hash, prediction in predictions.items():
            version = versions.get(prediction.model_version_id)
            if version is None:
                version = await uow.models.get_version_by_id(prediction.model_version_id)
                versions[version.id] = version
            replays[tx_hash] = ScoredTransaction(
                transaction=found[tx_hash],
                prediction=prediction,
                anomaly=anomalies.get(prediction.id),
                model_version=version,
                replayed=True,
            )
        return replays

    def _records(self, pending: list[Transaction], scored: list[VersionScores]) -> _Written:
        # Every value below is normal already (stored hashes, finite scores and latencies
        # checked by ``score_pending``, normalised contributions, the clock's UTC now): the
        # rows are built without checking them again, a thousand a batch.
        now = check_utc(self._clock.now(), "now")
        written = _Written()
        for tx in pending:
            for result in scored:
                raw = result.scores.get(tx.hash)
                if raw is None:
                    continue
                version = result.loaded.version
                verdict = result.loaded.rule.judge(raw)
                severity = verdict.severity
                prediction = unchecked(
                    Prediction,
                    transaction_hash=tx.hash,
                    model_version_id=version.id,
                    score=check_finite(verdict.score, "score"),
                    is_anomaly=verdict.is_anomaly,
                    served=result.served,
                    latency_ms=result.latency_ms,
                    contributions=result.contributions[tx.hash],
                    created_at=now,
                    id=new_id(),
                )
                written.predictions.append(prediction)
                if not result.served:
                    continue
                anomaly = None
                if severity is not None:
                    anomaly = Anomaly(
                        transaction_hash=tx.hash,
                        prediction_id=prediction.id,
                        model_version_id=version.id,
                        severity=severity,
                        score=verdict.score,
                        detected_at=now,
                        contributions=prediction.contributions,
                        transaction_timestamp=tx.timestamp,
                    )
                    written.anomalies.append(anomaly)
                written.results[tx.hash] = ScoredTransaction(
                    tx, prediction, anomaly, version, False
                )
        return written


@dataclass(slots=True)
class _Written:
    """The rows one unit of work writes, and the results they make."""

    predictions: list[Prediction] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    results: dict[str, ScoredTransaction] = field(default_factory=dict)


def _as_replay(result: ScoredTransaction) -> ScoredTransaction:
    return ScoredTransaction(
        result.transaction, result.prediction, result.anomaly, result.model_version, True
    )


def _ordered(
    batch: Sequence[Transaction], outcome: Mapping[str, ScoredTransaction]
) -> list[ScoredTransaction]:
    """One result per submitted transaction, in order; a repeated hash is a replay."""
    results: list[ScoredTransaction] = []
    seen: set[str] = set()
    for tx in batch:
        result = outcome[tx.hash]
        if tx.hash in seen and not result.replayed:
            result = _as_replay(result)
        seen.add(tx.hash)
        results.append(result)
    return results


async def _append_audit(
    uow: UnitOfWork,
    audit: AuditFor | None,
    batch: Sequence[Transaction],
    outcome: Mapping[str, ScoredTransaction],
) -> int:
    """Append the caller's audit rows for the results; how many were appended."""
    if audit is None:
        return 0
    entries = audit(_ordered(batch, outcome))
    await uow.audit.append_many(entries)
    return len(entries)
