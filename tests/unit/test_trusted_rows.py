"""Rows of the bulk-read tables are turned into entities without the constructors' checks
(``Codec(..., trusted=...)``): what that builds must be what the constructor builds -
the same values of the same types (an enum, not its text; value objects, not JSON) - for
rows as each driver returns them."""

from __future__ import annotations

import dataclasses
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from adapters.piccolo.schema.codecs import ANOMALIES, AUDIT_LOGS, PREDICTIONS, TRANSACTIONS, Codec
from domain.explanations import Contribution
from domain.model import Outcome, ReviewStatus, Severity
from tests.builders import (
    a_model,
    a_model_version,
    a_prediction,
    a_transaction,
    an_anomaly,
    an_audit_entry,
    at,
)

VERSION = a_model_version(a_model())
TX = a_transaction(value=2**256 - 1, gas_used=21_000, nonce=7, block_number=19_000_000)
EXPLAINED = a_prediction(
    TX, VERSION, contributions=(Contribution("log_value", 2.5), Contribution("gas", -0.5))
)
ENTITIES: list[tuple[Codec[Any], object]] = [
    (TRANSACTIONS, TX),
    (TRANSACTIONS, a_transaction(to_address=None)),
    (PREDICTIONS, EXPLAINED),
    (PREDICTIONS, a_prediction(TX, VERSION, served=False, is_anomaly=False)),
    (ANOMALIES, an_anomaly(EXPLAINED)),
    (
        ANOMALIES,
        an_anomaly(
            EXPLAINED,
            severity=Severity.CRITICAL,
            status=ReviewStatus.CONFIRMED,
            reviewed_by=uuid.uuid4(),
            reviewed_at=at(5),
            note="drainer",
            assigned_to=uuid.uuid4(),
            assigned_at=at(4),
        ),
    ),
    (AUDIT_LOGS, an_audit_entry(outcome=Outcome.DENIED, ip="10.0.0.1", details={"a": [1]})),
]


def _as_postgres_returns(codec: Codec[Any], entity: object) -> dict[str, Any]:
    """The row asyncpg hands back: NUMERIC as ``Decimal``, JSON as text."""
    row = dict(zip(codec.columns, codec.to_row(entity, "postgres"), strict=True))
    for name, kind in zip(codec.columns, codec.pg_types, strict=True):
        value = row[name]
        if kind == "numeric" and value is not None:
            row[name] = Decimal(value)
        elif kind == "json" and value is not None and not isinstance(value, str):
            row[name] = json.dumps(value)
    return row


def _as_sqlite_returns(codec: Codec[Any], entity: object) -> dict[str, Any]:
    return dict(zip(codec.columns, codec.to_row(entity, "sqlite"), strict=True))


def _fields(entity: object) -> list[tuple[str, type, object]]:
    return [
        (f.name, type(getattr(entity, f.name)), getattr(entity, f.name))
        for f in dataclasses.fields(entity)  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("driver", [_as_postgres_returns, _as_sqlite_returns])
@pytest.mark.parametrize(("codec", "entity"), ENTITIES)
def test_a_trusted_row_builds_what_the_constructor_builds(
    codec: Codec[Any], entity: object, driver: Any
) -> None:
    built = codec.from_row(driver(codec, entity))

    assert type(built) is type(entity)
    assert _fields(built) == _fields(entity)
