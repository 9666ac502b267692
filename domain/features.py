"""Transaction -> feature vector: pure, deterministic and versioned.

Raw amounts span about twenty orders of magnitude (wei values up to 2**256-1, gas prices
from 1 wei to thousands of gwei), which wrecks distance- and tree-based detectors. Every
amount therefore enters as ``log10(1 + x)``, computed from the exact integer (Python's
``math.log10`` takes integers of any size without a float overflow), so each feature is a
finite float of modest size for every valid transaction.

``FEATURE_VERSION`` is stored with every model version: change it whenever the meaning,
order or number of ``FEATURE_NAMES`` changes, so a model is never fed rows it was not
trained on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from domain.model import Transaction

FEATURE_VERSION = 1

FEATURE_NAMES: tuple[str, ...] = (
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

_SECONDS_PER_DAY = 86_400


def _log1p10(amount: int) -> float:
    """``log10(1 + amount)`` for an exact non-negative integer of any size."""
    return math.log10(1 + amount)


def extract_features(tx: Transaction) -> tuple[float, ...]:
    """The feature row of ``tx``, in the order of ``FEATURE_NAMES``.

    Missing optional fields are imputed, never guessed silently: an unknown ``gas_used``
    takes the gas limit (its upper bound) and ``gas_used_known`` is 0.0; a missing
    ``to_address`` is a contract creation. The hour of day is cyclic (sin/cos of the UTC
    time of day), so 23:59 and 00:00 are neighbours.
    """
    gas_used_known = tx.gas_used is not None
    gas_used = tx.gas_used if tx.gas_used is not None else tx.gas
    gas_used_ratio = gas_used / tx.gas if tx.gas > 0 else 1.0
    moment = tx.timestamp
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
    angle = 2.0 * math.pi * seconds / _SECONDS_PER_DAY
    return (
        _log1p10(tx.value),
        _log1p10(tx.gas),
        _log1p10(tx.gas_price),
        _log1p10(gas_used),
        1.0 if gas_used_known else 0.0,
        gas_used_ratio,
        _log1p10(tx.gas * tx.gas_price),
        1.0 if tx.value == 0 else 0.0,
        1.0 if tx.input_size > 0 else 0.0,
        1.0 if tx.to_address is None else 0.0,
        _log1p10(tx.input_size),
        math.sin(angle),
        math.cos(angle),
    )


def feature_rows(txs: Iterable[Transaction]) -> list[tuple[float, ...]]:
    """``extract_features`` for each transaction, in order."""
    return [extract_features(tx) for tx in txs]
