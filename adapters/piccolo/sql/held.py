"""Writes held back by an all-or-nothing session and sent with its commit, as one statement.

On PostgreSQL an all-or-nothing unit of work (the scoring hot path) would otherwise cost
``BEGIN``, one ``INSERT`` per table and ``COMMIT``. Instead, while no transaction has begun,
each ``INSERT`` is held, and the commit sends them all as one statement of data-modifying
CTEs (``WITH w0 AS (INSERT ...), w1 AS (INSERT ...) SELECT 1``) in an implicit
transaction: one round trip, atomic by itself (a failure stores none of it). Foreign keys
are checked at the end of the statement, so a row may reference one that a sibling CTE
inserts. Any other statement of the session (a read, a write that cannot be held) first
begins the transaction and sends what is held, so the session reads its own writes.

A held statement that fails raises one constraint violation for the whole statement,
naming a constraint PostgreSQL may have cloned per partition. So each held write comes
with an ``Explain``: after the failure it looks the references and keys of its own rows up
(what the other held writes would have inserted counts as present) and returns the
domain error when its rows are the cause - the same error the write would have raised
when sent on its own - or None.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field

from piccolo.querystring import QueryString

from adapters.piccolo.sql.errors import ConstraintViolation

Explain = Callable[[ConstraintViolation, Mapping[str, set[Hashable]]], Awaitable[Exception | None]]
"""``explain(error, written)``: the domain error of a failed held statement if this write's
rows caused it, else None; ``written`` holds the keys every held write would have inserted,
by table (``Session.note_inserted``)."""


@dataclass(slots=True)
class HeldWrites:
    """The statements held so far and how to explain their failure."""

    statements: list[QueryString] = field(default_factory=list)
    explains: list[Explain] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.statements)

    def add(self, statement: QueryString, explain: Explain) -> None:
        self.statements.append(statement)
        self.explains.append(explain)

    def take(self) -> tuple[QueryString, list[Explain]]:
        """One statement for everything held, and the explanations; empties the holder."""
        parts = ", ".join(f"w{index} AS ({{}})" for index in range(len(self.statements)))
        combined = QueryString(f"WITH {parts} SELECT 1", *self.statements)
        explains, self.statements, self.explains = self.explains, [], []
        return combined, explains

    def clear(self) -> None:
        self.statements.clear()
        self.explains.clear()


async def explain(
    error: ConstraintViolation, explains: list[Explain], written: Mapping[str, set[Hashable]]
) -> Exception:
    """The first explanation that claims ``error``; ``error`` itself if none does (a bug)."""
    for candidate in explains:
        found = await candidate(error, written)
        if found is not None:
            return found
    return error
