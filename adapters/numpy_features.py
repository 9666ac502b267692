"""``NumpyFeatureEngine``: feature sets 1-3 of ``domain.features``, computed over columns.

The reference (``domain.features``) computes one transaction at a time from exact Python
integers; here each column becomes one numpy array and each feature one vectorised
expression, so a million rows take a fraction of a second instead of tens of seconds.
Wei amounts arrive as exact decimal text (``TrainingColumns``): numpy parses the text to
the nearest float64 (amounts up to 2**256-1 stay far inside the float range), which is
all a log-scaled feature needs, and the digit features (trailing zeros, significant
digits) are counted on the text itself, so they stay exact. Results equal the reference
within float rounding (a relative 1e-12; ``tests/unit/test_numpy_features.py``).

Feature set 4 needs each sender's history and stays on the per-row path
(``supports(4)`` is false).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import numpy.typing as npt

from domain.features import feature_names
from ports.detector import FeatureRows
from ports.repositories import TrainingColumns

Array = npt.NDArray[np.float64]

_SECONDS_PER_DAY = 86_400.0
_WEI_PER_ETHER = 18.0  # log10
_WEI_PER_GWEI = 9.0  # log10
_VERSIONS = frozenset({1, 2, 3})


class _Columns:
    """The arrays the feature sets are built from, each parsed once."""

    def __init__(self, columns: TrainingColumns) -> None:
        self.columns = columns
        self.value_text = np.asarray(columns.values, dtype=np.str_)
        self.value = self.value_text.astype(np.float64)
        self.gas = np.asarray(columns.gas, dtype=np.float64)
        self.gas_price_text = np.asarray(columns.gas_prices, dtype=np.str_)
        self.gas_price = self.gas_price_text.astype(np.float64)
        known = [used is not None for used in columns.gas_used]
        self.gas_used_known = np.asarray(known, dtype=np.float64)
        used = [
            gas if used is None else used
            for used, gas in zip(columns.gas_used, columns.gas, strict=True)
        ]
        self.gas_used = np.asarray(used, dtype=np.float64)
        self.input_size = np.asarray(columns.input_sizes, dtype=np.float64)
        self.creation = np.asarray(columns.contract_creations, dtype=np.bool_)
        self.zero = self.value == 0.0

    def ratio(self) -> Array:
        """Gas used over the gas limit; 1.0 for a zero limit."""
        out = np.ones_like(self.gas)
        np.divide(self.gas_used, self.gas, out=out, where=self.gas > 0)
        return out

    def log_value_ether(self) -> Array:
        """``log10(value) - 18`` of a nonzero value, 0.0 for zero."""
        out = np.zeros_like(self.value)
        np.log10(self.value, out=out, where=~self.zero)
        return np.where(self.zero, 0.0, out - _WEI_PER_ETHER)

    def empty_transfer(self) -> Array:
        return _flag(self.zero & (self.input_size == 0.0) & ~self.creation)

    def time_of_day(self) -> tuple[Array, Array]:
        seconds = np.fromiter(
            (
                t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6
                for t in self.columns.timestamps
            ),
            dtype=np.float64,
            count=len(self.columns),
        )
        angle = 2.0 * np.pi * seconds / _SECONDS_PER_DAY
        return np.sin(angle), np.cos(angle)


def _flag(condition: npt.NDArray[np.bool_]) -> Array:
    return condition.astype(np.float64)


def _log1p10(amount: Array) -> Array:
    return np.log10(1.0 + amount)


def _digits(text: npt.NDArray[np.str_]) -> tuple[Array, Array]:
    """Trailing decimal zeros and significant digits of decimal text without leading zeros
    (0, 0 for "0"), exact: counted on the text."""
    length = np.strings.str_len(text).astype(np.float64)
    significant = np.strings.str_len(np.strings.rstrip(text, "0")).astype(np.float64)
    zero = significant == 0.0
    return np.where(zero, 0.0, length - significant), significant


def _v1(c: _Columns) -> list[Array]:
    return [
        _log1p10(c.value),
        _log1p10(c.gas),
        _log1p10(c.gas_price),
        _log1p10(c.gas_used),
        c.gas_used_known,
        c.ratio(),
        _log1p10(c.gas * c.gas_price),
        _flag(c.zero),
        _flag(c.input_size > 0.0),
        _flag(c.creation),
        _log1p10(c.input_size),
        *c.time_of_day(),
    ]


def _v2(c: _Columns) -> list[Array]:
    return [
        _flag(c.zero),
        c.log_value_ether(),
        c.empty_transfer(),
        _log1p10(c.gas),
        _log1p10(c.gas_price) - _WEI_PER_GWEI,
        c.gas_used_known,
        c.ratio(),
        _flag(c.input_size > 0.0),
        _flag(c.creation),
        _log1p10(c.input_size),
        *c.time_of_day(),
    ]


def _v3(c: _Columns) -> list[Array]:
    value_zeros, value_digits = _digits(c.value_text)
    return [
        _flag(c.zero),
        c.log_value_ether(),
        value_zeros,
        value_digits,
        c.empty_transfer(),
        _log1p10(c.gas),
        _log1p10(c.gas_price) - _WEI_PER_GWEI,
        _digits(c.gas_price_text)[1],
        c.gas_used_known,
        c.ratio(),
        _flag(c.input_size > 0.0),
        _flag(c.creation),
        _log1p10(c.input_size),
    ]


_BUILDERS = {1: _v1, 2: _v2, 3: _v3}


class NumpyFeatureEngine:
    """``FeatureEngine`` over numpy: rows come back as one float64 matrix."""

    def supports(self, version: int) -> bool:
        return version in _VERSIONS

    def features(self, columns: TrainingColumns, version: int) -> FeatureRows:
        if version not in _VERSIONS:
            raise ValueError(f"feature set {version} is not computed in bulk")
        width = len(feature_names(version))
        if len(columns) == 0:
            return cast(FeatureRows, np.empty((0, width), dtype=np.float64))
        matrix = np.column_stack(_BUILDERS[version](_Columns(columns)))
        return cast(FeatureRows, matrix)

    def concatenate(self, blocks: Sequence[FeatureRows]) -> FeatureRows:
        arrays = [np.asarray(block, dtype=np.float64) for block in blocks]
        if not arrays:
            return cast(FeatureRows, np.empty((0, 0), dtype=np.float64))
        return cast(FeatureRows, np.concatenate(arrays, axis=0))
