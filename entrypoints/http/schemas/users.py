"""User and API key bodies. A key's secret appears in exactly one body: ``IssuedApiKeyOut``,
the answer to creating it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from domain.model import APIKey, Role, User
from domain.services.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, IssuedKey
from entrypoints.http.params import NAME_PATTERN


class UserIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)]
    role: Role
    email: Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    password: (
        Annotated[str, msgspec.Meta(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
        | None
    ) = None
    """Optional: API keys need no password."""


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    role: Role | None = None
    active: bool | None = None


class UserOut(msgspec.Struct):
    id: uuid.UUID
    username: str
    email: str | None
    role: Role
    active: bool
    created_at: datetime


class UserList(msgspec.Struct):
    users: list[UserOut]


class ApiKeyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    user_id: uuid.UUID | None = None
    """Whose key (default: the caller's own). Another user's needs the admin role."""
    expires_at: datetime | None = None
    """When the key stops working (default: never); must be in the future."""


class ApiKeyOut(msgspec.Struct):
    id: uuid.UUID
    user_id: uuid.UUID
    prefix: str
    """The key's public start, ``cw_<12 hex digits>``: enough to recognise it."""
    name: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    """Updated every few seconds, not on every request."""
    created_at: datetime


class IssuedApiKeyOut(ApiKeyOut):
    key: str
    """The whole key, for the ``X-API-Key`` header. Shown this once: it is not stored."""


class ApiKeyList(msgspec.Struct):
    api_keys: list[ApiKeyOut]


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        email=user.email,
        role=user.role,
        active=user.active,
        created_at=user.created_at,
    )


def api_key_out(key: APIKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        user_id=key.user_id,
        prefix=key.prefix,
        name=key.name,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
        created_at=key.created_at,
    )


def issued_key_out(issued: IssuedKey) -> IssuedApiKeyOut:
    key = issued.key
    return IssuedApiKeyOut(
        id=key.id,
        user_id=key.user_id,
        prefix=key.prefix,
        name=key.name,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
        created_at=key.created_at,
        key=issued.token,
    )
