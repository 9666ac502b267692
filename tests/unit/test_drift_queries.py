"""Drift of the serving versions on the in-memory fakes: which versions, which window,
calibrated or not; and the background monitor that feeds the gauges."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from adapters.memory import InMemoryDatabase
from domain.calibration import REFERENCE_KEY, ScoreReference
from domain.drift import NO_REFERENCE, NO_SCORES, DriftReading
from domain.errors import InvalidInput, ModelVersionNotFound
from domain.model import Model, ModelStatus, ModelVersion
from domain.policies import severity_thresholds
from domain.services.drift_queries import model_drift, serving_drift, version_drift
from entrypoints.http.drift import DriftMonitor
from entrypoints.settings import DriftSettings
from ports import UnitOfWork
from tests.builders import a_model, a_model_version, a_prediction, a_transaction
from tests.clocks import ManualClock
from tests.services import services_for

DAY = timedelta(hours=24)
REFERENCE = {REFERENCE_KEY: ScoreReference.of([i / 999 for i in range(1000)]).to_json()}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def database() -> InMemoryDatabase:
    return InMemoryDatabase()


async def stored_versions(database: InMemoryDatabase, *versions: ModelVersion) -> None:
    async with database.uow() as uow:
        for version in versions:
            await uow.models.add_version(version)
        await uow.commit()


async def stored_model(database: InMemoryDatabase, name: str = "forest") -> Model:
    model = a_model(name=name)
    async with database.uow() as uow:
        await uow.models.add_model(model)
        await uow.commit()
    return model


async def scored(
    database: InMemoryDatabase, clock: ManualClock, version: ModelVersion, scores: list[float]
) -> None:
    """One prediction per score by ``version``, made now."""
    transactions = [a_transaction() for _ in scores]
    async with database.uow() as uow:
        await uow.transactions.add_many(transactions)
        await uow.predictions.add_many(
            [
                a_prediction(tx, version, score=score, created_at=clock.now())
                for tx, score in zip(transactions, scores, strict=True)
            ]
        )
        await uow.commit()


async def test_a_version_is_measured_on_the_predictions_of_the_window_only(
    database: InMemoryDatabase, clock: ManualClock
) -> None:
    services = services_for(database.uow, clock)
    model = await stored_model(database)
    version = a_model_version(model, status=ModelStatus.ACTIVE, thresholds=REFERENCE)
    await stored_versions(database, version)
    await scored(database, clock, version, [0.999] * 10)  # all flagged, all in the top bin
    clock.advance(DAY + timedelta(seconds=1))
    await scored(database, clock, version, [i / 10 + 0.05 for i in range(10)])

    measured = await version_drift(services, "forest", 1, window=DAY)

    assert measured.model == "forest"
    assert measured.version == version
    drift = measured.drift
    assert (drift.scored, drift.flagged) == (10, 0)
    assert drift.flagged_share == 0.0
    assert [b.count for b in drift.bins] == [1] * 9 + [1, 0]
    assert drift.psi is not None
    assert drift.reading is DriftReading.STABLE


async def test_a_window_with_nothing_scored_has_no_psi(
    database: InMemoryDatabase, clock: ManualClock
) -> None:
    services = services_for(database.uow, clock)
    model = await stored_model(database)
    await stored_versions(database, a_model_version(model, thresholds=REFERENCE))
    drift = (await version_drift(services, "forest", 1, window=DAY)).drift
    assert (drift.scored, drift.flagged_share, drift.psi, drift.note) == (0, None, None, NO_SCORES)


async def test_a_version_without_a_reference_reports_its_raw_flagged_share(
    database: InMemoryDatabase, clock: ManualClock
) -> None:
    services = services_for(database.uow, clock)
    model = await stored_model(database)
    floors = severity_thresholds([float(i) for i in range(100)], contamination=0.1)
    version = a_model_version(model, status=ModelStatus.SHADOW, thresholds=floors)
    await stored_versions(database, version)
    await scored(database, clock, version, [1.0, 50.0, 95.0, 99.0])

    drift = (await version_drift(services, "forest", 1, window=DAY)).drift

    assert (drift.scored, drift.flagged, drift.flagged_share) == (4, 2, 0.5)
    assert drift.psi is None
    assert drift.note == NO_REFERENCE


async def test_only_active_and_shadow_versions_are_measured(
    database: InMemoryDatabase, clock: ManualClock
) -> None:
    services = services_for(database.uow, clock)
    forest, tails = await stored_model(database, "forest"), await stored_model(database, "tails")
    statuses = (ModelStatus.STAGED, ModelStatus.ACTIVE, ModelStatus.SHADOW, ModelStatus.RETIRED)
    versions = [
        a_model_version(forest, number, status=status, thresholds=REFERENCE)
        for number, status in enumerate(statuses, start=1)
    ]
    other = a_model_version(tails, 1, status=ModelStatus.ACTIVE, thresholds=REFERENCE)
    await stored_versions(database, *versions, other)

    everywhere = await serving_drift(services, window=DAY)
    one_model = await model_drift(services, "forest", window=DAY)

    assert [(d.model, d.version.version) for d in everywhere] == [
        ("forest", 2),
        ("forest", 3),
        ("tails", 1),
    ]
    assert set(one_model.drift) == {versions[1].id, versions[2].id}
    assert [v.version for v in one_model.overview.versions] == [1, 2, 3, 4]


async def test_an_unknown_version_and_a_window_that_is_not_positive_are_refused(
    database: InMemoryDatabase, clock: ManualClock
) -> None:
    services = services_for(database.uow, clock)
    await stored_model(database)
    with pytest.raises(ModelVersionNotFound):
        await version_drift(services, "forest", 7, window=DAY)
    with pytest.raises(InvalidInput):
        await serving_drift(services, window=timedelta(0))


async def test_the_monitor_measures_at_start_up_and_then_periodically(
    database: InMemoryDatabase, clock: ManualClock
) -> None:
    services = services_for(database.uow, clock)
    model = await stored_model(database)
    version = a_model_version(model, status=ModelStatus.ACTIVE, thresholds=REFERENCE)
    await stored_versions(database, version)
    monitor = DriftMonitor(services, DriftSettings(refresh_s=0.01))

    async with monitor.lifespan(lambda: True)(None):
        (first,) = monitor.latest
        assert first.drift.scored == 0
        assert monitor.refreshed_at is not None
        await scored(database, clock, version, [0.5, 0.995])
        for _ in range(200):
            if monitor.latest[0].drift.scored:
                break
            await asyncio.sleep(0.01)
        (later,) = monitor.latest

    assert later.drift.scored == 2
    assert later.drift.flagged_share == 0.5


async def test_the_monitor_keeps_its_last_figures_when_a_refresh_fails(
    database: InMemoryDatabase, clock: ManualClock
) -> None:
    services = services_for(database.uow, clock)
    model = await stored_model(database)
    await stored_versions(
        database, a_model_version(model, status=ModelStatus.ACTIVE, thresholds=REFERENCE)
    )
    monitor = DriftMonitor(services, DriftSettings(refresh_s=3600))
    await monitor.refresh()
    kept = monitor.latest

    broken = DriftMonitor(services_for(_failing_uow, clock), DriftSettings(refresh_s=3600))
    broken.latest = kept
    async with broken.lifespan(lambda: True)(None):
        assert broken.latest == kept
        assert broken.refreshed_at is None


def _failing_uow() -> UnitOfWork:
    raise RuntimeError("the database is gone")
