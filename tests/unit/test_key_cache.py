"""Verified API keys cached in the process: answered without the database for their time,
expiry checked on every use, changes made here forgotten at once and changes made by
another process (a second ``Services`` over the same store) seen within the cache time;
failures never cached; the size bounded, least recently used first out."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest

from adapters.memory import InMemoryDatabase
from adapters.security import HmacSecretDigester
from domain.model import Role
from domain.services.auth import AuthenticationFailed, Principal, authenticate
from domain.services.key_cache import VerifiedKeys
from domain.services.users import create_user, issue_api_key, revoke_api_key, update_user
from entrypoints.bootstrap import services_over
from tests.clocks import ManualClock
from tests.services import CHEAP_PASSWORDS

DIGESTER = HmacSecretDigester("k" * 32)
TTL_S = 5.0
WRONG_SECRET = "x" * 43


class Processes:
    """Two processes over one store: ``here`` caches keys, ``elsewhere`` makes changes."""

    def __init__(self, ttl_s: float = TTL_S, max_entries: int = 100) -> None:
        store = InMemoryDatabase()
        self.clock = ManualClock()
        self.here = dataclasses.replace(
            services_over(
                store.uow, clock=self.clock, digester=DIGESTER, passwords=CHEAP_PASSWORDS
            ),
            verified_keys=VerifiedKeys(ttl_s, max_entries),
        )
        self.elsewhere = services_over(
            store.uow, clock=self.clock, digester=DIGESTER, passwords=CHEAP_PASSWORDS
        )

    @property
    def cache(self) -> VerifiedKeys:
        return self.here.verified_keys

    async def key(
        self, role: Role = Role.ANALYST, name: str = "u", **options: object
    ) -> tuple[uuid.UUID, uuid.UUID, str]:
        """(user id, key id, token) of a new user's new key."""
        user = await create_user(self.elsewhere, username=name, role=role, actor=None)
        issued = await issue_api_key(self.elsewhere, owner_id=user.id, actor=None, **options)  # type: ignore[arg-type]
        return user.id, issued.key.id, issued.token

    def later(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))


async def test_a_verified_key_is_answered_from_the_cache_until_its_time_is_up() -> None:
    at = Processes()
    _, key_id, token = await at.key()
    first = await authenticate(at.here, token)
    await revoke_api_key(at.elsewhere, key_id, actor=None)

    # The revocation is in the store, yet the cache still answers: no database asked.
    assert await authenticate(at.here, token) == first
    at.later(TTL_S - 1)
    assert await authenticate(at.here, token) == first
    at.later(1)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        await authenticate(at.here, token)


@pytest.mark.parametrize(
    ("change", "message"),
    [({"active": False}, "deactivated"), ({"role": Role.VIEWER}, None)],
)
async def test_a_user_changed_elsewhere_is_seen_within_the_cache_time(
    change: dict[str, object], message: str | None
) -> None:
    at = Processes()
    user_id, _, token = await at.key(Role.ANALYST)
    await authenticate(at.here, token)
    await update_user(at.elsewhere, user_id, actor=None, **change)  # type: ignore[arg-type]
    assert (await authenticate(at.here, token)).role is Role.ANALYST
    at.later(TTL_S)
    if message is None:
        assert (await authenticate(at.here, token)).role is Role.VIEWER
    else:
        with pytest.raises(AuthenticationFailed, match=message):
            await authenticate(at.here, token)


async def test_a_cached_key_stops_at_its_expiry() -> None:
    at = Processes(ttl_s=60)
    expires_at = at.clock.current + timedelta(seconds=2)
    _, _, token = await at.key(expires_at=expires_at)
    principal = await authenticate(at.here, token)
    assert principal.key_expires_at == expires_at
    at.clock.current = expires_at - timedelta(milliseconds=10)
    await authenticate(at.here, token)
    at.clock.current = expires_at
    with pytest.raises(AuthenticationFailed, match="expired"):
        await authenticate(at.here, token)
    assert len(at.cache) == 0


