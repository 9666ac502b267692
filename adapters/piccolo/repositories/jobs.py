"""``PiccoloJobRepository``: the job queue, claimed with ``FOR UPDATE SKIP LOCKED``."""

from __future__ import annotations

import uuid
from datetime import datetime

from adapters.piccolo.schema.codecs import JOBS
from adapters.piccolo.sql.engine import Dialect
from adapters.piccolo.sql.errors import UniqueViolation
from adapters.piccolo.sql.session import SessionProvider
from adapters.piccolo.sql.statements import insert, sql
from adapters.piccolo.sql.values import db_instant
from domain.errors import DuplicateRecord, JobNotFound
from domain.jobs import Job, JobStatus

_SELECT = JOBS.select()
# What ``save`` writes; the rest is fixed at ``add``.
_MUTABLE = tuple(
    column
    for column in JOBS.columns
    if column not in ("id", "kind", "payload", "max_attempts", "created_at")
)
_QUEUED, _RUNNING = JobStatus.QUEUED.value, JobStatus.RUNNING.value
_FINISHED = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)


class PiccoloJobRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add(self, job: Job) -> None:
        session = await self._session()
        try:
            async with session.write():
                await insert(session, JOBS, [job])
        except UniqueViolation:
            raise DuplicateRecord("job", job.id) from None

    async def get(self, job_id: uuid.UUID) -> Job:
        session = await self._session()
        row = await session.fetchrow(
            sql(f"SELECT {_SELECT} FROM jobs WHERE id = {{}}", self._id(job_id, session.dialect))
        )
        if row is None:
            raise JobNotFound(job_id)
        return JOBS.from_row(row)

    async def next_claimable(self, now: datetime) -> Job | None:
        session = await self._session()
        at = db_instant(now, session.dialect)
        claimable = sql(
            f"SELECT {_SELECT} FROM jobs "
            "WHERE (status = {} AND (not_before IS NULL OR not_before <= {})) "
            "OR (status = {} AND lease_expires_at <= {}) ORDER BY created_at, id LIMIT 1",
            _QUEUED,
            at,
            _RUNNING,
            at,
        )
        if session.dialect == "postgres":
            # The row lock lasts until this unit of work ends; rows other claimers hold
            # are skipped rather than waited for.
            async with session.write(savepoint=False):
                row = await session.fetchrow(sql("{} FOR UPDATE SKIP LOCKED", claimable))
            return None if row is None else JOBS.from_row(row)
        # SQLite: an idle worker's look must not take the database's one write lock, so
        # read first; then BEGIN IMMEDIATE (every other claimer waits until this unit of
        # work ends) and read again - someone may have claimed it in between.
        if await session.fetchrow(claimable) is None:
            return None
        async with session.write(savepoint=False):
            row = await session.fetchrow(claimable)
        return None if row is None else JOBS.from_row(row)

    async def save(self, job: Job, *, leased_by: str | None = None) -> bool:
        session = await self._session()
        dialect = session.dialect
        assignments = ", ".join(f'"{column}" = {{}}' for column in _MUTABLE)
        values = [JOBS.encode(column, getattr(job, column), dialect) for column in _MUTABLE]
        condition, extra = "", []
        if leased_by is not None:
            condition, extra = " AND status = {} AND lease_owner = {}", [_RUNNING, leased_by]
        statement = sql(
            f"UPDATE jobs SET {assignments} WHERE id = {{}}{condition}",
            *values,
            self._id(job.id, dialect),
            *extra,
        )
        async with session.write(savepoint=False):
            changed = await session.execute(statement)
        if changed:
            return True
        await self.get(job.id)  # JobNotFound when there is no such job at all
        return False

    async def delete_finished_before(self, instant: datetime) -> int:
        session = await self._session()
        async with session.write(savepoint=False):
            return await session.execute(
                sql(
                    "DELETE FROM jobs WHERE status IN ({}, {}) AND finished_at < {}",
                    *_FINISHED,
                    db_instant(instant, session.dialect),
                )
            )

    async def list_recent(self, kind: str, limit: int) -> list[Job]:
        session = await self._session()
        rows = await session.fetch(
            sql(
                f"SELECT {_SELECT} FROM jobs WHERE kind = {{}} "
                "ORDER BY created_at DESC, id DESC LIMIT {}",
                kind,
                max(limit, 0),
            )
        )
        return [JOBS.from_row(row) for row in rows]

    @staticmethod
    def _id(job_id: uuid.UUID, dialect: Dialect) -> object:
        return JOBS.encode("id", job_id, dialect)
