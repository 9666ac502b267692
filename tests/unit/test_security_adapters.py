"""The argon2id password hasher, the HMAC digester and the API key format."""

from __future__ import annotations

import pytest

from adapters.security import Argon2PasswordHasher, HmacSecretDigester
from domain.services.api_key_format import new_key, split_key


def test_a_digest_depends_on_the_server_key_and_matches_only_its_secret() -> None:
    one, other = HmacSecretDigester("a" * 32), HmacSecretDigester("b" * 32)
    digest = one.digest("secret-value")
    assert len(digest) == 64
    assert digest != other.digest("secret-value")
    assert one.matches("secret-value", digest)
    assert not one.matches("secret-valuf", digest)
    assert not other.matches("secret-value", digest)
    assert "a" * 32 not in repr(one)


def test_a_short_server_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        HmacSecretDigester("short")


def test_passwords_verify_and_garbage_hashes_do_not_raise() -> None:
    hasher = Argon2PasswordHasher.cheap()
    encoded = hasher.hash("correct horse")
    assert hasher.verify(encoded, "correct horse")
    assert not hasher.verify(encoded, "wrong horse")
    assert not hasher.verify("not-a-hash", "correct horse")


def test_new_keys_split_back_into_their_parts_and_hide_the_secret() -> None:
    parts = new_key()
    assert parts.prefix.startswith("cw_")
    assert len(parts.prefix) == 15
    assert split_key(parts.token) == parts
    assert split_key(f"  {parts.token}\n") == parts
    assert parts.secret not in repr(parts)
    assert new_key().prefix != parts.prefix


@pytest.mark.parametrize(
    "token",
    ["", "cw_", "cw_0123456789ab", "cw_0123456789ab_", "xx_0123456789ab_" + "a" * 43,
     "cw_0123456789AB_" + "a" * 43, "cw_0123456789ab_" + "a" * 10, "cw_0123456789ab_" + "é" * 43],
)  # fmt: skip
def test_malformed_keys_do_not_split(token: str) -> None:
    assert split_key(token) is None
