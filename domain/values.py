"""Value checks shared by the entities: hashes, addresses, exact integers, UTC instants.

Each ``normalize_*``/``check_*`` function returns the canonical value or raises
``InvalidInput`` naming the field; every one is idempotent (f(f(x)) == f(x)).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from domain.errors import InvalidInput

UINT256_MAX = 2**256 - 1
INT64_MAX = 2**63 - 1

_HASH = re.compile(r"0x[0-9a-f]{64}")
_ADDRESS = re.compile(r"0x[0-9a-f]{40}")
_CHAIN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def lookup_key(value: str) -> str:
    """The stored form of a case-insensitive key (hash, address, chain, model or user name):
    trimmed and lowercased, without validation. Lookups fold what they are given with it, so
    any casing or padding finds the stored row; writers validate with ``normalize_*``, which
    fold the same way."""
    return value.strip().lower()


def _hexstring(value: object, field: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string holding {what}", field=field)
    text = lookup_key(value)
    if not pattern.fullmatch(text):
        raise InvalidInput(f"{field} must be {what}, got {value!r}", field=field)
    return text


def normalize_hash(value: object, field: str = "hash") -> str:
    """A transaction hash: ``0x`` + 64 hex digits, lowercased."""
    return _hexstring(value, field, _HASH, "0x followed by 64 hex digits")


def normalize_address(value: object, field: str = "address") -> str:
    """An account address: ``0x`` + 40 hex digits, lowercased (checksum case is dropped)."""
    return _hexstring(value, field, _ADDRESS, "0x followed by 40 hex digits")


def normalize_chain(value: object, field: str = "chain") -> str:
    if not isinstance(value, str) or not _CHAIN.fullmatch(lookup_key(value)):
        raise InvalidInput(
            f"{field} must be a short lowercase chain name, got {value!r}", field=field
        )
    return lookup_key(value)


def normalize_name(value: object, field: str = "name") -> str:
    """A model name or username: 1-64 of ``[a-z0-9_.-]``, lowercased."""
    if not isinstance(value, str) or not _NAME.fullmatch(lookup_key(value)):
        raise InvalidInput(
            f"{field} must be 1-64 characters of a-z, 0-9, '_', '.', '-', got {value!r}",
            field=field,
        )
    return lookup_key(value)


def check_sha256(value: object, field: str = "sha256") -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value.lower()):
        raise InvalidInput(f"{field} must be 64 hex digits", field=field)
    return value.lower()


def check_uint256(value: object, field: str) -> int:
    """An exact non-negative integer that fits 256 bits (wei amounts, gas prices)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer, got {type(value).__name__}", field=field)
    if value < 0 or value > UINT256_MAX:
        raise InvalidInput(f"{field} must be between 0 and 2**256-1", field=field)
    return value


def check_uint64(value: object, field: str) -> int:
    """A non-negative integer that fits a signed 64-bit column (gas, block number, nonce)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer, got {type(value).__name__}", field=field)
    if value < 0 or value > INT64_MAX:
        raise InvalidInput(f"{field} must be between 0 and 2**63-1", field=field)
    return value


def check_utc(value: object, field: str) -> datetime:
    """A timezone-aware instant, converted to UTC. Naive datetimes are refused, not guessed."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{field} must be a datetime", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} must carry a timezone (UTC expected)", field=field)
    return value.astimezone(UTC)


def check_text(value: object, field: str, *, max_length: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    if not allow_empty and not value.strip():
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters", field=field)
    if "\x00" in value:  # PostgreSQL text cannot hold it; no client means it
        raise InvalidInput(f"{field} must not contain NUL characters", field=field)
    return value


def check_finite(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{field} must be a number", field=field)
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidInput(f"{field} must be a finite number", field=field)
    return number


def utcnow() -> datetime:
    return datetime.now(UTC)
