"""``Uint256``: an exact unsigned 256-bit integer column (wei amounts) on both engines.

PostgreSQL stores ``NUMERIC(78, 0)``: exact, and compared/ordered numerically by the server.

SQLite has no exact type that wide: its NUMERIC affinity turns integers beyond 64 bits into
REAL (about 15 significant digits), and Piccolo's ``Numeric`` goes through ``float`` too.
So on SQLite the column is ``CHAR(78)`` (TEXT affinity: stored verbatim) holding the number
as exactly 78 decimal digits, zero-padded on the left. Fixed width makes text order equal
numeric order, so ``ORDER BY``, ``<``, ``=`` and ``MIN``/``MAX`` stay correct as long as the
other side is padded the same way (``to_sqlite``). Arithmetic in SQL (``SUM``) is not
exact on SQLite; do it in Python.

Always write values through ``to_db`` and read them back through ``from_db``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from piccolo.columns.base import Column
from piccolo.columns.defaults.base import Default

DIGITS = 78  # len(str(2**256 - 1))
UINT256_MAX = 2**256 - 1


class Uint256Zero(Default):
    """The DDL default 0, written the way each engine stores it."""

    @property
    def postgres(self) -> str:
        return "0"

    @property
    def sqlite(self) -> str:
        return "'" + "0" * DIGITS + "'"

    @property
    def cockroach(self) -> str:
        return "0"

    def python(self) -> int:
        return 0


class Uint256(Column):
    """Exact integer in ``0 .. 2**256-1``; see the module docstring for the storage."""

    value_type = int

    def __init__(self, default: Default | None = None, **kwargs: Any) -> None:
        self.default = Uint256Zero() if default is None else default
        super().__init__(default=self.default, **kwargs)

    @property
    def column_type(self) -> str:
        if self._meta.engine_type == "sqlite":
            return f"CHAR({DIGITS})"
        return f"NUMERIC({DIGITS}, 0)"


def to_sqlite(value: int) -> str:
    """The fixed-width text SQLite stores for ``value``."""
    if not 0 <= value <= UINT256_MAX:
        raise ValueError("a Uint256 value must be between 0 and 2**256-1")
    return str(value).zfill(DIGITS)


def to_db(value: int, dialect: str) -> int | str:
    """The parameter to bind for ``value`` on ``dialect`` ("postgres" or "sqlite")."""
    return to_sqlite(value) if dialect == "sqlite" else value


def from_db(value: object) -> int:
    """Back to ``int`` from what either driver returns (``Decimal`` or padded text)."""
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, str):
        return int(value)
    raise TypeError(f"unexpected Uint256 value from the database: {type(value).__name__}")
