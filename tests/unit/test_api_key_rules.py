"""APIKey: usable until revoked or expired; revocation keeps its first time."""

from __future__ import annotations

from datetime import datetime

import pytest

from domain.errors import InvalidInput
from tests.builders import a_user, an_api_key, at


def test_a_key_without_expiry_is_usable_until_revoked() -> None:
    key = an_api_key(a_user())
    assert key.is_usable(at(10**8))
    key.revoke(at(5))
    assert not key.is_usable(at(4))
    assert not key.is_usable(at(6))


def test_a_key_is_usable_strictly_before_it_expires() -> None:
    key = an_api_key(a_user(), expires_at=at(60))
    assert key.is_usable(at(59.999999))
    assert not key.is_usable(at(60))
    assert not key.is_usable(at(61))


def test_revoking_twice_keeps_the_first_revocation_time() -> None:
    key = an_api_key(a_user())
    key.revoke(at(5))
    key.revoke(at(10))
    assert key.revoked_at == at(5)


def test_revocation_needs_an_aware_instant() -> None:
    key = an_api_key(a_user())
    with pytest.raises(InvalidInput, match="revoked_at"):
        key.revoke(datetime(2024, 1, 1))


@pytest.mark.parametrize("field", ["expires_at", "revoked_at", "last_used_at"])
def test_key_instants_must_be_aware(field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        an_api_key(a_user(), **{field: datetime(2024, 1, 1)})
    assert refused.value.field == field


def test_a_key_needs_a_prefix_and_a_digest() -> None:
    with pytest.raises(InvalidInput, match="prefix"):
        an_api_key(a_user(), prefix="")
    with pytest.raises(InvalidInput, match="digest"):
        an_api_key(a_user(), digest=" ")
