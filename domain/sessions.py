"""Console sessions: a signed-in analyst's browser, known to the server.

The browser holds a random token; the server keeps only a keyed digest of it (as for API
keys), so a stolen database cannot be replayed, and a session ends for good when it is
revoked (sign-out, the user deactivated) or expires: after ``idle`` without a request, or
at ``expires_at`` however busy it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import InvalidInput
from domain.model import new_id, parse_enum
from domain.values import check_text, check_utc, utcnow


class SignInMethod(StrEnum):
    PASSWORD = "password"  # noqa: S105 - a method name
    API_KEY = "api-key"


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session lives: ``idle`` without use, ``absolute`` at most."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)

    def __post_init__(self) -> None:
        if self.idle <= timedelta(0) or self.absolute <= timedelta(0):
            raise InvalidInput("session lifetimes must be positive", field="idle")


@dataclass(slots=True)
class ConsoleSession:
    user_id: uuid.UUID
    digest: str
    method: SignInMethod
    expires_at: datetime
    created_at: datetime = field(default_factory=utcnow)
    last_seen_at: datetime = field(default_factory=utcnow)
    revoked_at: datetime | None = None
    ip: str | None = None
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.digest = check_text(self.digest, "digest", max_length=256)
        self.method = parse_enum(SignInMethod, self.method, "method")
        self.expires_at = check_utc(self.expires_at, "expires_at")
        self.created_at = check_utc(self.created_at, "created_at")
        self.last_seen_at = check_utc(self.last_seen_at, "last_seen_at")
        if self.revoked_at is not None:
            self.revoked_at = check_utc(self.revoked_at, "revoked_at")
        if self.ip is not None:
            self.ip = check_text(self.ip, "ip", max_length=64)

    def is_live(self, now: datetime, idle: timedelta) -> bool:
        """Not revoked, not past its absolute expiry, used within ``idle``."""
        return self.revoked_at is None and now < self.expires_at and now < self.last_seen_at + idle
