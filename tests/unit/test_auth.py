"""Authentication by API key and the role -> permission table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.memory import InMemoryDatabase
from adapters.security import Argon2PasswordHasher, HmacSecretDigester
from domain.errors import Forbidden
from domain.model import Role
from domain.services import Services
from domain.services.api_key_format import split_key
from domain.services.auth import (
    GRANTS,
    AuthenticationFailed,
    Permission,
    Principal,
    authenticate,
    authorise,
    keys_owner,
)
from domain.services.users import create_user, issue_api_key, revoke_api_key, update_user
from entrypoints.bootstrap import services_over
from ports import SecretDigester, UnitOfWorkFactory
from tests.clocks import ManualClock

DIGESTER = HmacSecretDigester("k" * 32)
PASSWORDS = Argon2PasswordHasher.cheap()


def on(uow: UnitOfWorkFactory, clock: ManualClock, digester: SecretDigester = DIGESTER) -> Services:
    return services_over(uow, clock=clock, digester=digester, passwords=PASSWORDS)


@pytest.fixture
def uow() -> UnitOfWorkFactory:
    return InMemoryDatabase().uow


async def keyed_user(
    uow: UnitOfWorkFactory, clock: ManualClock, role: Role = Role.ANALYST, **key: object
) -> tuple[Principal, str]:
    services = on(uow, clock)
    user = await create_user(services, username=f"u-{role.value}", role=role, actor=None)
    issued = await issue_api_key(services, owner_id=user.id, actor=None, **key)  # type: ignore[arg-type]
    principal = await authenticate(services, issued.token)
    return principal, issued.token


async def test_a_valid_key_authenticates_its_user_with_their_role(uow: UnitOfWorkFactory) -> None:
    clock = ManualClock()
    principal, _ = await keyed_user(uow, clock, Role.VIEWER)
    assert (principal.username, principal.role) == ("u-viewer", Role.VIEWER)


@pytest.mark.parametrize(
    "presented", [None, "", "   ", "cw_short", "Bearer x", "cw_" + "g" * 12 + "_" + "a" * 43]
)
async def test_missing_or_malformed_keys_fail_without_a_prefix(
    uow: UnitOfWorkFactory, presented: str | None
) -> None:
    with pytest.raises(AuthenticationFailed) as failed:
        await authenticate(on(uow, ManualClock()), presented)
    assert failed.value.key_prefix is None


async def test_a_wrong_secret_or_unknown_prefix_fails_naming_only_the_prefix(
    uow: UnitOfWorkFactory,
) -> None:
    clock = ManualClock()
    _, token = await keyed_user(uow, clock)
    parts = split_key(token)
    assert parts is not None
    for prefix, secret in ((parts.prefix, parts.secret[::-1]), ("cw_000000000000", parts.secret)):
        with pytest.raises(AuthenticationFailed) as failed:
            await authenticate(on(uow, clock), f"{prefix}_{secret}")
        assert secret not in failed.value.message
        assert failed.value.key_prefix == prefix


async def test_a_key_digested_under_another_server_key_fails(uow: UnitOfWorkFactory) -> None:
    clock = ManualClock()
    _, token = await keyed_user(uow, clock)
    with pytest.raises(AuthenticationFailed):
        await authenticate(on(uow, clock, HmacSecretDigester("z" * 32)), token)


async def test_revoked_expired_and_deactivated_keys_fail(uow: UnitOfWorkFactory) -> None:
    clock = ManualClock()
    services = on(uow, clock)
    principal, token = await keyed_user(uow, clock, expires_at=clock.current + timedelta(days=1))
    await revoke_api_key(services, principal.key_id, actor=None)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        await authenticate(services, token)

    user = await create_user(services, username="later", role=Role.VIEWER, actor=None)
    issued = await issue_api_key(
        services,
        owner_id=user.id,
        expires_at=clock.current + timedelta(hours=1),
        actor=None,
    )
    clock.advance(timedelta(hours=2))
    with pytest.raises(AuthenticationFailed, match="expired"):
        await authenticate(services, issued.token)

    other = await create_user(services, username="admin", role=Role.ADMIN, actor=None)
    assert other.active
    fresh = await issue_api_key(services, owner_id=user.id, actor=None)
    await update_user(services, user.id, active=False, actor=None)
    with pytest.raises(AuthenticationFailed, match="deactivated"):
        await authenticate(services, fresh.token)


def principal(role: Role) -> Principal:
    import uuid

    return Principal(uuid.uuid4(), role.value, role, uuid.uuid4())


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.ADMIN, set(Permission)),
        (Role.ANALYST, {Permission.READ, Permission.REVIEW, Permission.LABEL, Permission.OWN_KEYS}),
        (Role.VIEWER, {Permission.READ, Permission.OWN_KEYS}),
        (Role.SERVICE, {Permission.PREDICT}),
    ],
)
def test_each_role_is_granted_exactly_its_permissions(role: Role, allowed: set[Permission]) -> None:
    assert GRANTS[role] == allowed
    for permission in Permission:
        if permission in allowed:
            authorise(principal(role), permission)
        else:
            with pytest.raises(Forbidden):
                authorise(principal(role), permission)


def test_key_owners_default_to_oneself_and_others_need_user_management() -> None:
    analyst, admin = principal(Role.ANALYST), principal(Role.ADMIN)
    assert keys_owner(analyst, None) == analyst.user_id
    assert keys_owner(analyst, analyst.user_id) == analyst.user_id
    with pytest.raises(Forbidden):
        keys_owner(analyst, admin.user_id)
    with pytest.raises(Forbidden):
        keys_owner(principal(Role.SERVICE), None)
    assert keys_owner(admin, None) is None
    assert keys_owner(admin, analyst.user_id) == analyst.user_id
