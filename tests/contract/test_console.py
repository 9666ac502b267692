"""Contracts of the console's ports: ``CommentRepository``, ``SessionRepository``, and
``AnomalyRepository``'s assignment (recording it, filtering by it)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from domain.comments import Comment
from domain.errors import AnomalyNotFound, DuplicateRecord
from domain.model import Anomaly
from domain.pagination import PageRequest
from domain.sessions import ConsoleSession, SignInMethod
from ports import AnomalyFilter, UnitOfWorkFactory
from tests.builders import T0, an_anomaly, at, stored_model_version, stored_predictions, stored_user


async def _stored_anomalies(uow_factory: UnitOfWorkFactory, count: int) -> list[Anomaly]:
    version = await stored_model_version(uow_factory)
    predictions = await stored_predictions(uow_factory, version, count)
    anomalies = [an_anomaly(p, detected_at=at(i)) for i, p in enumerate(predictions)]
    async with uow_factory() as uow:
        await uow.anomalies.add_many(anomalies)
        await uow.commit()
    return anomalies


def _session(user_id: uuid.UUID, **overrides: object) -> ConsoleSession:
    fields: dict[str, object] = {
        "user_id": user_id,
        "digest": uuid.uuid4().hex,
        "method": SignInMethod.PASSWORD,
        "expires_at": T0 + timedelta(hours=12),
        "created_at": T0,
        "last_seen_at": T0,
    }
    fields.update(overrides)
    return ConsoleSession(**fields)  # type: ignore[arg-type]


async def test_an_assignment_is_stored_and_filters_the_listing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first, second, third = await _stored_anomalies(uow_factory, 3)
    analyst = uuid.uuid4()
    first.assign(analyst, at=at(10))
    third.assign(analyst, at=at(11))
    async with uow_factory() as uow:
        await uow.anomalies.record_assignment(first)
        await uow.anomalies.record_assignment(third)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.anomalies.get(first.id)
        mine = await uow.anomalies.list(AnomalyFilter(assigned_to=analyst), PageRequest(10))
        counted = await uow.anomalies.count(AnomalyFilter(assigned_to=analyst))
    assert (stored.assigned_to, stored.assigned_at) == (analyst, at(10))
    assert [a.id for a in mine.items] == [third.id, first.id]
    assert counted == 2
    assert second.id not in {a.id for a in mine.items}


async def test_unassigning_clears_both_fields(uow_factory: UnitOfWorkFactory) -> None:
    (anomaly,) = await _stored_anomalies(uow_factory, 1)
    anomaly.assign(uuid.uuid4(), at=at(1))
    async with uow_factory() as uow:
        await uow.anomalies.record_assignment(anomaly)
        anomaly.assign(None, at=at(2))
        await uow.anomalies.record_assignment(anomaly)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.anomalies.get(anomaly.id)
    assert (stored.assigned_to, stored.assigned_at) == (None, None)


async def test_assigning_an_unknown_anomaly_is_not_found(uow_factory: UnitOfWorkFactory) -> None:
    (anomaly,) = await _stored_anomalies(uow_factory, 1)
    anomaly.id = uuid.uuid4()
    async with uow_factory() as uow:
        with pytest.raises(AnomalyNotFound):
            await uow.anomalies.record_assignment(anomaly)


async def test_a_thread_lists_its_newest_comments_oldest_first(
    uow_factory: UnitOfWorkFactory,
) -> None:
    anomaly, other = await _stored_anomalies(uow_factory, 2)
    author = uuid.uuid4()
    comments = [
        Comment(anomaly_id=anomaly.id, author_id=author, body=f"note {i}", created_at=at(i))
        for i in range(5)
    ]
    async with uow_factory() as uow:
        for comment in reversed(comments):
            await uow.comments.add(comment)
        await uow.comments.add(Comment(anomaly_id=other.id, author_id=author, body="elsewhere"))
        await uow.commit()

    async with uow_factory() as uow:
        everything = await uow.comments.list_for(anomaly.id, 100)
        tail = await uow.comments.list_for(anomaly.id, 2)
        nothing = await uow.comments.list_for(uuid.uuid4(), 100)
    assert [c.body for c in everything] == [f"note {i}" for i in range(5)]
    assert [c.body for c in tail] == ["note 3", "note 4"]
    assert everything[0] == comments[0]
    assert nothing == []


async def test_a_comment_needs_its_anomaly_and_a_fresh_id(uow_factory: UnitOfWorkFactory) -> None:
    (anomaly,) = await _stored_anomalies(uow_factory, 1)
    comment = Comment(anomaly_id=anomaly.id, author_id=uuid.uuid4(), body="seen before")
    async with uow_factory() as uow:
        await uow.comments.add(comment)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(DuplicateRecord):
            await uow.comments.add(comment)
    async with uow_factory() as uow:
        with pytest.raises(AnomalyNotFound):
            await uow.comments.add(
                Comment(anomaly_id=uuid.uuid4(), author_id=uuid.uuid4(), body="x")
            )


async def test_a_session_is_found_by_its_digest_only(uow_factory: UnitOfWorkFactory) -> None:
    user = await stored_user(uow_factory)
    session = _session(user.id, ip="203.0.113.9")
    async with uow_factory() as uow:
        await uow.sessions.add(session)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.find_by_digest(session.digest) == session
        assert await uow.sessions.find_by_digest("0" * 32) is None


async def test_a_session_digest_is_unique(uow_factory: UnitOfWorkFactory) -> None:
    user = await stored_user(uow_factory)
    session = _session(user.id)
    async with uow_factory() as uow:
        await uow.sessions.add(session)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(DuplicateRecord):
            await uow.sessions.add(_session(user.id, digest=session.digest))


async def test_touch_moves_last_seen_forwards_only_and_revoke_keeps_the_first_time(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow_factory)
    session = _session(user.id)
    async with uow_factory() as uow:
        await uow.sessions.add(session)
        await uow.sessions.touch(session.id, at(60))
        await uow.sessions.touch(session.id, at(30))
        await uow.sessions.revoke(session.id, at(90))
        await uow.sessions.revoke(session.id, at(120))
        await uow.sessions.touch(uuid.uuid4(), at(60))  # unknown ids are ignored
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.sessions.find_by_digest(session.digest)
    assert stored is not None
    assert (stored.last_seen_at, stored.revoked_at) == (at(60), at(90))


async def test_revoking_a_user_ends_only_their_live_sessions(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow_factory)
    other = await stored_user(uow_factory)
    live = [_session(user.id), _session(user.id)]
    ended = _session(user.id, revoked_at=at(1))
    theirs = _session(other.id)
    async with uow_factory() as uow:
        for session in (*live, ended, theirs):
            await uow.sessions.add(session)
        revoked = await uow.sessions.revoke_user(user.id, at(50))
        await uow.commit()
    async with uow_factory() as uow:
        found = [await uow.sessions.find_by_digest(s.digest) for s in (*live, ended, theirs)]
    assert revoked == 2
    assert [s.revoked_at if s else "gone" for s in found] == [at(50), at(50), at(1), None]


async def test_ended_sessions_are_deleted_live_ones_kept(uow_factory: UnitOfWorkFactory) -> None:
    user = await stored_user(uow_factory)
    expired = _session(user.id, expires_at=at(10))
    revoked = _session(user.id, revoked_at=at(20))
    live = _session(user.id, expires_at=at(1000))
    async with uow_factory() as uow:
        for session in (expired, revoked, live):
            await uow.sessions.add(session)
        deleted = await uow.sessions.delete_ended_before(at(100))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.find_by_digest(expired.digest) is None
        assert await uow.sessions.find_by_digest(revoked.digest) is None
        assert await uow.sessions.find_by_digest(live.digest) == live
    assert deleted == 2
