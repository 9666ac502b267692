"""The synthetic stream: deterministic, realistic in shape, with labelled injected fraud."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from adapters.synthetic import ETHER, GWEI, PATTERNS, SyntheticStream, generate_stream
from domain.errors import InvalidInput
from domain.model import LabelKind


@pytest.fixture(scope="module")
def stream() -> SyntheticStream:
    return generate_stream(6_000, seed=11)


def test_the_same_seed_gives_the_same_stream_and_another_seed_another() -> None:
    first, again, other = (generate_stream(500, seed=s) for s in (5, 5, 6))
    assert first.transactions == again.transactions
    assert first.truth == again.truth
    assert {tx.hash for tx in first.transactions}.isdisjoint(tx.hash for tx in other.transactions)


def test_the_stream_has_exactly_the_rows_asked_for_in_time_order(stream: SyntheticStream) -> None:
    assert len(stream.transactions) == 6_000
    assert len({tx.hash for tx in stream.transactions}) == 6_000
    stamps = [tx.timestamp for tx in stream.transactions]
    assert stamps == sorted(stamps)
    assert set(stream.truth) == {tx.hash for tx in stream.transactions}


def test_every_pattern_is_injected_and_labelled_fraud(stream: SyntheticStream) -> None:
    assert set(stream.patterns.values()) == set(PATTERNS)
    assert all(stream.truth[h] is LabelKind.FRAUD for h in stream.patterns)
    assert 0.01 < stream.fraud_share < 0.06
    legitimate = [h for h, kind in stream.truth.items() if kind is LabelKind.LEGITIMATE]
    assert not set(legitimate) & set(stream.patterns)


def test_ordinary_amounts_are_heavy_tailed(stream: SyntheticStream) -> None:
    ordinary = [tx for tx in stream.transactions if tx.hash not in stream.patterns]
    values = sorted(tx.value for tx in ordinary if tx.value > 0)
    median, p99 = values[len(values) // 2], values[int(len(values) * 0.99)]
    assert 10**15 < median < 10 * ETHER
    assert p99 > 50 * median  # a long right tail
    prices = sorted(tx.gas_price for tx in ordinary)
    assert 3 * GWEI < prices[len(prices) // 2] < 300 * GWEI
    kinds = Counter(
        "creation" if tx.to_address is None else "call" if tx.input_size else "transfer"
        for tx in ordinary
    )
    assert kinds["transfer"] > kinds["call"] > kinds["creation"] > 0
    assert all(tx.gas_used is None or tx.gas_used <= tx.gas for tx in stream.transactions)


def test_token_calls_look_like_erc20_transfers_and_approvals(stream: SyntheticStream) -> None:
    ordinary = [tx for tx in stream.transactions if tx.hash not in stream.patterns]
    tokens = [tx for tx in ordinary if tx.input_size == 68]
    assert len(tokens) > len(ordinary) // 5
    assert all(tx.value == 0 and 45_000 <= tx.gas <= 65_000 for tx in tokens)


def test_a_span_spreads_the_rows_over_every_hour_of_the_day_and_wide_gas_prices() -> None:
    spread = generate_stream(6_000, seed=11, span=timedelta(days=7))
    stamps = [tx.timestamp for tx in spread.transactions]
    assert timedelta(days=6) < stamps[-1] - stamps[0] < timedelta(days=8)
    assert {stamp.hour for stamp in stamps} == set(range(24))
    ordinary = [tx for tx in spread.transactions if tx.hash not in spread.patterns]
    prices = sorted(tx.gas_price for tx in ordinary)
    # A few to hundreds of gwei, as main net has over a week.
    assert prices[len(prices) // 100] < 5 * GWEI
    assert prices[-len(prices) // 100] > 60 * GWEI


def test_a_gas_used_share_leaves_the_rest_without_gas_used_and_changes_nothing_else() -> None:
    full = generate_stream(2_000, seed=4)
    half = generate_stream(2_000, seed=4, gas_used_share=0.5)
    known = sum(1 for tx in half.transactions if tx.gas_used is not None)
    assert 800 < known < 1_200
    assert all(tx.gas_used is not None for tx in full.transactions)
    for mined, submitted in zip(full.transactions, half.transactions, strict=True):
        assert submitted.gas_used in (None, mined.gas_used)
        assert submitted.hash == mined.hash


def test_poisoning_uses_a_lookalike_of_the_victims_counterparty(stream: SyntheticStream) -> None:
    sent_to = {(tx.from_address, tx.to_address) for tx in stream.transactions}
    poisoned = [
        tx for tx in stream.transactions if stream.patterns.get(tx.hash) == "address_poisoning"
    ]
    assert poisoned
    for tx in poisoned:
        assert tx.to_address is not None
        victim, lookalike = tx.to_address, tx.from_address
        genuine = [to for (sender, to) in sent_to if sender == victim and to is not None]
        assert any(
            g != lookalike and g[:6] == lookalike[:6] and g[-4:] == lookalike[-4:] for g in genuine
        )
        assert tx.value < 10**12  # zero or dust


def test_bursts_and_dust_come_from_one_sender_within_seconds(stream: SyntheticStream) -> None:
    for pattern in ("burst", "dust"):
        rows = [tx for tx in stream.transactions if stream.patterns.get(tx.hash) == pattern]
        by_sender = Counter(tx.from_address for tx in rows)
        assert max(by_sender.values()) >= 8
        sender = by_sender.most_common(1)[0][0]
        episode = [tx for tx in rows if tx.from_address == sender]
        assert (episode[-1].timestamp - episode[0].timestamp).total_seconds() < 60
        nonces = [tx.nonce or 0 for tx in episode]
        assert nonces == list(range(nonces[0], nonces[0] + len(nonces)))


def test_a_sample_of_labels_is_the_truth_of_that_share_of_rows(stream: SyntheticStream) -> None:
    labels = stream.sample_labels(0.02, seed=1)
    assert len(labels) == 120
    assert all(stream.truth[h] is kind for h, kind in labels.items())
    assert labels == stream.sample_labels(0.02, seed=1)


@pytest.mark.parametrize("count", [0, -5, True])
def test_a_count_that_is_not_positive_is_invalid(count: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        generate_stream(count)
    assert refused.value.field == "count"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"span": timedelta(0)}, "span"),
        ({"gas_used_share": 1.5}, "gas_used_share"),
        ({"gas_used_share": -0.1}, "gas_used_share"),
    ],
)
def test_a_span_that_is_not_positive_or_a_share_outside_0_to_1_is_invalid(
    options: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        generate_stream(10, **options)  # type: ignore[arg-type]
    assert refused.value.field == field
