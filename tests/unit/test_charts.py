"""The console's evaluation pictures: accessible inline SVG that is well-formed XML
whatever it is given, and that shows the data it was given."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from domain.services.curves import roc_curve, score_histogram
from entrypoints.http.schemas.models import RocPointOut
from entrypoints.web.charts import histogram_svg, roc_svg

SVG = "{http://www.w3.org/2000/svg}"
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
)


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it well-formed
    assert root.tag == f"{SVG}svg"
    return root


def accessible(root: ET.Element) -> tuple[str, str]:
    """The chart's title and description, checked to be what ``aria-labelledby`` names."""
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return title.text or "", desc.text or ""


def texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def test_a_roc_curve_is_drawn_through_its_points_with_labelled_axes() -> None:
    curve = roc_curve([0.9, 0.8, 0.7, 0.2, 0.1], [True, True, False, True, False])
    root = parsed(roc_svg(curve["points"], title="fraud v3 <ROC> & more"))
    title, desc = accessible(root)
    assert title == "fraud v3 <ROC> & more"  # escaped in the SVG, itself once parsed
    assert "ROC-AUC) is 0.833" in desc
    assert {"False positive rate", "True positive rate"} <= set(texts(root))
    (line,) = root.iter(f"{SVG}polyline")
    assert len(line.get("points", "").split()) == len(curve["points"])


def test_roc_points_may_be_the_api_structs() -> None:
    points = [RocPointOut(0.0, 0.0, None), RocPointOut(0.0, 1.0, 0.5), RocPointOut(1.0, 1.0, 0.1)]
    assert "is 1.000" in accessible(parsed(roc_svg(points, title="perfect")))[1]


def test_no_roc_points_say_there_is_no_curve() -> None:
    root = parsed(roc_svg([], title="unlabelled"))
    assert "No ROC curve" in accessible(root)[1]
    assert list(root.iter(f"{SVG}polyline")) == []


def test_a_histogram_has_a_bar_per_bin_the_fraud_hatched_and_the_alert_boundary() -> None:
    scores = [i / 100 for i in range(100)] + [0.995] * 5
    labels: list[bool | None] = [None] * 100 + [True] * 5
    histogram = score_histogram(scores, labels, rows="held-out", threshold=0.99)
    root = parsed(histogram_svg(histogram["bins"], title="scores", threshold=0.99))
    _, desc = accessible(root)
    assert "Histogram of 105 scores in 20 bins from 0 to 1" in desc
    assert "5 labelled fraud" in desc
    assert "Alert boundary at 0.99; 10 in the bins from 0.95 up" in desc
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("class") in ("bar", "fraud")]
    assert [r.get("class") for r in rects].count("bar") == 20
    assert [r.get("class") for r in rects].count("fraud") == 1
    assert len([line for line in root.iter(f"{SVG}line") if line.get("class") == "threshold"]) == 1
    assert {"Calibrated score", "Rows", "labelled fraud"} <= set(texts(root))


def test_two_histograms_on_one_page_do_not_share_ids() -> None:
    bins = score_histogram([0.1, 0.9], [True, None], rows="held-out", threshold=0.5)["bins"]
    first, second = (parsed(histogram_svg(bins, title=t)) for t in ("v1", "v2"))
    ids = [{e.get("id") for e in root.iter() if e.get("id")} for root in (first, second)]
    assert ids[0]
    assert ids[1]
    assert not ids[0] & ids[1]


def test_an_empty_histogram_says_so() -> None:
    root = parsed(histogram_svg([], title="nothing", threshold=0.99))
    assert "No score histogram" in accessible(root)[1]


@given(
    st.lists(st.dictionaries(st.sampled_from(["fpr", "tpr", "threshold"]), anything), max_size=30),
    st.text(),
)
def test_any_roc_input_renders_well_formed_accessible_xml(
    points: list[dict[str, Any]], title: str
) -> None:
    root = parsed(roc_svg(points, title=title))
    accessible(root)


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["lower", "upper", "count", "fraud", "legitimate"]), anything
        ),
        max_size=30,
    ),
    st.text(),
    st.one_of(st.none(), st.floats()),
)
def test_any_histogram_input_renders_well_formed_accessible_xml(
    bins: list[dict[str, Any]], title: str, threshold: float | None
) -> None:
    root = parsed(histogram_svg(bins, title=title, threshold=threshold))
    accessible(root)
    for element in root.iter():
        for name in ("x", "y", "width", "height", "x1", "y1", "x2", "y2"):
            value = element.get(name)
            assert value is None or ("nan" not in value and "inf" not in value)
