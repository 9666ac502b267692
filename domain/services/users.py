"""Users and their API keys: create, list, change, issue, revoke - each change audited in
its own unit of work.

``actor`` is the id of the user asking (``None`` for the operator's CLI).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

from domain.errors import ApiKeyNotFound, Conflict, DuplicateApiKey, InvalidInput
from domain.model import APIKey, Role, User, parse_enum
from domain.services.api_key_format import new_key
from domain.services.audit import api_key_resource, succeeded, user_resource
from domain.services.services import Services
from domain.values import check_text, check_utc
from ports.repositories import UnitOfWork

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
_KEY_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new API key. ``token`` is the whole key: it is shown once and never stored."""

    key: APIKey
    token: str

    def __repr__(self) -> str:
        return f"IssuedKey(key={self.key!r}, token=***)"


async def create_user(
    services: Services,
    username: str,
    role: Role | str,
    email: str | None = None,
    password: str | None = None,
    *,
    actor: uuid.UUID | None,
) -> User:
    """Store a new user (active). The password is optional: API keys need none.

    Raises ``DuplicateUser`` when the username is taken and ``InvalidInput`` for a bad
    username, role, email or password (shorter than 12 characters)."""
    password_hash = None
    if password is not None:
        _check_password(password)
        # argon2 is deliberately slow: keep it off the event loop.
        password_hash = await asyncio.to_thread(services.passwords.hash, password)
    now = services.clock.now()
    user = User(
        username=username,
        role=parse_enum(Role, role, "role"),
        email=email,
        password_hash=password_hash,
        created_at=now,
    )
    async with services.uow() as work:
        await work.users.add(user)
        await work.audit.append(
            succeeded(
                "user.create",
                user_resource(user.id),
                actor=actor,
                at=now,
                details={"username": user.username, "role": user.role.value},
            )
        )
        await work.commit()
    return user


async def list_users(services: Services) -> list[User]:
    """Every user, ordered by username."""
    async with services.uow() as work:
        return await work.users.list()


async def update_user(
    services: Services,
    user_id: uuid.UUID,
    role: Role | str | None = None,
    active: bool | None = None,
    *,
    actor: uuid.UUID | None,
) -> User:
    """Change a user's role and/or active flag; unchanged fields stay as they are.

    Raises ``UserNotFound``, ``InvalidInput`` for an unknown role, and ``Conflict`` when
    the change would leave no active admin (nobody could manage users any more)."""
    async with services.uow() as work:
        user = await work.users.get(user_id)
        before = {"role": user.role.value, "active": user.active}
        if role is not None:
            user.role = parse_enum(Role, role, "role")
        if active is not None:
            if not isinstance(active, bool):
                raise InvalidInput("active must be true or false", field="active")
            user.active = active
        await _keep_an_admin(work, user)
        await work.users.update(user)
        if not user.active:  # a deactivated user's console sessions end with it
            await work.sessions.revoke_user(user.id, services.clock.now())
        after = {"role": user.role.value, "active": user.active}
        await work.audit.append(
            succeeded(
                "user.update",
                user_resource(user.id),
                actor=actor,
                at=services.clock.now(),
                details={"before": before, "after": after},
            )
        )
        await work.commit()
    services.verified_keys.forget_user(user.id)  # other processes: within their cache time
    return user


async def _keep_an_admin(work: UnitOfWork, changed: User) -> None:
    if changed.role is Role.ADMIN and changed.active:
        return
    # As stored, before this change.
    admins = [user for user in await work.users.list() if user.role is Role.ADMIN and user.active]
    if [user.id for user in admins] == [changed.id]:
        raise Conflict("this is the last active admin: make another user admin first")


async def issue_api_key(
    services: Services,
    owner_id: uuid.UUID,
    name: str = "",
    expires_at: datetime | None = None,
    *,
    actor: uuid.UUID | None,
) -> IssuedKey:
    """A new API key for ``owner_id``; the returned ``token`` is the only copy of it.

    Raises ``UserNotFound`` for an unknown owner and ``InvalidInput`` for a name over 200
    characters or an expiry that is not in the future."""
    now = services.clock.now()
    name = check_text(name, "name", max_length=200, allow_empty=True)
    if expires_at is not None:
        expires_at = check_utc(expires_at, "expires_at")
        if expires_at <= now:
            raise InvalidInput("expires_at must be in the future", field="expires_at")
    for attempt in range(1, _KEY_ATTEMPTS + 1):
        parts = new_key()
        key = APIKey(
            user_id=owner_id,
            prefix=parts.prefix,
            digest=services.digester.digest(parts.secret),
            name=name,
            expires_at=expires_at,
            created_at=now,
        )
        try:
            async with services.uow() as work:
                await work.api_keys.add(key)
                await work.audit.append(
                    succeeded(
                        "api_key.issue",
                        api_key_resource(key.id),
                        actor=actor,
                        at=now,
                        details={"prefix": key.prefix, "owner_id": str(owner_id), "name": name},
                    )
                )
                await work.commit()
        except DuplicateApiKey:
            if attempt == _KEY_ATTEMPTS:
                raise
            continue  # 48 random bits of prefix collided: draw again
        return IssuedKey(key, parts.token)
    raise AssertionError("unreachable")


async def list_api_keys(services: Services, owner_id: uuid.UUID | None = None) -> list[APIKey]:
    """Keys (never their secrets), oldest first; only ``owner_id``'s when given."""
    async with services.uow() as work:
        return await work.api_keys.list(owner_id)


async def revoke_api_key(
    services: Services,
    key_id: uuid.UUID,
    *,
    owner_id: uuid.UUID | None = None,
    actor: uuid.UUID | None,
) -> APIKey:
    """Revoke a key at once (idempotent: the first revocation time is kept).

    With ``owner_id``, only that user's key can be revoked: another user's key answers
    ``ApiKeyNotFound``, as if it did not exist."""
    now = services.clock.now()
    async with services.uow() as work:
        key = await work.api_keys.get(key_id)
        if owner_id is not None and key.user_id != owner_id:
            raise ApiKeyNotFound(key_id)
        revoked = await work.api_keys.revoke(key_id, now)
        await work.audit.append(
            succeeded(
                "api_key.revoke",
                api_key_resource(key_id),
                actor=actor,
                at=now,
                details={"prefix": revoked.prefix, "owner_id": str(revoked.user_id)},
            )
        )
        await work.commit()
    services.verified_keys.forget_key(key_id)  # other processes: within their cache time
    return revoked


def _check_password(password: object) -> None:
    if not isinstance(password, str):
        raise InvalidInput("password must be a string", field="password")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            field="password",
        )
