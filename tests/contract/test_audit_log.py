"""Contract of ``AuditLogRepository``."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import DuplicateRecord
from domain.model import AuditLog, Outcome
from domain.pagination import PageRequest
from ports import AuditFilter, TimeRange, UnitOfWorkFactory
from tests.builders import an_audit_entry, at, collect_pages


async def _appended(uow_factory: UnitOfWorkFactory, *entries: AuditLog) -> list[AuditLog]:
    async with uow_factory() as uow:
        for entry in entries:
            await uow.audit.append(entry)
        await uow.commit()
    return list(entries)


def _newest_first(entries: list[AuditLog]) -> list[uuid.UUID]:
    ordered = sorted(entries, key=lambda e: (e.timestamp, str(e.id)), reverse=True)
    return [e.id for e in ordered]


async def test_an_entry_reads_back_field_for_field(uow_factory: UnitOfWorkFactory) -> None:
    full = an_audit_entry(
        user_id=uuid.uuid4(),
        outcome=Outcome.DENIED,
        ip="2001:db8::1",
        details={"reason": "scope", "scopes": ["a", "b"], "nested": {"n": 1.5, "none": None}},
    )
    anonymous = an_audit_entry(user_id=None, ip=None, details={}, resource="")
    await _appended(uow_factory, full, anonymous)

    async with uow_factory() as uow:
        page = await uow.audit.query(AuditFilter(), PageRequest(10))
    assert sorted(page.items, key=lambda e: str(e.id)) == sorted(
        [full, anonymous], key=lambda e: str(e.id)
    )


async def test_query_filters_by_user_action_outcome_and_half_open_period(
    uow_factory: UnitOfWorkFactory,
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    a0, a1, a2, b1, system = await _appended(
        uow_factory,
        an_audit_entry(user_id=alice, action="login", timestamp=at(0)),
        an_audit_entry(user_id=alice, action="keys.issue", timestamp=at(10)),
        an_audit_entry(user_id=alice, action="login", timestamp=at(20)),
        an_audit_entry(user_id=bob, action="login", timestamp=at(10), outcome=Outcome.DENIED),
        an_audit_entry(user_id=None, action="migrate", timestamp=at(5)),
    )
    criteria_and_expected = [
        (AuditFilter(), [a0, a1, a2, b1, system]),
        (AuditFilter(user_id=alice), [a0, a1, a2]),
        (AuditFilter(action="login"), [a0, a2, b1]),
        (AuditFilter(user_id=alice, action="login"), [a0, a2]),
        (AuditFilter(period=TimeRange(at(5), at(20))), [a1, b1, system]),
        (AuditFilter(user_id=alice, period=TimeRange(since=at(10))), [a1, a2]),
        (AuditFilter(user_id=uuid.uuid4()), []),
        (AuditFilter(outcome=Outcome.DENIED), [b1]),
        (AuditFilter(action="login", outcome=Outcome.SUCCESS), [a0, a2]),
        (AuditFilter(user_id=alice, outcome=Outcome.FAILURE), []),
    ]

    async with uow_factory() as uow:
        for criteria, expected in criteria_and_expected:
            page = await uow.audit.query(criteria, PageRequest(100))
            assert [e.id for e in page.items] == _newest_first(expected), criteria


async def test_entries_page_through_shared_instants_exactly_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = uuid.uuid4()
    entries = await _appended(
        uow_factory,
        *(an_audit_entry(user_id=user, timestamp=at(s // 4 + 0.25 * (s % 2))) for s in range(11)),
    )

    async with uow_factory() as uow:
        pages = await collect_pages(
            lambda request: uow.audit.query(AuditFilter(user_id=user), request), 3
        )
    assert [e.id for page in pages for e in page] == _newest_first(entries)


async def test_put_inserts_then_replaces_the_entry_with_its_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    entry = an_audit_entry(outcome=Outcome.DENIED, details={"count": 1}, timestamp=at(0))
    async with uow_factory() as uow:
        assert await uow.audit.find(entry.id) is None
        await uow.audit.put(entry)
        await uow.commit()

    entry.details = {"count": 2, "reasons": {"the API key is not valid": 2}}
    entry.resource = "users"
    async with uow_factory() as uow:
        await uow.audit.put(entry)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.audit.find(entry.id) == entry
        page = await uow.audit.query(AuditFilter(), PageRequest(10))
    assert [e.id for e in page.items] == [entry.id]


async def test_append_many_stores_every_entry_or_none(uow_factory: UnitOfWorkFactory) -> None:
    (stored,) = await _appended(uow_factory, an_audit_entry())
    fresh = [an_audit_entry(timestamp=at(i)) for i in range(3)]

    async with uow_factory() as uow:
        with pytest.raises(DuplicateRecord):
            await uow.audit.append_many([*fresh, stored])
        with pytest.raises(DuplicateRecord):
            await uow.audit.append_many([fresh[0], fresh[0]])
        await uow.audit.append_many([])
        await uow.commit()
    async with uow_factory() as uow:
        assert [e.id for e in (await uow.audit.query(AuditFilter(), PageRequest(10))).items] == [
            stored.id
        ]

    async with uow_factory() as uow:
        await uow.audit.append_many(fresh)
        await uow.commit()
    async with uow_factory() as uow:
        page = await uow.audit.query(AuditFilter(), PageRequest(10))
    assert [e.id for e in page.items] == _newest_first([stored, *fresh])