async def test_revoking_in_this_process_refuses_the_key_at_once() -> None:
    at = Processes()
    _, key_id, token = await at.key()
    await authenticate(at.here, token)
    await revoke_api_key(at.here, key_id, actor=None)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        await authenticate(at.here, token)


async def test_changing_a_user_in_this_process_takes_effect_at_once() -> None:
    at = Processes()
    user_id, _, token = await at.key(Role.ANALYST)
    _, _, other_token = await at.key(Role.VIEWER, name="other")
    await authenticate(at.here, token)
    await authenticate(at.here, other_token)
    await update_user(at.here, user_id, actor=None, role=Role.VIEWER)
    assert (await authenticate(at.here, token)).role is Role.VIEWER
    await update_user(at.here, user_id, actor=None, active=False)
    with pytest.raises(AuthenticationFailed, match="deactivated"):
        await authenticate(at.here, token)
    assert len(at.cache) == 1  # the other user's key stays cached


async def test_failed_authentications_are_never_cached() -> None:
    at = Processes()
    _, _, token = await at.key()
    prefix = token.rsplit("_", 1)[0]
    for presented in [f"cw_0123456789ab_{WRONG_SECRET}", f"{prefix}_{WRONG_SECRET}"]:
        for _ in range(3):
            with pytest.raises(AuthenticationFailed):
                await authenticate(at.here, presented)
    assert len(at.cache) == 0


async def test_a_wrong_secret_for_a_cached_key_is_refused() -> None:
    at = Processes()
    _, _, token = await at.key()
    await authenticate(at.here, token)
    prefix = token.rsplit("_", 1)[0]
    with pytest.raises(AuthenticationFailed, match="not valid"):
        await authenticate(at.here, f"{prefix}_{WRONG_SECRET}")
    assert len(at.cache) == 1


async def test_a_cached_secret_under_another_prefix_is_verified_in_full() -> None:
    at = Processes()
    _, _, token = await at.key()
    await authenticate(at.here, token)
    secret = token.rsplit("_", 1)[1]
    with pytest.raises(AuthenticationFailed, match="not valid"):
        await authenticate(at.here, f"cw_0123456789ab_{secret}")


async def test_the_cache_keeps_the_most_recently_used_keys_up_to_its_size() -> None:
    at = Processes(max_entries=2)
    keys = [await at.key(name=f"u{n}") for n in range(3)]
    a, b, c = (token for _, _, token in keys)
    await authenticate(at.here, a)
    await authenticate(at.here, b)
    await authenticate(at.here, a)  # b is now the least recently used
    await authenticate(at.here, c)
    assert len(at.cache) == 2
    for _, key_id, _ in keys:
        await revoke_api_key(at.elsewhere, key_id, actor=None)
    await authenticate(at.here, a)
    await authenticate(at.here, c)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        await authenticate(at.here, b)


async def test_a_cache_time_of_zero_keeps_nothing() -> None:
    at = Processes(ttl_s=0)
    _, key_id, token = await at.key()
    await authenticate(at.here, token)
    assert len(at.cache) == 0
    await revoke_api_key(at.elsewhere, key_id, actor=None)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        await authenticate(at.here, token)


def test_an_answer_read_before_a_forget_is_not_kept() -> None:
    cache = VerifiedKeys(TTL_S)
    clock = ManualClock()
    principal = Principal(uuid.uuid4(), "u", Role.ADMIN, uuid.uuid4())
    generation = cache.generation
    cache.forget_key(principal.key_id)  # a revocation commits while the lookup runs
    cache.remember("d", "cw_0123456789ab", principal, clock.now(), generation=generation)
    assert cache.lookup("d", "cw_0123456789ab", clock.now()) is None
    cache.remember("d", "cw_0123456789ab", principal, clock.now(), generation=cache.generation)
    assert cache.lookup("d", "cw_0123456789ab", clock.now()) == principal


@pytest.mark.parametrize(("ttl_s", "max_entries"), [(-1.0, 10), (5.0, 0)])
def test_a_negative_time_or_an_empty_size_is_refused(ttl_s: float, max_entries: int) -> None:
    with pytest.raises(ValueError, match=r"ttl_s|max_entries"):
        VerifiedKeys(ttl_s, max_entries)
