"""Console sign-in: an API key or a username and password becomes a server-side session.

The browser gets a random token (``cws_...``) in a cookie; the database keeps only its
keyed digest (``Services.digester``, as for API keys). Every request resumes the session
from that digest, re-reads the user (a role change or deactivation applies at once) and
checks both expiries of ``SessionPolicy``. Sign-out revokes the row, so a copied cookie
stops working too. The CSRF token of a session is derived from its token with the same
keyed digest: nothing more to store, and it cannot be computed without the server's key.

Sessions stand in for API keys in ``Principal``: its ``key_id`` is the session's id.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from domain.errors import InvalidInput, UserNotFound
from domain.model import User
from domain.services.audit import current_origin, succeeded, user_resource
from domain.services.auth import AuthenticationFailed, Permission, Principal, authenticate
from domain.services.services import Services
from domain.sessions import ConsoleSession, SessionPolicy, SignInMethod

TOKEN_PREFIX = "cws_"  # noqa: S105 - a public marker, not a secret
TOUCH_EVERY = timedelta(seconds=60)
"""``last_seen_at`` is written at most this often per session (idle expiry is coarse)."""
MAX_TOKEN = 128
_WRONG_PASSWORD = "the username or password is not right"  # noqa: S105 - a message
_ENDED = "the session has ended; sign in again"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session. ``token`` goes to the browser once and is never stored."""

    session: ConsoleSession
    token: str
    principal: Principal

    def __repr__(self) -> str:
        return f"SignedIn(session={self.session.id}, token=***)"


async def sign_in_with_password(
    services: Services, username: str, password: str, policy: SessionPolicy
) -> SignedIn:
    """Raises ``AuthenticationFailed`` for an unknown user, a wrong or missing password, a
    deactivated user or one whose role may not read (service accounts)."""
    async with services.uow() as work:
        try:
            user: User | None = await work.users.get_by_username(username.strip())
        except (UserNotFound, InvalidInput):  # a malformed name names nobody either
            user = None
    encoded = None if user is None else user.password_hash
    # An unknown user costs a hash check too, so timing does not tell who exists.
    matched = await asyncio.to_thread(
        services.passwords.verify, encoded or _decoy_hash(services), password
    )
    if user is None or encoded is None or not matched:
        raise AuthenticationFailed(_WRONG_PASSWORD)
    return await _open(services, user, SignInMethod.PASSWORD, policy)


async def sign_in_with_api_key(
    services: Services, presented: str, policy: SessionPolicy
) -> SignedIn:
    """Raises ``AuthenticationFailed`` as ``auth.authenticate`` does, and for a role that
    may not read."""
    principal = await authenticate(services, presented)
    async with services.uow() as work:
        user = await work.users.get(principal.user_id)
    return await _open(services, user, SignInMethod.API_KEY, policy)


async def resume_session(services: Services, token: str | None, policy: SessionPolicy) -> Principal:
    """The principal of a live session. Raises ``AuthenticationFailed`` when the token is
    missing or unknown, or the session was revoked, expired or its user deactivated."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN:
        raise AuthenticationFailed("sign in to use the console")
    now = services.clock.now()
    async with services.uow() as work:
        session = await work.sessions.find_by_digest(services.digester.digest(token))
        if session is None or not session.is_live(now, policy.idle):
            raise AuthenticationFailed(_ENDED)
        try:
            user = await work.users.get(session.user_id)
        except UserNotFound:
            raise AuthenticationFailed(_ENDED) from None
        if not user.active or not _may_use_console(user):
            raise AuthenticationFailed(_ENDED)
        if now - session.last_seen_at >= TOUCH_EVERY:
            await work.sessions.touch(session.id, now)
            await work.commit()
    return _principal(user, session)


async def sign_out(services: Services, token: str | None) -> None:
    """Revoke the session of ``token`` (nothing happens for an unknown or ended one)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN:
        return
    now = services.clock.now()
    async with services.uow() as work:
        session = await work.sessions.find_by_digest(services.digester.digest(token))
        if session is None or session.revoked_at is not None:
            return
        await work.sessions.revoke(session.id, now)
        await work.audit.append(
            succeeded(
                "session.sign_out",
                user_resource(session.user_id),
                actor=session.user_id,
                at=now,
                details={"session_id": str(session.id)},
            )
        )
        await work.commit()


def csrf_token(services: Services, token: str) -> str:
    """The CSRF token of the session whose token is ``token`` (see the module docstring)."""
    return services.digester.digest(f"csrf:{token}")


def csrf_matches(services: Services, token: str, presented: str | None) -> bool:
    """Whether ``presented`` is the CSRF token of ``token``'s session (constant time)."""
    return presented is not None and hmac.compare_digest(
        csrf_token(services, token).encode(), presented.encode()
    )


async def _open(
    services: Services, user: User, method: SignInMethod, policy: SessionPolicy
) -> SignedIn:
    if not user.active or not _may_use_console(user):
        raise AuthenticationFailed("this account cannot sign in to the console")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = services.clock.now()
    session = ConsoleSession(
        user_id=user.id,
        digest=services.digester.digest(token),
        method=method,
        expires_at=now + policy.absolute,
        created_at=now,
        last_seen_at=now,
        ip=current_origin().ip,
    )
    async with services.uow() as work:
        await work.sessions.add(session)
        await work.sessions.delete_ended_before(now - policy.absolute)
        await work.audit.append(
            succeeded(
                "session.sign_in",
                user_resource(user.id),
                actor=user.id,
                at=now,
                details={"method": method.value, "session_id": str(session.id)},
            )
        )
        await work.commit()
    return SignedIn(session, token, _principal(user, session))


def _may_use_console(user: User) -> bool:
    return Principal(user.id, user.username, user.role, uuid.UUID(int=0)).may(Permission.READ)


def _principal(user: User, session: ConsoleSession) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        key_id=session.id,
        key_expires_at=session.expires_at,
    )


_DECOYS: dict[int, str] = {}


def _decoy_hash(services: Services) -> str:
    """A hash of nothing anyone knows, made once per hasher."""
    key = id(services.passwords)
    if key not in _DECOYS:
        _DECOYS[key] = services.passwords.hash(secrets.token_urlsafe(16))
    return _DECOYS[key]
