"""Entities validate and normalise themselves on construction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from domain.errors import InvalidInput
from domain.model import (
    Outcome,
    ReviewStatus,
    Role,
    Severity,
    Transaction,
    User,
    parse_enum,
)
from domain.values import UINT256_MAX
from tests.builders import (
    T0,
    a_metric,
    a_model,
    a_model_version,
    a_prediction,
    a_transaction,
    a_user,
    an_anomaly,
    an_audit_entry,
)


def test_a_transaction_normalises_hash_and_addresses() -> None:
    tx = a_transaction(
        hash=" 0X" + "AB" * 32 + " ",
        from_address="0x" + "Cd" * 20,
        to_address="0x" + "eF" * 20,
        chain=" Ethereum ",
    )
    assert (tx.hash, tx.from_address, tx.to_address, tx.chain) == (
        "0x" + "ab" * 32,
        "0x" + "cd" * 20,
        "0x" + "ef" * 20,
        "ethereum",
    )


def test_rebuilding_a_transaction_from_its_own_fields_changes_nothing() -> None:
    tx = a_transaction(hash="0x" + "AA" * 32)
    rebuilt = Transaction(**{name: getattr(tx, name) for name in Transaction.__dataclass_fields__})
    assert rebuilt == tx


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("value", -1),
        ("value", UINT256_MAX + 1),
        ("gas_price", -5),
        ("gas_price", 2**256),
        ("gas", -21_000),
        ("nonce", -1),
        ("block_number", -1),
        ("input_size", -1),
        ("value", 1.5),
    ],
)
def test_a_transaction_refuses_out_of_range_quantities(field: str, bad: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        a_transaction(**{field: bad})
    assert refused.value.field == field


def test_a_transaction_accepts_the_largest_wei_amounts() -> None:
    tx = a_transaction(value=UINT256_MAX, gas_price=UINT256_MAX)
    assert (tx.value, tx.gas_price) == (UINT256_MAX, UINT256_MAX)


def test_gas_used_cannot_exceed_the_gas_limit() -> None:
    assert a_transaction(gas=21_000, gas_used=21_000).gas_used == 21_000
    with pytest.raises(InvalidInput) as refused:
        a_transaction(gas=21_000, gas_used=21_001)
    assert refused.value.field == "gas_used"


@pytest.mark.parametrize("field", ["timestamp", "ingested_at"])
def test_a_transaction_refuses_naive_instants(field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        a_transaction(**{field: datetime(2024, 1, 1, 12, 0)})
    assert refused.value.field == field


def test_instants_are_kept_in_utc() -> None:
    local = T0.astimezone(timezone(timedelta(hours=-7)))
    tx = a_transaction(timestamp=local)
    assert tx.timestamp == T0
    assert tx.timestamp.utcoffset() == timedelta(0)


def test_a_contract_creation_has_no_recipient() -> None:
    assert a_transaction(to_address=None).to_address is None


def test_a_prediction_refuses_negative_latency_and_non_finite_scores() -> None:
    tx, version = a_transaction(), a_model_version(a_model())
    with pytest.raises(InvalidInput, match="latency_ms"):
        a_prediction(tx, version, latency_ms=-1.0)
    with pytest.raises(InvalidInput, match="score"):
        a_prediction(tx, version, score=float("nan"))


def test_enum_fields_accept_their_values_as_text() -> None:
    prediction = a_prediction(a_transaction(), a_model_version(a_model()))
    anomaly = an_anomaly(prediction, severity="critical", status="escalated")
    assert (anomaly.severity, anomaly.status) == (Severity.CRITICAL, ReviewStatus.ESCALATED)
    assert a_user(role="admin").role is Role.ADMIN
    assert an_audit_entry(outcome="denied").outcome is Outcome.DENIED


@pytest.mark.parametrize(
    ("build", "field", "allowed"),
    [
        (lambda: a_user(role="root"), "role", "admin, analyst, viewer, service"),
        (
            lambda: an_anomaly(
                a_prediction(a_transaction(), a_model_version(a_model())), severity="severe"
            ),
            "severity",
            "low, medium, high, critical",
        ),
        (lambda: an_audit_entry(outcome="ok"), "outcome", "success, failure, denied"),
        (
            lambda: a_model_version(a_model(), status="live"),
            "status",
            "staged, active, shadow, retired",
        ),
    ],
)
def test_an_unknown_enum_value_is_refused_with_the_allowed_values(
    build: Callable[[], object], field: str, allowed: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        build()
    assert refused.value.field == field
    assert field in refused.value.message
    assert allowed in refused.value.message


def test_parse_enum_refuses_non_text() -> None:
    with pytest.raises(InvalidInput, match="severity must be one of"):
        parse_enum(Severity, 3, "severity")


def test_a_user_name_and_email_are_normalised() -> None:
    user = a_user(username=" Alice ", email=" Alice@Example.ORG ")
    assert (user.username, user.email) == ("alice", "alice@example.org")
    with pytest.raises(InvalidInput, match="email"):
        User(username="bob", role=Role.VIEWER, email="not-an-address")


def test_a_metric_refuses_non_finite_values() -> None:
    with pytest.raises(InvalidInput, match="value"):
        a_metric(value=float("inf"))


def test_an_audit_entry_needs_an_action() -> None:
    with pytest.raises(InvalidInput, match="action"):
        an_audit_entry(action="  ")
