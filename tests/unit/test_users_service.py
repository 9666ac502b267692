"""User and API key use cases on the fakes: hashing, the last admin, keys, audit rows."""

from __future__ import annotations

import uuid

import pytest

from adapters.memory import InMemoryDatabase
from adapters.security import Argon2PasswordHasher, HmacSecretDigester
from domain.errors import ApiKeyNotFound, Conflict, DuplicateUser, InvalidInput
from domain.model import Outcome, Role
from domain.pagination import PageRequest
from domain.services import Services
from domain.services.api_key_format import split_key
from domain.services.audit import Origin, origin
from domain.services.users import (
    create_user,
    issue_api_key,
    list_api_keys,
    list_users,
    revoke_api_key,
    update_user,
)
from entrypoints.bootstrap import services_over
from ports import UnitOfWorkFactory
from ports.repositories import AuditFilter
from tests.clocks import ManualClock

DIGESTER = HmacSecretDigester("s" * 32)
PASSWORDS = Argon2PasswordHasher.cheap()


def on(uow: UnitOfWorkFactory, clock: ManualClock | None = None) -> Services:
    return services_over(uow, clock=clock or ManualClock(), digester=DIGESTER, passwords=PASSWORDS)


@pytest.fixture
def uow() -> UnitOfWorkFactory:
    return InMemoryDatabase().uow


async def test_a_password_is_stored_as_a_verifiable_argon2_hash(uow: UnitOfWorkFactory) -> None:
    user = await create_user(
        on(uow, ManualClock()), username="Ann", role="viewer", password="x" * 12, actor=None
    )
    assert user.username == "ann"
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORDS.verify(user.password_hash, "x" * 12)
    assert not PASSWORDS.verify(user.password_hash, "y" * 12)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"password": "short"}, "password"),
        ({"role": "owner"}, "role"),
        ({"username": "has space"}, "username"),
        ({"email": "nobody"}, "email"),
    ],
)
async def test_bad_user_fields_are_refused_naming_the_field(
    uow: UnitOfWorkFactory, fields: dict[str, str], field: str
) -> None:
    arguments: dict[str, str] = {"username": "ann", "role": "viewer", **fields}
    with pytest.raises(InvalidInput) as refused:
        await create_user(on(uow, ManualClock()), actor=None, **arguments)
    assert refused.value.field == field


async def test_usernames_are_unique(uow: UnitOfWorkFactory) -> None:
    clock = ManualClock()
    await create_user(on(uow, clock), username="ann", role="viewer", actor=None)
    with pytest.raises(DuplicateUser):
        await create_user(on(uow, clock), username="ANN", role="admin", actor=None)
    assert [u.username for u in await list_users(on(uow))] == ["ann"]


async def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(
    uow: UnitOfWorkFactory,
) -> None:
    clock = ManualClock()
    first = await create_user(on(uow, clock), username="a1", role="admin", actor=None)
    with pytest.raises(Conflict):
        await update_user(on(uow, clock), first.id, role=Role.VIEWER, actor=None)
    with pytest.raises(Conflict):
        await update_user(on(uow, clock), first.id, active=False, actor=None)
    second = await create_user(on(uow, clock), username="a2", role="admin", actor=None)
    demoted = await update_user(on(uow, clock), first.id, role=Role.VIEWER, actor=second.id)
    assert demoted.role is Role.VIEWER
    with pytest.raises(Conflict):
        await update_user(on(uow, clock), second.id, active=False, actor=None)


async def test_an_issued_key_has_the_public_prefix_and_only_its_digest_is_stored(
    uow: UnitOfWorkFactory,
) -> None:
    clock = ManualClock()
    user = await create_user(on(uow, clock), username="ann", role="viewer", actor=None)
    issued = await issue_api_key(on(uow, clock), owner_id=user.id, name="ci", actor=None)
    parts = split_key(issued.token)
    assert parts is not None
    assert parts.prefix == issued.key.prefix
    (stored,) = await list_api_keys(on(uow), user.id)
    assert stored.digest == DIGESTER.digest(parts.secret)
    assert parts.secret not in repr(issued)
    assert parts.secret not in repr(stored)


async def test_a_key_for_an_unknown_user_or_already_expired_is_refused(
    uow: UnitOfWorkFactory,
) -> None:
    clock = ManualClock()
    from domain.errors import UserNotFound

    with pytest.raises(UserNotFound):
        await issue_api_key(on(uow, clock), owner_id=uuid.uuid4(), actor=None)
    user = await create_user(on(uow, clock), username="ann", role="viewer", actor=None)
    with pytest.raises(InvalidInput) as refused:
        await issue_api_key(on(uow, clock), owner_id=user.id, expires_at=clock.current, actor=None)
    assert refused.value.field == "expires_at"


async def test_an_owner_revokes_only_their_own_keys(uow: UnitOfWorkFactory) -> None:
    clock = ManualClock()
    ann = await create_user(on(uow, clock), username="ann", role="viewer", actor=None)
    bob = await create_user(on(uow, clock), username="bob", role="viewer", actor=None)
    key = (await issue_api_key(on(uow, clock), owner_id=ann.id, actor=None)).key
    with pytest.raises(ApiKeyNotFound):
        await revoke_api_key(on(uow, clock), key.id, owner_id=bob.id, actor=bob.id)
    revoked = await revoke_api_key(on(uow, clock), key.id, owner_id=ann.id, actor=ann.id)
    assert revoked.revoked_at is not None
    again = await revoke_api_key(on(uow, clock), key.id, actor=None)
    assert again.revoked_at == revoked.revoked_at


async def test_each_change_is_audited_with_where_it_came_from(uow: UnitOfWorkFactory) -> None:
    clock = ManualClock()
    with origin(Origin(ip="198.51.100.4", request_id="req-1", via="api")):
        user = await create_user(on(uow, clock), username="ann", role="viewer", actor=None)
    issued = await issue_api_key(on(uow, clock), owner_id=user.id, actor=user.id)
    async with uow() as work:
        rows = (await work.audit.query(AuditFilter(), PageRequest())).items
    issue, create = rows
    assert (create.action, create.outcome, create.ip) == (
        "user.create",
        Outcome.SUCCESS,
        "198.51.100.4",
    )
    assert create.details["request_id"] == "req-1"
    assert (issue.action, issue.user_id, issue.ip, issue.details["via"]) == (
        "api_key.issue",
        user.id,
        None,
        "library",
    )
    parts = split_key(issued.token)
    assert parts is not None
    assert parts.secret not in str(issue.details)
