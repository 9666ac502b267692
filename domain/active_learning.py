"""Which unlabelled transactions to review next: informativeness plus diversity (pure).

A label teaches the model most where the model is unsure, and where the service's
decision is about to flip. A calibrated score ``q`` (``domain.calibration``: the share of
the version's training scores below this one) is compared with the alert boundary
``b = 1 - alert_share`` on the **logit scale**, ``z = logit(q) - logit(b)``. On that scale
equal steps are equal ratios of tail odds: at the default 1% budget, a score in the top
10% (``q = 0.9``) and one in the top 0.1% (``q = 0.999``) are both about one decade of
odds away from the boundary (``|z| ~ ln 10``), while on the raw scale they would be 0.09
and 0.009 away - the raw scale would treat everything in the top 1% as certain.

``informativeness = (1 - w) * exp(-z**2 / (2 * s**2)) + w * sigmoid(z)``

* the first term is the **boundary uncertainty**, a bell of width ``s`` (default one
  decade, ``ln 10``) around the boundary: the rows whose verdict a label most likely
  changes;
* the second is the **top**: ``sigmoid(z)`` rises to 1 above the boundary, so the highest
  scores that nobody has confirmed yet keep a weight ``w`` (default 0.35) even far beyond
  the bell. They are the alerts analysts see first (a false positive there costs the
  most), and they are where the rare class lives - a queue that only found legitimate
  rows would teach a classifier little.

Then ``limit`` rows are picked greedily, each maximising

``gain = informativeness * density * d / (d + r)``

* ``density`` is how much of the traffic the row stands for: the number of candidates in
  its cell of a grid over the standardised features (z-scored over the candidates and
  the labelled context; cells ``cell`` = 1 standard deviation wide), relative to the
  fullest cell. A label teaches the classifier about the rows like it; an isolated
  outlier's label generalises to almost nothing, one in a dense region to many rows
  ("information density", Settles & Craven 2008). Measured: without it, labels spent
  on rare shapes near the boundary made the model *worse* than random labels.
* ``d / (d + r)`` is the **diversity**: ``d`` is the row's standardised Euclidean
  distance to the nearest row already labelled or already picked, ``r`` (``spacing``,
  default 0.1 standard deviation) the distance at which it counts as half new. A copy of
  a known row (``d = 0``) is worth nothing, so the queue is not twenty near-identical
  transactions; with nothing known yet ``d`` is infinite. As each pick can only lower
  the others' gains, this runs as a lazy greedy (a heap of stale upper bounds), which
  chooses exactly what the plain greedy does while computing few distances.

**Exploration**: a share ``explore`` (default half) of the places, spread evenly and never
the first, goes to the next row in a fixed pseudo-random order (the sha256 of ``salt``
and the hash) that repeats no known row exactly. Scores are the model's own view, and
labels chosen only by it confirm what it believes; these draws keep the labels
representative of the traffic, so the model learns what normal looks like everywhere
and meets the fraud it ranks low.

Deterministic for given candidates and ``salt``: ties go to the earlier candidate.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from domain.errors import InvalidInput

DEFAULT_TOP_WEIGHT = 0.35
DEFAULT_WIDTH = math.log(10.0)
DEFAULT_SPACING = 0.1
DEFAULT_CELL = 1.0
DEFAULT_EXPLORE = 0.5
_EDGE = 1e-9  # keeps logit finite at scores of exactly 0 or 1


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """The selection's knobs (see the module docstring); ``alert_share`` comes from the
    service's alert budget. Raises ``InvalidInput`` naming a knob out of range."""

    alert_share: float = 0.01
    top_weight: float = DEFAULT_TOP_WEIGHT
    width: float = DEFAULT_WIDTH
    spacing: float = DEFAULT_SPACING
    cell: float = DEFAULT_CELL
    explore: float = DEFAULT_EXPLORE
    salt: str = ""

    def __post_init__(self) -> None:
        if not 0.0 < self.alert_share < 1.0:
            raise InvalidInput("alert_share must be between 0 and 1", field="alert_share")
        if not 0.0 <= self.top_weight <= 1.0:
            raise InvalidInput("top_weight must be between 0 and 1", field="top_weight")
        if not self.width > 0.0:
            raise InvalidInput("width must be positive", field="width")
        if not self.spacing > 0.0:
            raise InvalidInput("spacing must be positive", field="spacing")
        if not 0.0 <= self.explore <= 1.0:
            raise InvalidInput("explore must be between 0 and 1", field="explore")
        if not self.cell > 0.0:
            raise InvalidInput("cell must be positive", field="cell")


