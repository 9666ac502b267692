"""Evaluation pictures as inline SVG: a version's ROC curve and its score histogram.

Pure functions from the data kept in a version's metrics (``domain.services.curves``: ROC
points ``{"fpr", "tpr", "threshold"}``, histogram bins ``{"lower", "upper", "count",
"fraud", "legitimate"}`` - mappings, or objects with those attributes such as the API's
``RocPointOut``) to one ``<svg>`` element a template can put in a page as it is. Each is
accessible on its own: ``role="img"``, a ``<title>`` and a ``<desc>`` that says in words
what the picture shows (``aria-labelledby`` both), labelled axes, and shapes drawn in
``currentColor`` so they follow the page's text colour; fraud bars are told apart by a
hatch pattern as well as their colour. Every text is escaped, characters XML cannot carry
are dropped, and numbers that are not finite are left out, so any input renders
well-formed XML. No template logic: whether there is a curve to show is the caller's.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape

WIDTH, HEIGHT = 360, 300
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 34, 46  # margins: axis labels and the visible title
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Not allowed anywhere in an XML 1.0 document, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def roc_svg(points: Iterable[object], *, title: str) -> str:
    """The ROC curve through ``points`` (false positive rate across, true positive rate
    up, each clamped into ``[0, 1]``; points without finite rates are left out), over the
    diagonal a random ranking would follow. With no points the axes are drawn with a
    note saying there is no curve."""
    curve = sorted(
        (min(max(fpr, 0.0), 1.0), min(max(tpr, 0.0), 1.0))
        for fpr, tpr in ((_number(p, "fpr"), _number(p, "tpr")) for p in points)
        if fpr is not None and tpr is not None
    )
    if curve:
        area = _area(curve)
        summary = (
            f"ROC curve through {len(curve)} points; the area under it (ROC-AUC) is "
            f"{area:.3f}, where 0.5 is a random ranking and 1 a perfect one."
        )
    else:
        summary = "No ROC curve: too few labelled rows of either class to draw one."
    body = [
        *_axes("False positive rate", "True positive rate", _ticks(TICKS), _ticks(TICKS)),
        _line((0.0, 0.0), (1.0, 1.0), 'stroke-dasharray="4 4" opacity="0.5"'),
    ]
    if curve:
        path = " ".join(f"{_x(fpr):.2f},{_y(tpr):.2f}" for fpr, tpr in curve)
        body.append(
            f'<polyline class="roc-curve" points="{path}" fill="none" '
            'stroke="currentColor" stroke-width="2"/>'
        )
    else:
        body.append(_note("No curve"))
    return _svg("roc", _key("roc", title, curve), title, summary, body)


def histogram_svg(bins: Iterable[object], *, title: str, threshold: float | None = None) -> str:
    """Bars of ``bins`` (``lower``/``upper`` across, ``count`` up; the labelled ``fraud``
    rows of a bin hatched inside its bar) and, when given, a dashed line at ``threshold``
    (the alert boundary). Bins without finite edges (or beyond 1e15), or with
    ``upper <= lower``, are left out; negative counts count as 0."""
    kept = [
        (lower, upper, _count(b, "count"), _count(b, "fraud"))
        for b, lower, upper in ((b, _number(b, "lower"), _number(b, "upper")) for b in bins)
        if lower is not None and upper is not None and -_FAR <= lower < upper <= _FAR
    ]
    if not kept:
        body = [*_axes("Calibrated score", "Rows", _ticks(TICKS), _ticks((0.0,))), _note("No data")]
        summary = "No score histogram: no scores to count."
        return _svg("histogram", _key("histogram", title, kept), title, summary, body)
    low, high = min(k[0] for k in kept), max(k[1] for k in kept)
    tallest = max(max(k[2], k[3]) for k in kept) or 1
    across = [low + (high - low) * t for t in TICKS]
    body = _axes(
        "Calibrated score",
        "Rows",
        [((t - low) / (high - low), _label(t)) for t in across],
        [(t, f"{round(tallest * t):,}") for t in (0.0, 0.5, 1.0)],
    )
    key = _key("histogram", title, (kept, threshold))
    hatch = f'fill="url(#{key}-hatch)" stroke="currentColor" stroke-width="0.5"'
    body.append(_hatch_pattern(f"{key}-hatch"))
    for lower, upper, count, fraud in kept:
        left, right = (lower - low) / (high - low), (upper - low) / (high - low)
        body.append(_bar(left, right, count / tallest, "bar", 'fill="currentColor" opacity="0.35"'))
        if fraud:
            body.append(_bar(left, right, min(fraud, count or fraud) / tallest, "fraud", hatch))
    total, frauds = sum(k[2] for k in kept), sum(k[3] for k in kept)
    fullest = max(kept, key=lambda k: k[2])
    summary = (
        f"Histogram of {total:,} scores in {len(kept)} bins from {_label(low)} to "
        f"{_label(high)}; the fullest bin, {_label(fullest[0])} to {_label(fullest[1])}, "
        f"holds {fullest[2]:,}."
    )
    if frauds:
        summary += f" {frauds:,} labelled fraud, hatched."
    if threshold is not None and math.isfinite(threshold):
        summary += f" Alert boundary at {_label(threshold)}"
        reaching = [k for k in kept if k[1] > threshold]
        if reaching:
            start, count = min(k[0] for k in reaching), sum(k[2] for k in reaching)
            summary += f"; {count:,} in the bins from {_label(start)} up"
        summary += "."
        if low <= threshold <= high:
            at = (threshold - low) / (high - low)
            body.append(_line((at, 0.0), (at, 1.0), 'class="threshold" stroke-dasharray="6 3"'))
            body.append(
                f'<text x="{_x(at) - 4:.2f}" y="{TOP + 12}" text-anchor="end" '
                f'font-size="11" fill="currentColor">alert {escape(_label(threshold))}</text>'
            )
    if frauds:
        body.append(
            f'<rect x="{LEFT + PLOT_W - 96}" y="{TOP + 18}" width="12" height="12" {hatch}/>'
            f'<text x="{LEFT + PLOT_W - 80}" y="{TOP + 28}" font-size="11" '
            'fill="currentColor">labelled fraud</text>'
        )
    return _svg("histogram", key, title, summary, body)


_FAR = 1e15  # bin edges beyond it are left out: the scale across must stay finite


def _key(kind: str, title: str, data: object) -> str:
    """An id prefix for one chart, the same for the same chart (pages stay reproducible)
    and different for different ones on one page."""
    return f"{kind}-{hashlib.sha256(f'{kind}{title!r}{data!r}'.encode()).hexdigest()[:10]}"


def _svg(kind: str, key: str, title: str, summary: str, body: Sequence[str]) -> str:
    clean = _text(title)
    title_id, desc_id = f"{key}-title", f"{key}-desc"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-labelledby="{title_id} {desc_id}">'
        f'<title id="{title_id}">{escape(clean)}</title>'
        f'<desc id="{desc_id}">{escape(_text(summary))}</desc>'
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="13" '
        f'font-weight="bold" fill="currentColor">{escape(clean)}</text>'
        f"{''.join(body)}</svg>"
    )


def _axes(
    across: str,
    up: str,
    x_ticks: Sequence[tuple[float, str]],
    y_ticks: Sequence[tuple[float, str]],
) -> list[str]:
    """The two axes with their ticks (positions as shares of the plot) and labels."""
    parts = [
        _line((0.0, 0.0), (1.0, 0.0), 'class="axis"'),
        _line((0.0, 0.0), (0.0, 1.0), 'class="axis"'),
        f'<text class="axis-label" x="{LEFT + PLOT_W / 2}" y="{HEIGHT - 8}" '
        f'text-anchor="middle" font-size="12" fill="currentColor">{escape(across)}</text>',
        f'<text class="axis-label" x="14" y="{TOP + PLOT_H / 2}" text-anchor="middle" '
        f'font-size="12" fill="currentColor" transform="rotate(-90 14 {TOP + PLOT_H / 2})">'
        f"{escape(up)}</text>",
    ]
    for at, label in x_ticks:
        parts.append(
            f'<text x="{_x(at):.2f}" y="{TOP + PLOT_H + 16}" text-anchor="middle" '
            f'font-size="10" fill="currentColor">{escape(label)}</text>'
        )
    for at, label in y_ticks:
        parts.append(
            f'<text x="{LEFT - 6}" y="{_y(at) + 3:.2f}" text-anchor="end" font-size="10" '
            f'fill="currentColor">{escape(label)}</text>'
        )
    return parts


def _ticks(values: Sequence[float]) -> list[tuple[float, str]]:
    return [(value, _label(value)) for value in values]


def _line(start: tuple[float, float], end: tuple[float, float], extra: str) -> str:
    return (
        f'<line x1="{_x(start[0]):.2f}" y1="{_y(start[1]):.2f}" x2="{_x(end[0]):.2f}" '
        f'y2="{_y(end[1]):.2f}" stroke="currentColor" {extra}/>'
    )


def _bar(left: float, right: float, height: float, kind: str, paint: str) -> str:
    return (
        f'<rect class="{kind}" x="{_x(left):.2f}" y="{_y(height):.2f}" '
        f'width="{max(_x(right) - _x(left) - 1, 0.5):.2f}" height="{height * PLOT_H:.2f}" '
        f"{paint}/>"
    )


def _hatch_pattern(pattern_id: str) -> str:
    return (
        f'<defs><pattern id="{pattern_id}" width="4" height="4" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="4" height="4" fill="#c0392b"/>'
        '<line x1="0" y1="0" x2="0" y2="4" stroke="#ffffff" stroke-width="1.5"/>'
        "</pattern></defs>"
    )


def _note(message: str) -> str:
    return (
        f'<text x="{LEFT + PLOT_W / 2}" y="{TOP + PLOT_H / 2}" text-anchor="middle" '
        f'font-size="13" fill="currentColor">{escape(message)}</text>'
    )


def _x(share: float) -> float:
    return LEFT + share * PLOT_W


def _y(share: float) -> float:
    return TOP + (1.0 - share) * PLOT_H


def _area(curve: Sequence[tuple[float, float]]) -> float:
    """Trapezoid area under the curve, closed at (0, 0) and (1, 1) like every ROC curve."""
    closed = [(0.0, 0.0), *curve, (1.0, 1.0)]
    return math.fsum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in itertools.pairwise(closed))


def _label(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"


def _text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _field(item: object, name: str) -> object:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def _number(item: object, name: str) -> float | None:
    value = _field(item, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        return None
    return number if math.isfinite(number) else None


def _count(item: object, name: str) -> int:
    value = _number(item, name)
    return 0 if value is None else max(0, int(value))
