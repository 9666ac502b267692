"""domain.explanations: a prediction's top contributions are few, finite, named and
largest first, whatever a detector hands in."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.explanations import (
    MAX_CONTRIBUTIONS,
    Contribution,
    normalize_contributions,
    top_contributions,
    top_contributions_of_rows,
)
from domain.features import SUPPORTED_FEATURE_VERSIONS, feature_names
from domain.model import Prediction
from tests.builders import a_model, a_model_version, a_transaction

finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def explained_rows(draw: st.DrawFn) -> tuple[tuple[str, ...], list[float]]:
    names = feature_names(draw(st.sampled_from(sorted(SUPPORTED_FEATURE_VERSIONS))))
    values = draw(st.lists(finite, min_size=len(names), max_size=len(names)))
    return names, values


@settings(max_examples=300)
@given(explained_rows(), st.integers(0, 10))
def test_top_contributions_are_few_finite_named_and_largest_first(
    row: tuple[tuple[str, ...], list[float]], limit: int
) -> None:
    names, values = row

    top = top_contributions(names, values, limit)

    sizes = [abs(item.contribution) for item in top]
    assert len(top) <= min(limit, MAX_CONTRIBUTIONS)
    assert all(math.isfinite(item.contribution) and item.contribution != 0.0 for item in top)
    assert sizes == sorted(sizes, reverse=True)
    features = [item.feature for item in top]
    assert len(set(features)) == len(features)
    assert set(features) <= set(names)
    left_out = sorted((abs(v) for v in values), reverse=True)[len(top) :]
    assert all(size >= other for size in sizes for other in left_out)


@settings(max_examples=200)
@given(explained_rows())
def test_a_prediction_keeps_its_contributions_and_reads_back_from_json_shapes(
    row: tuple[tuple[str, ...], list[float]],
) -> None:
    names, values = row
    top = top_contributions(names, values)
    version = a_model_version(a_model(), 1)
    prediction = Prediction(a_transaction().hash, version.id, 0.5, False, contributions=top)

    as_objects = [{"feature": c.feature, "contribution": c.contribution} for c in top]
    as_pairs = [[c.feature, c.contribution] for c in reversed(top)]

    assert prediction.contributions == top
    assert normalize_contributions(as_objects) == top
    from_pairs = normalize_contributions(as_pairs)
    assert from_pairs is not None
    assert set(from_pairs) == set(top)
    assert [abs(c.contribution) for c in from_pairs] == [abs(c.contribution) for c in top]


def test_ties_keep_feature_order_and_zeros_are_no_part() -> None:
    top = top_contributions(("a", "b", "c", "d"), [0.0, -2.0, 2.0, 0.5])

    assert top == (Contribution("b", -2.0), Contribution("c", 2.0), Contribution("d", 0.5))


@pytest.mark.parametrize(
    "contributions",
    [
        [Contribution("f", 1.0)] * 2,
        [("f" + str(i), 1.0) for i in range(MAX_CONTRIBUTIONS + 1)],
        [("", 1.0)],
        [("f", math.inf)],
        [("f", math.nan)],
        [("f", True)],
        [{"feature": "f"}],
        "f",
    ],
)
def test_invalid_contributions_are_refused(contributions: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_contributions(contributions)
    assert (refused.value.field or "").startswith("contributions")


def test_a_row_of_the_wrong_width_or_not_finite_is_refused() -> None:
    with pytest.raises(InvalidInput, match="expected 2"):
        top_contributions(("a", "b"), [1.0])
    with pytest.raises(InvalidInput, match="finite"):
        top_contributions(("a", "b"), [1.0, math.nan])


def test_not_recorded_is_none_and_nothing_to_say_is_empty() -> None:
    assert normalize_contributions(None) is None
    assert normalize_contributions([]) == ()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d", "e", "f"]),
            st.sampled_from([0.0, 0.5, -0.5, 1.0, -2.0, 3.25]),
        ),
        max_size=7,
    )
)
def test_normalising_is_idempotent_whatever_the_sequence_type(
    pairs: list[tuple[str, float]],
) -> None:
    items = [Contribution(feature, size) for feature, size in pairs]
    try:
        from_list = normalize_contributions(list(items))
    except InvalidInput:
        with pytest.raises(InvalidInput):
            normalize_contributions(tuple(items))
        return
    assert from_list is not None
    assert normalize_contributions(tuple(items)) == from_list
    assert normalize_contributions(from_list) is from_list  # no second pass on the hot path
    assert normalize_contributions(list(from_list)) == from_list
    assert [abs(c.contribution) for c in from_list] == sorted(
        (abs(c.contribution) for c in items), reverse=True
    )


@settings(deadline=None, max_examples=200)
@given(
    st.sampled_from(sorted(SUPPORTED_FEATURE_VERSIONS)).flatmap(
        lambda version: st.tuples(
            st.just(feature_names(version)),
            st.lists(
                st.lists(
                    st.one_of(finite, st.sampled_from([0.0, -0.0, 1.0, -1.0])),
                    min_size=len(feature_names(version)),
                    max_size=len(feature_names(version)),
                ),
                max_size=20,
            ),
        )
    ),
    st.integers(0, 10),
)
def test_the_batch_of_top_contributions_equals_them_row_by_row(
    batch: tuple[tuple[str, ...], list[list[float]]], limit: int
) -> None:
    names, rows = batch

    tops = top_contributions_of_rows(names, rows, limit)

    assert tops == [top_contributions(names, row, limit) for row in rows]
    assert all(normalize_contributions(top) is top for top in tops)


@pytest.mark.parametrize("row", [[1.0], [1.0, math.nan], [math.inf, 0.0]])
def test_the_batch_of_top_contributions_refuses_a_bad_row_like_one_row(row: list[float]) -> None:
    with pytest.raises(InvalidInput) as one:
        top_contributions(("a", "b"), row)
    with pytest.raises(InvalidInput) as batch:
        top_contributions_of_rows(("a", "b"), [[1.0, 2.0], row])

    assert batch.value.message == one.value.message
