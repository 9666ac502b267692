"""``Uint256``: an exact unsigned 256-bit integer column (wei amounts) on both engines.

PostgreSQL stores ``NUMERIC(78, 0)``: exact, and compared/ordered numerically by the server.

SQLite has no exact type that wide: its NUMERIC affinity turns integers beyond 64 bits into
REAL (about 15 significant digits), and Piccolo's ``Numeric`` goes through ``float`` too.
So on SQLite the column is ``CHAR(78)`` (TEXT affinity: stored verbatim) holding the number
as exactly 78 decimal digits, zero-padded on the left. Fixed width makes text order equal
numeric order, so ``ORDER BY``, ``<``, ``=`` and ``MIN``/``MAX`` stay correct as long as the
other side is padded the same way (``sqlite_wei``). Arithmetic in SQL (``SUM``) is not
exact on SQLite; do it in Python.

Values are written and read through ``adapters.piccolo.sql.values`` (``db_wei``/``as_wei``),
which the codecs pick for every ``Uint256`` column.
"""

from __future__ import annotations

from typing import Any

from piccolo.columns.base import Column
from piccolo.columns.defaults.base import Default

from adapters.piccolo.sql.values import WEI_DIGITS as DIGITS


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
