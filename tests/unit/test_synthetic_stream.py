"""The synthetic stream: deterministic, realistic in shape, with labelled injected fraud."""

from __future__ import annotations

from collections import Counter

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
