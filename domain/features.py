"""Transaction -> feature vector: pure, deterministic and versioned.

Raw amounts span about twenty orders of magnitude (wei values up to 2**256-1, gas prices
from 1 wei to thousands of gwei), which wrecks distance- and tree-based detectors. Every
amount therefore enters in log10 scale, computed from the exact integer (Python's
``math.log10`` takes integers of any size without a float overflow), so each feature is a
finite float of modest size for every valid transaction.

Feature sets are versioned: the version is stored with every model version, and a model
is always fed rows of the version it was trained on (``extract_features(tx, version)``).
Published versions never change; a new meaning, order or number of features is a new
version. ``FEATURE_VERSION`` is the version new models are trained on.

* **Version 1**: ``log10(1 + x)`` of value, gas, gas price, gas used and gas x gas price,
  flags, call-data size and time of day. The value column is bimodal (zero-value calls at
  0, transfers around 17): a tiny "dust" amount sits between the two modes, not in a tail.
* **Version 2**: the value is split into ``is_zero_value`` and the magnitude of a nonzero
  value in ether (``log10(value / 10**18)``; a zero value takes the neutral 0.0, one
  ether, so it is never mistaken for a tiny amount), which puts dust and outsized amounts
  in the tails of one unimodal column; ``is_empty_transfer`` marks a zero-value
  transaction without call data to an address (it moves nothing and runs nothing - the
  shape of address poisoning); gas price is in gwei; the redundant gas-used and
  gas x gas-price columns are gone, so one rare but legitimate shape (a contract
  creation: high gas, large call data) is not counted several times over.
* **Version 3**: version 2 without the time of day, plus the *shape* of the amounts.
  People pay round amounts (0.5 ether has 17 trailing zeros in wei, 1 significant digit)
  and wallets quote round gas prices; scripts - drainers, dusters, poisoners - send
  whatever a computation left (0.000731942 ether). So the value's trailing decimal zeros
  and significant digits, and the gas price's significant digits, enter as features. The
  hour of day is gone: it describes when the people of a region are awake, drifts with the
  population of users, and on real labelled mainnet data it made a classifier trained on
  an older period worse on a newer one.
* **Version 4**: version 3's columns, unchanged and in the same order, then the sender's
  history as of just before the transaction (``domain.history.SenderHistory``: a one-day
  window of its newest ``HISTORY_CAP`` sends, and when the address was first seen).
  Bursts and dust sprays are invisible in one transaction and plain in the sender's past:

  - ``log_sent_last_hour``, ``log_sent_last_day``: ``log10(1 + sends)``. A drainer sends
    dozens of transfers within seconds, a person a few a day; two windows tell a burst
    (many in the hour) from a steady busy wallet (many in the day, spread out). Log scale:
    the counts are heavy-tailed and saturate at the cap.
  - ``log_value_sent_last_hour``, ``log_value_sent_last_day``: ``log10(1 + wei)`` of
    the value sent in each window - a dust spray sends many transactions but almost no
    value, a drainer a wallet's worth within the hour.
  - ``log_counterparties_last_day``: ``log10(1 + distinct receivers)``; a spray or a
    drain goes to many fresh addresses, ordinary senders pay the same few.
  - ``sender_is_new`` (never seen as sender or receiver before) and
    ``log_sender_age_s`` (``log10(1 + seconds)`` since first seen; 0.0, the youngest age
    there is, for a new address): both patterns come from fresh addresses, and the flag
    keeps "never seen" apart from "seen a second ago".
  - ``log_send_rate``: ``log10((1 + sends in the day) / (1 + age in seconds, at most a
    day))``, sends per second of the address's known life. A busy exchange wallet sends
    a lot but has sent for long; a drainer or duster sends a lot from an address seconds
    old. Detectors that judge columns one at a time (ECOD, the tails model) cannot see
    that combination in the two columns apart; measured on the synthetic stream it is
    what lifts bursts above the busy ordinary senders.
  - ``value_vs_sender_median``: ``log10(value / median)`` of the sender's nonzero values
    in the window - an amount unlike the sender's own habit; 0.0 (neutral) for a zero
    value or a sender without nonzero sends.

  It needs the history: ``extract_features(tx, 4, history=...)``. Versions 1-3 ignore it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from domain.errors import InvalidInput
from domain.history import HISTORY_WINDOW, SenderHistory, sweep_histories
from domain.model import Transaction

# Measured with benchmarks/history_features.py: set 4 lifts ROC-AUC of ECOD (dust, bursts,
# overall) but collapses the unsupervised tails model (its history columns - address age,
# day counts - drift past the training range while a database is young, and tails scores
# both tails), and with labels the forest's top 1% fills with bursts and sprays, so single
# odd transactions (gas price, poisoning) stop being flagged at the threshold. So new
# models stay on set 3; train on 4 explicitly (``train_version(feature_version=4)``).
FEATURE_VERSION = 3

_SECONDS_PER_DAY = 86_400
_WEI_PER_ETHER = 18  # log10
_WEI_PER_GWEI = 9  # log10
_WINDOW_S = HISTORY_WINDOW.total_seconds()


def _log1p10(amount: int) -> float:
    """``log10(1 + amount)`` for an exact non-negative integer of any size."""
    return math.log10(1 + amount)


def _flag(condition: bool) -> float:
    return 1.0 if condition else 0.0


def _gas_used(tx: Transaction) -> tuple[int, float]:
    """Gas used (the gas limit, its upper bound, when unknown) and its ratio to the limit."""
    used = tx.gas_used if tx.gas_used is not None else tx.gas
    return used, (used / tx.gas if tx.gas > 0 else 1.0)


def _time_of_day(tx: Transaction) -> tuple[float, float]:
    """sin and cos of the UTC time of day: 23:59 and 00:00 are neighbours."""
    moment = tx.timestamp
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
    angle = 2.0 * math.pi * seconds / _SECONDS_PER_DAY
    return math.sin(angle), math.cos(angle)


_NAMES_V1: tuple[str, ...] = (
    "log_value",
    "log_gas",
    "log_gas_price",
    "log_gas_used",
    "gas_used_known",
    "gas_used_ratio",
    "log_max_fee",
    "is_zero_value",
    "is_contract_call",
    "is_contract_creation",
    "log_input_size",
    "hour_sin",
    "hour_cos",
)


def _extract_v1(tx: Transaction) -> tuple[float, ...]:
    gas_used, ratio = _gas_used(tx)
    return (
        _log1p10(tx.value),
        _log1p10(tx.gas),
        _log1p10(tx.gas_price),
        _log1p10(gas_used),
        _flag(tx.gas_used is not None),
        ratio,
        _log1p10(tx.gas * tx.gas_price),
        _flag(tx.value == 0),
        _flag(tx.input_size > 0),
        _flag(tx.to_address is None),
        _log1p10(tx.input_size),
        *_time_of_day(tx),
    )


_NAMES_V2: tuple[str, ...] = (
    "is_zero_value",
    "log_value_ether",
    "is_empty_transfer",
    "log_gas",
    "log_gas_price_gwei",
    "gas_used_known",
    "gas_used_ratio",
    "is_contract_call",
    "is_contract_creation",
    "log_input_size",
    "hour_sin",
    "hour_cos",
)


def _extract_v2(tx: Transaction) -> tuple[float, ...]:
    _, ratio = _gas_used(tx)
    zero = tx.value == 0
    return (
        _flag(zero),
        0.0 if zero else math.log10(tx.value) - _WEI_PER_ETHER,
        _flag(zero and tx.input_size == 0 and tx.to_address is not None),
        _log1p10(tx.gas),
        _log1p10(tx.gas_price) - _WEI_PER_GWEI,
        _flag(tx.gas_used is not None),
        ratio,
        _flag(tx.input_size > 0),
        _flag(tx.to_address is None),
        _log1p10(tx.input_size),
        *_time_of_day(tx),
    )


_NAMES_V3: tuple[str, ...] = (
    "is_zero_value",
    "log_value_ether",
    "value_trailing_zeros",
    "value_significant_digits",
    "is_empty_transfer",
    "log_gas",
    "log_gas_price_gwei",
    "gas_price_significant_digits",
    "gas_used_known",
    "gas_used_ratio",
    "is_contract_call",
    "is_contract_creation",
    "log_input_size",
)


def _digits(amount: int) -> tuple[float, float]:
    """Trailing decimal zeros and significant digits of a non-negative integer (0, 0 for
    zero): 1_500_000 -> (5, 2). Exact for integers of any size."""
    if amount == 0:
        return 0.0, 0.0
    text = str(amount)
    significant = text.rstrip("0")
    return float(len(text) - len(significant)), float(len(significant))


def _extract_v3(tx: Transaction) -> tuple[float, ...]:
    _, ratio = _gas_used(tx)
    zero = tx.value == 0
    value_zeros, value_digits = _digits(tx.value)
    return (
        _flag(zero),
        0.0 if zero else math.log10(tx.value) - _WEI_PER_ETHER,
        value_zeros,
        value_digits,
        _flag(zero and tx.input_size == 0 and tx.to_address is not None),
        _log1p10(tx.gas),
        _log1p10(tx.gas_price) - _WEI_PER_GWEI,
        _digits(tx.gas_price)[1],
        _flag(tx.gas_used is not None),
        ratio,
        _flag(tx.input_size > 0),
        _flag(tx.to_address is None),
        _log1p10(tx.input_size),
    )


_NAMES_V4: tuple[str, ...] = (
    *_NAMES_V3,
    "log_sent_last_hour",
    "log_value_sent_last_hour",
    "log_sent_last_day",
    "log_value_sent_last_day",
    "log_counterparties_last_day",
    "sender_is_new",
    "log_sender_age_s",
    "log_send_rate",
    "value_vs_sender_median",
)


def history_features(value: int, history: SenderHistory) -> tuple[float, ...]:
    """The history columns of feature set 4 for a transaction of ``value`` wei whose
    sender has ``history`` (see the module docstring), in order."""
    new = history.age is None
    age_s = 0.0 if history.age is None else max(history.age.total_seconds(), 0.0)
    relative = 0.0
    if value > 0 and history.median_value is not None:
        relative = math.log10(value) - math.log10(history.median_value)
    return (
        _log1p10(history.sent_last_hour),
        _log1p10(history.value_last_hour),
        _log1p10(history.sent_last_day),
        _log1p10(history.value_last_day),
        _log1p10(history.counterparties_last_day),
        _flag(new),
        math.log10(1.0 + age_s),
        math.log10((1 + history.sent_last_day) / (1.0 + min(age_s, _WINDOW_S))),
        relative,
    )


@dataclass(frozen=True, slots=True)
class _FeatureSet:
    names: tuple[str, ...]
    static: Callable[[Transaction], tuple[float, ...]]  # the columns of the transaction alone
    uses_history: bool = False  # then ``history_features`` follow the static columns


_VERSIONS: dict[int, _FeatureSet] = {
    1: _FeatureSet(_NAMES_V1, _extract_v1),
    2: _FeatureSet(_NAMES_V2, _extract_v2),
    3: _FeatureSet(_NAMES_V3, _extract_v3),
    4: _FeatureSet(_NAMES_V4, _extract_v3, uses_history=True),
}

SUPPORTED_FEATURE_VERSIONS: frozenset[int] = frozenset(_VERSIONS)


def _version(version: int) -> _FeatureSet:
    try:
        return _VERSIONS[version]
    except (KeyError, TypeError):
        known = ", ".join(str(v) for v in sorted(_VERSIONS))
        raise InvalidInput(
            f"unknown feature set version {version!r}; this build computes {known}",
            field="feature_version",
        ) from None


def needs_history(version: int) -> bool:
    """Whether feature set ``version`` needs a ``SenderHistory`` per transaction
    (``InvalidInput`` if unknown)."""
    return _version(version).uses_history


def static_features(tx: Transaction, version: int) -> tuple[float, ...]:
    """The columns of feature set ``version`` that depend on ``tx`` alone: all of them,
    or, for a set that ``needs_history``, those before the history columns. With
    ``with_history`` this is ``extract_features`` in two steps (training computes the
    histories after reading every row)."""
    return _version(version).static(tx)


def with_history(
    static: tuple[float, ...], value: int, history: SenderHistory | None, version: int
) -> tuple[float, ...]:
    """The full row from ``static_features`` and, for a set that needs it, the sender's
    ``history`` (``InvalidInput`` when missing) of a transaction of ``value`` wei."""
    if not _version(version).uses_history:
        return static
    if history is None:
        raise InvalidInput(
            f"feature set {version} needs the sender's history: pass history=SenderHistory",
            field="history",
        )
    return (*static, *history_features(value, history))


def feature_names(version: int = FEATURE_VERSION) -> tuple[str, ...]:
    """The column names of feature set ``version`` (``InvalidInput`` if unknown)."""
    return _version(version).names


FEATURE_NAMES: tuple[str, ...] = feature_names(FEATURE_VERSION)


def extract_features(
    tx: Transaction, version: int = FEATURE_VERSION, *, history: SenderHistory | None = None
) -> tuple[float, ...]:
    """The feature row of ``tx`` in feature set ``version``, in the order of its names.

    Missing optional fields are imputed, never guessed silently: an unknown ``gas_used``
    takes the gas limit (its upper bound) and ``gas_used_known`` is 0.0; a missing
    ``to_address`` is a contract creation. ``history`` is the sender's history just before
    ``tx``: required by the sets that use it (``needs_history``), ignored by the others.
    Raises ``InvalidInput`` for an unknown version or a missing history.
    """
    return with_history(static_features(tx, version), tx.value, history, version)


def feature_rows(
    txs: Iterable[Transaction], version: int = FEATURE_VERSION
) -> list[tuple[float, ...]]:
    """``extract_features`` for each transaction, in order. For a set that needs sender
    history, ``txs`` are taken as the whole history: each row's history comes from the
    rows before it (in time order) among them (``domain.history.sweep_histories``)."""
    rows = list(txs)
    histories = sweep_histories(rows) if needs_history(version) else {}
    return [extract_features(tx, version, history=histories.get(tx.hash)) for tx in rows]