@dataclass(frozen=True, slots=True)
class Candidate:
    """An unlabelled row: its key (a transaction hash), calibrated score and features."""

    key: str
    score: float
    features: Sequence[float]


@dataclass(frozen=True, slots=True)
class Pick:
    """A chosen row and why: ``uncertainty`` is the boundary bell, ``informativeness``
    the blend with the top term; ``distance`` the standardised distance to the nearest
    labelled or earlier-picked row when it was chosen (None: nothing to compare with);
    ``density`` the share of the fullest grid cell its cell holds; ``gain`` what it won
    with; ``rank`` its place in the queue (1 first)."""

    key: str
    score: float
    uncertainty: float
    informativeness: float
    density: float
    distance: float | None
    gain: float
    rank: int
    reason: str = "informative"
    """``informative`` (won on gain) or ``explore`` (an exploration draw)."""


INFORMATIVE = "informative"
EXPLORE = "explore"


def _logit(q: float) -> float:
    q = min(max(q, _EDGE), 1.0 - _EDGE)
    return math.log(q / (1.0 - q))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def informativeness(score: float, policy: QueuePolicy) -> tuple[float, float]:
    """``(uncertainty, informativeness)`` of a calibrated score (module docstring), each
    in [0, 1]. A NaN score is worth nothing."""
    if math.isnan(score):
        return 0.0, 0.0
    z = _logit(score) - _logit(1.0 - policy.alert_share)
    uncertainty = math.exp(-(z * z) / (2.0 * policy.width * policy.width))
    w = policy.top_weight
    return uncertainty, (1.0 - w) * uncertainty + w * _sigmoid(z)


def standardise(rows: Sequence[Sequence[float]]) -> list[tuple[float, ...]]:
    """Each column z-scored over ``rows`` (mean 0, standard deviation 1); a constant
    column carries no distance and is dropped. Rows must have equal lengths."""
    if not rows:
        return []
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise InvalidInput("feature rows must all have the same length", field="features")
    kept: list[tuple[int, float, float]] = []
    count = len(rows)
    for column in range(width):
        values = [float(row[column]) for row in rows]
        mean = math.fsum(values) / count
        spread = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / count)
        if spread > 0.0 and math.isfinite(spread):
            kept.append((column, mean, spread))
    return [tuple((row[c] - mean) / spread for c, mean, spread in kept) for row in rows]


def densities(points: Sequence[Sequence[float]], cell: float) -> list[float]:
    """For each point, how many of ``points`` share its cell of a grid of side ``cell``,
    relative to the fullest cell (1.0 there)."""
    cells = [tuple(math.floor(v / cell) for v in point) for point in points]
    counts: dict[tuple[int, ...], int] = {}
    for key in cells:
        counts[key] = counts.get(key, 0) + 1
    fullest = max(counts.values(), default=1)
    return [counts[key] / fullest for key in cells]


