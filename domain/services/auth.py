"""Who is calling (``authenticate``) and what they may do (``authorise``).

Roles and what they grant:

| role    | grants |
|---------|--------|
| admin   | everything |
| analyst | read, review anomalies, label transactions, manage their own API keys |
| viewer  | read, manage their own API keys |
| service | predict only |
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.errors import Forbidden, Unauthorized, UserNotFound
from domain.model import Role
from domain.services.api_key_format import KeyParts, split_key
from domain.services.services import Services


class Permission(StrEnum):
    READ = "read"
    """Transactions, anomalies, predictions, models and system metrics."""
    REVIEW = "review"
    LABEL = "label"
    PREDICT = "predict"
    MANAGE_MODELS = "manage-models"
    MANAGE_USERS = "manage-users"
    """Users and every user's API keys."""
    OWN_KEYS = "own-keys"
    """Issue, list and revoke one's own API keys."""
    READ_AUDIT = "read-audit"
    READ_BACKUPS = "read-backups"
    """The backup status: the newest backup, its age and verification."""


GRANTS: Mapping[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.ANALYST: frozenset(
        {Permission.READ, Permission.REVIEW, Permission.LABEL, Permission.OWN_KEYS}
    ),
    Role.VIEWER: frozenset({Permission.READ, Permission.OWN_KEYS}),
    Role.SERVICE: frozenset({Permission.PREDICT}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the user behind the API key (active when authenticated),
    and the key itself."""

    user_id: uuid.UUID
    username: str
    role: Role
    key_id: uuid.UUID
    key_expires_at: datetime | None = None
    """When the key stops working (``None``: never); a cached principal is checked
    against it on every use."""

    def may(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]


class AuthenticationFailed(Unauthorized):
    """The presented API key does not authenticate anyone. ``key_prefix`` is the key's
    public prefix when the key was well-formed (safe to log and audit), else ``None``."""

    def __init__(self, message: str, *, key_prefix: str | None = None) -> None:
        super().__init__(message)
        self.key_prefix = key_prefix


class PermissionDenied(Forbidden):
    def __init__(self, principal: Principal, permission: Permission) -> None:
        super().__init__(
            f"the {principal.role.value} role does not allow this ({permission.value} is needed)"
        )
        self.principal = principal
        self.permission = permission


_INVALID = "the API key is not valid"


async def authenticate(services: Services, presented: str | None) -> Principal:
    """The principal behind ``presented`` (the ``X-API-Key`` value).

    Raises ``AuthenticationFailed`` when it is missing, malformed, unknown, wrong, revoked
    or expired, or when its user is deactivated. Messages never echo the key. A key
    verified within ``services.verified_keys``' time is answered from there, without the
    database (``domain.services.key_cache``); its expiry is still checked on every use.
    """
    if presented is None or not presented.strip():
        raise AuthenticationFailed("an API key is required in the X-API-Key header")
    parts = split_key(presented)
    if parts is None:
        raise AuthenticationFailed(_INVALID)
    cache = services.verified_keys
    if not cache.enabled:
        return await _verify(services, parts)
    digest = services.digester.digest(parts.secret)
    now = services.clock.now()
    cached = cache.lookup(digest, parts.prefix, now)
    if cached is not None:
        return cached
    generation = cache.generation
    principal = await _verify(services, parts)
    # Fresh from before the read: a change committed after it is seen within ttl_s of it.
    cache.remember(digest, parts.prefix, principal, now, generation=generation)
    return principal


async def _verify(services: Services, parts: KeyParts) -> Principal:
    """Verify the key against the database (the cache's miss path)."""
    async with services.uow() as work:
        key = await work.api_keys.find_by_prefix(parts.prefix)
        if key is None or not services.digester.matches(parts.secret, key.digest):
            raise AuthenticationFailed(_INVALID, key_prefix=parts.prefix)
        if key.revoked_at is not None:
            raise AuthenticationFailed("the API key has been revoked", key_prefix=key.prefix)
        if not key.is_usable(services.clock.now()):
            raise AuthenticationFailed("the API key has expired", key_prefix=key.prefix)
        try:
            user = await work.users.get(key.user_id)
        except UserNotFound:
            raise AuthenticationFailed(_INVALID, key_prefix=key.prefix) from None
    if not user.active:
        raise AuthenticationFailed("the user of this API key is deactivated", key_prefix=key.prefix)
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        key_id=key.id,
        key_expires_at=key.expires_at,
    )


def authorise(principal: Principal, permission: Permission) -> None:
    """Raises ``PermissionDenied`` unless the principal's role grants ``permission``."""
    if not principal.may(permission):
        raise PermissionDenied(principal, permission)


def keys_owner(principal: Principal, requested: uuid.UUID | None) -> uuid.UUID | None:
    """Whose API keys ``principal`` is acting on: their own unless they ask for another
    user's (or, with ``None``, everyone's), which needs ``MANAGE_USERS``.

    Returns the owner to act on (``None`` = every user, for user managers only)."""
    if principal.may(Permission.MANAGE_USERS):
        return requested
    if principal.may(Permission.OWN_KEYS) and requested in (None, principal.user_id):
        return principal.user_id
    raise PermissionDenied(principal, Permission.MANAGE_USERS)
