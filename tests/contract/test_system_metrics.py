"""Contract of ``SystemMetricRepository``."""

from __future__ import annotations

import uuid

from domain.model import SystemMetric
from domain.pagination import PageRequest
from ports import TimeRange, UnitOfWorkFactory
from tests.builders import a_metric, at, collect_pages


async def _appended(uow_factory: UnitOfWorkFactory, *metrics: SystemMetric) -> list[SystemMetric]:
    async with uow_factory() as uow:
        await uow.metrics.append_many(metrics)
        await uow.commit()
    return list(metrics)


def _newest_first(metrics: list[SystemMetric]) -> list[uuid.UUID]:
    ordered = sorted(metrics, key=lambda m: (m.recorded_at, str(m.id)), reverse=True)
    return [m.id for m in ordered]


async def test_metrics_read_back_field_for_field(uow_factory: UnitOfWorkFactory) -> None:
    labelled = a_metric(value=-0.125, labels={"node": "a", "pool": "primary"}, recorded_at=at(1))
    bare = a_metric(value=3e300, labels={}, recorded_at=at(0))
    await _appended(uow_factory, labelled, bare)

    async with uow_factory() as uow:
        page = await uow.metrics.query(None, TimeRange(), PageRequest(10))
    assert page.items == [labelled, bare]


async def test_append_many_of_nothing_stores_nothing(uow_factory: UnitOfWorkFactory) -> None:
    await _appended(uow_factory)

    async with uow_factory() as uow:
        assert (await uow.metrics.query(None, TimeRange(), PageRequest(10))).items == []


async def test_query_filters_by_name_and_half_open_period(uow_factory: UnitOfWorkFactory) -> None:
    rps0, lat5, rps10, rps20 = await _appended(
        uow_factory,
        a_metric(name="ingest.rps", recorded_at=at(0)),
        a_metric(name="db.latency_ms", recorded_at=at(5)),
        a_metric(name="ingest.rps", recorded_at=at(10)),
        a_metric(name="ingest.rps", recorded_at=at(20)),
    )
    cases = [
        (None, TimeRange(), [rps0, lat5, rps10, rps20]),
        ("ingest.rps", TimeRange(), [rps0, rps10, rps20]),
        ("ingest.rps", TimeRange(at(0), at(20)), [rps0, rps10]),
        (None, TimeRange(since=at(5)), [lat5, rps10, rps20]),
        ("db.latency_ms", TimeRange(until=at(5)), []),
        ("unknown", TimeRange(), []),
    ]

    async with uow_factory() as uow:
        for name, period, expected in cases:
            page = await uow.metrics.query(name, period, PageRequest(100))
            assert [m.id for m in page.items] == _newest_first(expected), (name, period)


async def test_metrics_page_through_shared_instants_exactly_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    metrics = await _appended(
        uow_factory, *(a_metric(name="q.depth", recorded_at=at(s // 3)) for s in range(10))
    )

    async with uow_factory() as uow:
        pages = await collect_pages(
            lambda request: uow.metrics.query("q.depth", TimeRange(), request), 4
        )
    assert [m.id for page in pages for m in page] == _newest_first(metrics)