def _distance(a: Sequence[float], b: Sequence[float]) -> float:
    return math.sqrt(math.fsum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def exploration_order(key: str, salt: str = "") -> bytes:
    """Where ``key`` comes in the exploration order: the sha256 of ``salt`` and the key,
    a fixed pseudo-random permutation that every replica and every restart agrees on."""
    return hashlib.sha256(f"{salt}{key}".encode()).digest()


def is_exploration_slot(rank: int, share: float) -> bool:
    """Whether queue place ``rank`` (1 first) is an exploration pick when a ``share`` of
    the places explores: spread evenly, the first place never (it is the most
    informative row)."""
    return math.floor(rank * share + 1e-9) > math.floor((rank - 1) * share + 1e-9)


def select_for_review(
    candidates: Sequence[Candidate],
    limit: int,
    *,
    policy: QueuePolicy,
    labelled: Sequence[Sequence[float]] = (),
) -> list[Pick]:
    """Up to ``limit`` of ``candidates``, in queue order (module docstring).

    ``labelled`` holds the feature rows of already-labelled rows nearby (same feature
    set): they are not candidates, but a candidate close to one counts as less new.
    Raises ``InvalidInput`` for a ``limit`` below 1 or rows of unequal lengths."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1", field="limit")
    if not candidates:
        return []
    space = standardise([*(c.features for c in candidates), *labelled])
    greedy = _Greedy(candidates, space[: len(candidates)], space[len(candidates) :], policy)
    explore = iter(
        sorted(
            range(len(candidates)), key=lambda i: exploration_order(candidates[i].key, policy.salt)
        )
    )
    picks: list[Pick] = []
    while len(picks) < limit:
        rank = len(picks) + 1
        if is_exploration_slot(rank, policy.explore):
            chosen = greedy.explore(explore)
            if chosen is None:
                chosen = greedy.exploit()
        else:
            chosen = greedy.exploit()
        if chosen is None:
            break
        picks.append(greedy.take(chosen, rank))
    return picks


class _Greedy:
    """The state of one selection: each candidate's distance to the nearest centre
    (labelled or picked row), brought up to date lazily."""

    def __init__(
        self,
        candidates: Sequence[Candidate],
        points: list[tuple[float, ...]],
        centres: list[tuple[float, ...]],
        policy: QueuePolicy,
    ) -> None:
        self.candidates = candidates
        self.points = points
        self.centres = centres
        self.policy = policy
        self.worth = [informativeness(c.score, policy) for c in candidates]
        self.density = densities(points, policy.cell)
        self.nearest = [math.inf] * len(candidates)
        self.seen = [0] * len(candidates)  # how many centres nearest[i] accounts for
        self.taken: set[int] = set()
        self.explored: set[int] = set()
        # Max-heap of upper bounds (a gain never rises as centres are added); the index
        # breaks ties towards the earlier candidate.
        self.heap = [
            (-info * density, i)
            for i, ((_, info), density) in enumerate(zip(self.worth, self.density, strict=True))
        ]
        heapq.heapify(self.heap)
        self.gains: dict[int, float] = {}

    def distance(self, i: int) -> float:
        for centre in self.centres[self.seen[i] :]:
            self.nearest[i] = min(self.nearest[i], _distance(self.points[i], centre))
        self.seen[i] = len(self.centres)
        return self.nearest[i]

    def gain(self, i: int) -> float:
        d = self.distance(i)
        novelty = 1.0 if math.isinf(d) else d / (d + self.policy.spacing)
        return self.worth[i][1] * self.density[i] * novelty

    def exploit(self) -> int | None:
        """The untaken candidate of the greatest gain (lazy greedy), or None."""
        heap = self.heap
        while heap:
            _, i = heapq.heappop(heap)
            if i in self.taken:
                continue
            fresh = self.gain(i)
            if heap and (-fresh, i) > heap[0]:
                heapq.heappush(heap, (-fresh, i))  # another row may be worth more now
                continue
            if self.nearest[i] == 0.0:
                return None  # every row left repeats a known one exactly
            self.gains[i] = fresh
            return i
        return None

    def explore(self, order: Iterator[int]) -> int | None:
        """The next untaken candidate in the exploration order that repeats no known row
        exactly, or None when there is none."""
        for i in order:
            if i not in self.taken and self.distance(i) > 0.0:
                self.explored.add(i)
                self.gains[i] = self.gain(i)
                return i
        return None

    def take(self, i: int, rank: int) -> Pick:
        d = self.distance(i)
        self.taken.add(i)
        self.centres.append(self.points[i])
        candidate = self.candidates[i]
        return Pick(
            key=candidate.key,
            score=candidate.score,
            uncertainty=self.worth[i][0],
            informativeness=self.worth[i][1],
            density=self.density[i],
            distance=None if math.isinf(d) else d,
            gain=self.gains[i],
            rank=rank,
            reason=EXPLORE if i in self.explored else INFORMATIVE,
        )
