"""Security adapters: argon2id password hashing and HMAC-SHA256 digests of API key secrets."""

from adapters.security.hmac_digest import HmacSecretDigester
from adapters.security.passwords import Argon2PasswordHasher

__all__ = ["Argon2PasswordHasher", "HmacSecretDigester"]
