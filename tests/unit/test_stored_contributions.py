"""``stored_contributions`` rebuilds what a JSON column holds without re-checking it: for
anything ``normalize_contributions`` wrote it must give the same value, and for any other
shape it must answer exactly as ``normalize_contributions`` does."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.piccolo.sql.values import from_json
from domain.errors import InvalidInput
from domain.explanations import (
    MAX_CONTRIBUTIONS,
    Contribution,
    normalize_contributions,
    stored_contributions,
)

_features = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20)
_values = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(st.dictionaries(_features, _values, max_size=MAX_CONTRIBUTIONS))
def test_what_normalize_wrote_reads_back_equal(pairs: dict[str, float]) -> None:
    normal = normalize_contributions([Contribution(f, v) for f, v in pairs.items()])
    stored = msgspec.json.decode(msgspec.json.encode(normal))  # as the column holds it

    assert stored_contributions(stored) == normal
    assert stored_contributions(None) is None


@given(
    st.one_of(
        st.lists(st.tuples(_features, _values), max_size=MAX_CONTRIBUTIONS + 1),
        st.lists(
            st.fixed_dictionaries({"feature": _features, "contribution": st.integers()}),
            max_size=3,
        ),
        st.lists(st.fixed_dictionaries({"feature": _features}), min_size=1, max_size=2),
    )
)
def test_any_other_shape_is_answered_as_normalize_answers_it(value: list[Any]) -> None:
    try:
        expected: Any = normalize_contributions(value)
    except InvalidInput as error:
        with pytest.raises(InvalidInput, match=error.message):
            stored_contributions(value)
        return
    assert stored_contributions(value) == expected


def test_a_stored_non_finite_value_is_still_refused() -> None:
    # What the JSON column reader falls back to for text msgspec refuses reads 1e999 as
    # infinity: not a value normalize ever wrote, so it is checked, and refused.
    decoded = from_json('[{"feature": "gas", "contribution": 1e999}]')
    assert not math.isfinite(decoded[0]["contribution"])
    with pytest.raises(InvalidInput):
        stored_contributions(decoded)
