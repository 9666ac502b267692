"""An anomaly's comment thread: analysts discussing a case before (and after) a verdict."""

from __future__ import annotations

import uuid

from domain.comments import Comment
from domain.services.audit import anomaly_resource, succeeded
from domain.services.services import Services

THREAD_LIMIT = 200
"""Newest comments shown with an anomaly; a thread longer than this shows its tail."""


async def add_comment(
    services: Services, anomaly_id: uuid.UUID, body: str, *, actor: uuid.UUID
) -> Comment:
    """Append a comment and its audit row in one unit of work. Raises ``AnomalyNotFound``
    and ``InvalidInput`` (field ``body``: empty, or over 4000 characters)."""
    now = services.clock.now()
    comment = Comment(anomaly_id=anomaly_id, author_id=actor, body=body, created_at=now)
    async with services.uow() as work:
        await work.anomalies.get(anomaly_id)
        await work.comments.add(comment)
        await work.audit.append(
            succeeded(
                "anomaly.comment",
                anomaly_resource(anomaly_id),
                actor=actor,
                at=now,
                details={"comment_id": str(comment.id), "length": len(comment.body)},
            )
        )
        await work.commit()
    return comment


async def list_comments(
    services: Services, anomaly_id: uuid.UUID, *, limit: int = THREAD_LIMIT
) -> list[Comment]:
    """The thread, oldest first (its newest ``limit`` comments)."""
    async with services.uow() as work:
        return await work.comments.list_for(anomaly_id, limit)
