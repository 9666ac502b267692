"""``translate_errors``: a lost PostgreSQL connection, however asyncpg words it, is the
domain's ``Unavailable`` (a 503 with Retry-After); asyncpg's other interface errors are
bugs and propagate unchanged."""

from __future__ import annotations

import asyncpg
import pytest

from adapters.piccolo.sql.errors import translate_errors
from domain.errors import Unavailable


@pytest.mark.parametrize(
    "message",
    [
        # a savepoint rolled back after the server cut the connection (seen under an outage)
        "cannot call Connection.execute(): connection has been released back to the pool",
        "connection is closed",
        "cannot call Transaction.rollback(): the underlying connection is closed",
        "pool is closed",
        "pool is closing",
    ],
)
def test_a_connection_or_pool_that_is_gone_is_unavailable(message: str) -> None:
    with pytest.raises(Unavailable, match="connection was lost"), translate_errors():
        raise asyncpg.exceptions.InterfaceError(message)


def test_other_interface_errors_are_bugs_and_propagate() -> None:
    with pytest.raises(asyncpg.exceptions.InterfaceError), translate_errors():
        raise asyncpg.exceptions.InterfaceError("a connection is already acquired")


def test_a_connection_handed_out_while_taking_in_a_shutdown_message_is_unavailable() -> None:
    error = asyncpg.exceptions.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    )
    with pytest.raises(Unavailable), translate_errors():
        raise error


def test_a_connection_dropped_mid_statement_is_unavailable() -> None:
    with pytest.raises(Unavailable), translate_errors():
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
