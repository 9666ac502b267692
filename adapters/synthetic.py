"""A labelled, synthetic Ethereum-like transaction stream for demos, tests and benchmarks.

Deterministic from a seed (standard library ``random`` only). Ordinary traffic mimics
main-net shapes: plain ETH transfers with log-normal values (median about 0.05 ETH, a few
whales), contract calls (mostly zero value, gas limits around 100-300k with gas used below
the limit, call data of a few hundred bytes), rare contract creations; a base fee that
drifts as a random walk in log space with log-normal priority tips; a diurnal activity
cycle; senders drawn from a heavy-tailed (Pareto) activity distribution with per-sender
nonces.

Injected patterns, each labelled fraud and named in ``SyntheticStream.patterns``:

* ``address_poisoning``: a lookalike of a victim's recent counterparty (same first and
  last four hex digits) sends the victim a zero or dust amount, so the lookalike shows up
  in the victim's history waiting to be copied;
* ``dust``: one sender sprays 1e11-1e13 wei to many fresh addresses within seconds;
* ``abnormal_gas_price``: a gas price 30-2000 times the going rate (or almost zero);
* ``outsized_transfer``: 2,000-200,000 ETH in one transfer;
* ``burst``: a fresh address sends 20-60 transfers with consecutive nonces within seconds
  (a drainer emptying a wallet).
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.errors import InvalidInput
from domain.model import LabelKind, Transaction

ETHER = 10**18
GWEI = 10**9
DEFAULT_START = datetime(2024, 5, 1, tzinfo=UTC)
PATTERNS = ("address_poisoning", "dust", "abnormal_gas_price", "outsized_transfer", "burst")
# Share of rows that start an injected episode, per pattern (episodes of dust and bursts
# have many rows, so the fraud share of rows is about 2.5%).
_EPISODE_RATE = {
    "address_poisoning": 0.004,
    "dust": 0.0006,
    "abnormal_gas_price": 0.003,
    "outsized_transfer": 0.002,
    "burst": 0.0003,
}


@dataclass(slots=True)
class SyntheticStream:
    """Transactions in time order, with the ground truth of every row."""

    transactions: list[Transaction] = field(default_factory=list)
    truth: dict[str, LabelKind] = field(default_factory=dict)
    patterns: dict[str, str] = field(default_factory=dict)

    @property
    def fraud_share(self) -> float:
        if not self.transactions:
            return 0.0
        frauds = sum(1 for kind in self.truth.values() if kind is LabelKind.FRAUD)
        return frauds / len(self.transactions)

    def sample_labels(self, share: float, seed: int = 0) -> dict[str, LabelKind]:
        """The truth of a random ``share`` of the rows (what analysts would have labelled)."""
        if not 0.0 <= share <= 1.0:
            raise InvalidInput("the labelled share must be between 0 and 1", field="share")
        rng = random.Random(seed)
        count = round(share * len(self.transactions))
        chosen = rng.sample(self.transactions, count)
        return {tx.hash: self.truth[tx.hash] for tx in chosen}


class _Generator:
    def __init__(self, count: int, seed: int, start: datetime) -> None:
        self.rng = random.Random(seed)
        self.count = count
        self.clock = start
        self.block = 19_000_000
        self.base_fee = 20.0 * GWEI
        accounts = max(100, count // 15)
        self.accounts = [self._address() for _ in range(accounts)]
        # Pareto activity: a few accounts (exchanges, bots) send a large share of traffic.
        weights = [self.rng.paretovariate(1.2) for _ in range(accounts)]
        total = sum(weights)
        self.cumulative = list(itertools.accumulate(w / total for w in weights))
        self.contracts = [self._address() for _ in range(max(20, accounts // 50))]
        self.nonces: dict[str, int] = {}
        self.counterparties: dict[str, str] = {}
        self.stream = SyntheticStream()

    # -- building blocks ------------------------------------------------------------------
    def _address(self) -> str:
        return f"0x{self.rng.getrandbits(160):040x}"

    def _hash(self) -> str:
        return f"0x{self.rng.getrandbits(256):064x}"

    def _sender(self) -> str:
        point = self.rng.random()
        low, high = 0, len(self.cumulative) - 1
        while low < high:
            middle = (low + high) // 2
            if self.cumulative[middle] < point:
                low = middle + 1
            else:
                high = middle
        return self.accounts[low]

    def _tick(self, mean_gap_s: float = 0.09) -> None:
        # Busier in the (UTC) afternoon and evening: intensity varies by a factor of ~2.
        hour = self.clock.hour + self.clock.minute / 60
        intensity = 1.0 + 0.45 * math.sin(2 * math.pi * (hour - 9) / 24)
        self.clock += timedelta(seconds=self.rng.expovariate(intensity / mean_gap_s))
        self.block = 19_000_000 + int((self.clock - DEFAULT_START).total_seconds() // 12)
        self.base_fee *= math.exp(self.rng.gauss(0.0, 0.002))
        self.base_fee = min(max(self.base_fee, 3.0 * GWEI), 300.0 * GWEI)

    def _gas_price(self) -> int:
        tip = GWEI * self.rng.lognormvariate(math.log(1.5), 0.8)
        return int(self.base_fee + tip)

    def _value_eth(self, mu: float = math.log(0.05), sigma: float = 2.0) -> int:
        return int(ETHER * self.rng.lognormvariate(mu, sigma))

    def _emit(
        self,
        *,
        sender: str,
        to: str | None,
        value: int,
        gas: int,
        gas_price: int,
        gas_used: int | None,
        input_size: int,
        pattern: str | None = None,
    ) -> None:
        nonce = self.nonces.get(sender, self.rng.randrange(0, 400))
        self.nonces[sender] = nonce + 1
        tx = Transaction(
            hash=self._hash(),
            from_address=sender,
            to_address=to,
            value=value,
            gas=gas,
            gas_price=max(gas_price, 1),
            timestamp=self.clock,
            block_number=self.block,
            nonce=nonce,
            gas_used=gas_used,
            input_size=input_size,
            ingested_at=self.clock + timedelta(seconds=self.rng.uniform(0.5, 15.0)),
        )
        self.stream.transactions.append(tx)
        self.stream.truth[tx.hash] = LabelKind.LEGITIMATE if pattern is None else LabelKind.FRAUD
        if pattern is not None:
            self.stream.patterns[tx.hash] = pattern
        if to is not None and pattern is None and value > 0:
            self.counterparties[sender] = to

    # -- ordinary traffic -----------------------------------------------------------------
    def ordinary(self) -> None:
        kind = self.rng.random()
        sender = self._sender()
        if kind < 0.60:
            to = self._sender() if self.rng.random() < 0.7 else self._address()
            self._emit(
                sender=sender,
                to=to,
                value=self._value_eth(),
                gas=21_000,
                gas_price=self._gas_price(),
                gas_used=21_000,
                input_size=0,
            )
        elif kind < 0.99:
            gas = int(min(max(self.rng.lognormvariate(math.log(160_000), 0.5), 40_000), 2_000_000))
            token_transfer = self.rng.random() < 0.4
            self._emit(
                sender=sender,
                to=self.rng.choice(self.contracts),
                value=0 if self.rng.random() < 0.75 else self._value_eth(math.log(0.2), 1.5),
                gas=gas,
                gas_price=self._gas_price(),
                gas_used=int(gas * self.rng.uniform(0.35, 0.95)),
                input_size=68
                if token_transfer
                else int(self.rng.lognormvariate(math.log(400), 0.8)),
            )
        else:
            gas = self.rng.randrange(1_000_000, 6_000_000)
            self._emit(
                sender=sender,
                to=None,
                value=0,
                gas=gas,
                gas_price=self._gas_price(),
                gas_used=int(gas * self.rng.uniform(0.5, 0.98)),
                input_size=self.rng.randrange(2_000, 30_000),
            )

    # -- injected fraud -------------------------------------------------------------------
    def address_poisoning(self) -> None:
        if not self.counterparties:
            return
        victim = self.rng.choice(list(self.counterparties))
        genuine = self.counterparties[victim]
        middle = f"{self.rng.getrandbits(128):032x}"
        lookalike = f"{genuine[:6]}{middle}{genuine[-4:]}"
        zero = self.rng.random() < 0.6
        self._emit(
            sender=lookalike,
            to=victim,
            value=0 if zero else self.rng.randrange(10**9, 10**12),
            gas=21_000 if self.rng.random() < 0.5 else 65_000,
            gas_price=self._gas_price(),
            gas_used=21_000,
            input_size=0,
            pattern="address_poisoning",
        )

    def dust(self) -> None:
        sender = self._address()
        for _ in range(self.rng.randrange(8, 30)):
            self._tick(mean_gap_s=0.4)
            self._emit(
                sender=sender,
                to=self._address(),
                value=self.rng.randrange(10**11, 10**13),
                gas=21_000,
                gas_price=int(self.base_fee * self.rng.uniform(1.0, 1.2)),
                gas_used=21_000,
                input_size=0,
                pattern="dust",
            )

    def abnormal_gas_price(self) -> None:
        absurd = self.rng.random() < 0.85
        factor = self.rng.uniform(30, 2_000) if absurd else self.rng.uniform(0.0001, 0.01)
        self._emit(
            sender=self._sender(),
            to=self._sender(),
            value=self._value_eth(),
            gas=21_000,
            gas_price=int(self.base_fee * factor),
            gas_used=21_000,
            input_size=0,
            pattern="abnormal_gas_price",
        )

    def outsized_transfer(self) -> None:
        self._emit(
            sender=self._sender(),
            to=self._address(),
            value=int(ETHER * math.exp(self.rng.uniform(math.log(2_000), math.log(200_000)))),
            gas=21_000,
            gas_price=self._gas_price(),
            gas_used=21_000,
            input_size=0,
            pattern="outsized_transfer",
        )

    def burst(self) -> None:
        drainer = self._address()
        amount = self._value_eth(math.log(2.0), 1.0)
        for _ in range(self.rng.randrange(20, 60)):
            self._tick(mean_gap_s=0.15)
            self._emit(
                sender=drainer,
                to=self._address(),
                value=int(amount * self.rng.uniform(0.9, 1.1)),
                gas=21_000,
                gas_price=int(self._gas_price() * self.rng.uniform(2.0, 4.0)),
                gas_used=21_000,
                input_size=0,
                pattern="burst",
            )


def generate_stream(
    count: int, seed: int = 0, *, start: datetime = DEFAULT_START
) -> SyntheticStream:
    """``count`` transactions (exactly) from ``start`` on, about 11 per second, with
    about 2.5% of the rows injected fraud. The same ``count``/``seed``/``start`` always
    give the same stream."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InvalidInput("count must be a positive integer", field="count")
    generator = _Generator(count, seed, start)
    episodes = {name: getattr(generator, name) for name in PATTERNS}
    stream = generator.stream
    while len(stream.transactions) < count:
        generator._tick()
        draw = generator.rng.random()
        for name, rate in _EPISODE_RATE.items():
            if draw < rate:
                episodes[name]()
                break
            draw -= rate
        else:
            generator.ordinary()
    # An episode may overshoot the count: cut the stream at exactly ``count`` rows.
    for tx in stream.transactions[count:]:
        stream.truth.pop(tx.hash, None)
        stream.patterns.pop(tx.hash, None)
    del stream.transactions[count:]
    return stream
