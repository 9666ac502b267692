"""Comments analysts leave on an anomaly: the discussion beside its verdict."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from domain.model import new_id
from domain.values import check_text, check_utc, utcnow

MAX_COMMENT = 4000


@dataclass(slots=True)
class Comment:
    """One message in an anomaly's thread. Append-only: a comment is never edited."""

    anomaly_id: uuid.UUID
    author_id: uuid.UUID
    body: str
    created_at: datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.body = check_text(self.body, "body", max_length=MAX_COMMENT).strip()
        self.created_at = check_utc(self.created_at, "created_at")
