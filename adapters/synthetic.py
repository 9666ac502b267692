"""A labelled, synthetic Ethereum-like transaction stream for demos, tests and benchmarks.

Deterministic from a seed (standard library ``random`` only). Ordinary traffic mimics
main-net shapes: ETH payments at 21,000 gas with log-normal values spanning many orders of
magnitude (median about 0.05 ETH, a tenth below 0.001 ETH, a hundredth above 50 ETH);
ERC-20 transfers and approvals (zero value, 68 bytes of call data, 45-65k gas); other
contract calls (swaps, mints: gas limits around 100-500k with gas used below the limit,
call data of a few hundred bytes, some with value); rare contract creations. The base fee
wanders in log space around 15 gwei, reverting to it within hours (most of the time
between about 2 and 100 gwei), plus log-normal priority tips; activity follows a diurnal
cycle; senders are drawn from a heavy-tailed (Pareto) activity distribution with
per-sender nonces.

By default rows come at main-net pace (about 11 per second), so a stream of thousands of
rows covers minutes of one day. ``span`` spreads the ordinary rows over a longer period
instead (a thinned sample of it: every hour of the day, the base fee's ups and downs),
which is what a model meant to score any time of day must learn from.
``gas_used_share`` is the share of rows that carry their gas used (mined, with a
receipt); the others look like what clients submit before mining (the old API shape, a
JSON-RPC transaction object), without it.

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
MAINNET_GAP_S = 0.09  # mean seconds between ordinary rows at main-net pace
# The base fee: log-normal around 15 gwei (sd 0.9 in natural log), pulled back towards it
# with a time constant of 6 hours (an Ornstein-Uhlenbeck process in log space).
_BASE_FEE_GWEI = 15.0
_BASE_FEE_LOG_SD = 0.9
_BASE_FEE_REVERSION_S = 6 * 3600.0
_BASE_FEE_BOUNDS_GWEI = (0.5, 1_000.0)
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
    def __init__(
        self, count: int, seed: int, start: datetime, mean_gap_s: float, gas_used_share: float
    ) -> None:
        self.rng = random.Random(seed)
        # How people round what they type: drawn from its own generator, so the stream's
        # sequence of senders, patterns and amounts is the same with or without it.
        self.shape_rng = random.Random(f"{seed}-shape")
        self.count = count
        self.clock = start
        self.mean_gap_s = mean_gap_s
        self.gas_used_share = gas_used_share
        self.receipts = random.Random(f"receipts-{seed}")
        self.block = 19_000_000
        self.log_base_fee = math.log(_BASE_FEE_GWEI * GWEI)
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

    @property
    def base_fee(self) -> float:
        return math.exp(self.log_base_fee)

    def _tick(self, mean_gap_s: float | None = None) -> None:
        # Busier in the (UTC) afternoon and evening: intensity varies by a factor of ~2.
        hour = self.clock.hour + self.clock.minute / 60
        intensity = 1.0 + 0.45 * math.sin(2 * math.pi * (hour - 9) / 24)
        mean_gap_s = self.mean_gap_s if mean_gap_s is None else mean_gap_s
        gap_s = self.rng.expovariate(intensity / mean_gap_s)
        self.clock += timedelta(seconds=gap_s)
        self.block = 19_000_000 + int((self.clock - DEFAULT_START).total_seconds() // 12)
        # The exact Ornstein-Uhlenbeck step over gap_s, so any pace gives the same process.
        mean = math.log(_BASE_FEE_GWEI * GWEI)
        kept = math.exp(-gap_s / _BASE_FEE_REVERSION_S)
        noise = _BASE_FEE_LOG_SD * math.sqrt(1.0 - kept * kept)
        self.log_base_fee = mean + kept * (self.log_base_fee - mean) + self.rng.gauss(0.0, noise)
        low, high = (math.log(bound * GWEI) for bound in _BASE_FEE_BOUNDS_GWEI)
        self.log_base_fee = min(max(self.log_base_fee, low), high)

    def _gas_price(self) -> int:
        tip = GWEI * self.rng.lognormvariate(math.log(1.5), 1.0)
        return int(self.base_fee + tip)

    def _value_eth(self, mu: float = math.log(0.05), sigma: float = 3.0) -> int:
        return int(ETHER * self.rng.lognormvariate(mu, sigma))

    def _typed(self, amount: int) -> int:
        """An amount as a person enters it most of the time (60%: 1 to 3 significant
        digits, 0.05 or 1.25 ether), else as computed (a wallet's "send max", a swap)."""
        if amount <= 0 or self.shape_rng.random() >= 0.6:
            return amount
        digits = self.shape_rng.choice((1, 1, 2, 2, 3))
        scale: int = 10 ** max(0, len(str(amount)) - digits)
        return max(scale, (amount + scale // 2) // scale * scale)

    def _quoted(self, gas_price: int) -> int:
        """A gas price as wallets quote it half the time (whole gwei or tenths), else the
        exact base fee plus tip."""
        if self.shape_rng.random() >= 0.5:
            return gas_price
        step = GWEI if self.shape_rng.random() < 0.5 else GWEI // 10
        return max(step, (gas_price + step // 2) // step * step)

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
            gas_used=gas_used if self._with_receipt() else None,
            input_size=input_size,
            ingested_at=self.clock + timedelta(seconds=self.rng.uniform(0.5, 15.0)),
        )
        self.stream.transactions.append(tx)
        self.stream.truth[tx.hash] = LabelKind.LEGITIMATE if pattern is None else LabelKind.FRAUD
        if pattern is not None:
            self.stream.patterns[tx.hash] = pattern
        if to is not None and pattern is None and value > 0:
            self.counterparties[sender] = to

    def _with_receipt(self) -> bool:
        # A random source of its own: the share blanks gas used and changes nothing else.
        return self.receipts.random() < self.gas_used_share

    # -- ordinary traffic -----------------------------------------------------------------
    def ordinary(self) -> None:
        kind = self.rng.random()
        sender = self._sender()
        if kind < 0.55:
            to = self._sender() if self.rng.random() < 0.7 else self._address()
            self._emit(
                sender=sender,
                to=to,
                value=self._typed(self._value_eth()),
                gas=21_000,
                gas_price=self._quoted(self._gas_price()),
                gas_used=21_000,
                input_size=0,
            )
        elif kind < 0.80:
            # An ERC-20 transfer(to, amount) or approve(spender, amount): a 4-byte selector
            # and two 32-byte arguments; wallets set the limit a little above the gas used.
            gas = self.rng.randrange(45_000, 65_001)
            self._emit(
                sender=sender,
                to=self.rng.choice(self.contracts),
                value=0,
                gas=gas,
                gas_price=self._quoted(self._gas_price()),
                gas_used=int(gas * self.rng.uniform(0.55, 0.95)),
                input_size=68,
            )
        elif kind < 0.99:
            gas = int(min(max(self.rng.lognormvariate(math.log(200_000), 0.5), 60_000), 2_000_000))
            self._emit(
                sender=sender,
                to=self.rng.choice(self.contracts),
                value=0 if self.rng.random() < 0.65 else self._value_eth(math.log(0.2), 2.0),
                gas=gas,
                gas_price=self._quoted(self._gas_price()),
                gas_used=int(gas * self.rng.uniform(0.35, 0.95)),
                input_size=int(self.rng.lognormvariate(math.log(400), 0.8)),
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
    count: int,
    seed: int = 0,
    *,
    start: datetime = DEFAULT_START,
    span: timedelta | None = None,
    gas_used_share: float = 1.0,
) -> SyntheticStream:
    """``count`` transactions (exactly) from ``start`` on, with about 2.5% of the rows
    injected fraud: about 11 per second by default, or spread over about ``span`` (see the
    module docstring; injected episodes keep their pace of seconds). ``gas_used_share`` of
    the rows carry their gas used (all by default). The same arguments always give the
    same stream."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InvalidInput("count must be a positive integer", field="count")
    if span is not None and not span.total_seconds() > 0:
        raise InvalidInput("span must be a positive duration", field="span")
    if not 0.0 <= gas_used_share <= 1.0:
        raise InvalidInput("gas_used_share must be between 0 and 1", field="gas_used_share")
    mean_gap_s = MAINNET_GAP_S if span is None else span.total_seconds() / count
    generator = _Generator(count, seed, start, mean_gap_s, gas_used_share)
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
