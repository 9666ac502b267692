"""The real-data benchmark's results: one ``Run`` per scored model, the table, the targets.

Targets (issue 10): chainwatch without labels scores a ROC-AUC at least that of the best
plain pyod baseline; with labels, at least the boosting baseline's plus ``LABELLED_MARGIN``
(mean over the seeds, per label share; the seeds for which it holds on their own are
counted too). A target that does not hold is printed as FAILS, never left out.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from domain.services.evaluation import TOP_SHARE, average_precision, precision_at_top, roc_auc

LABELLED_MARGIN = 0.03
METRICS = ("roc_auc", "average_precision", "precision_at_1pct")
_HEADINGS = ("ROC-AUC", "avg precision", "precision@1%")


def measure(scores: Sequence[float], targets: Sequence[bool]) -> dict[str, float]:
    """The service's own metrics (``domain.services.evaluation``) of ``scores``."""
    return {
        "roc_auc": roc_auc(scores, targets),
        "average_precision": average_precision(scores, targets),
        "precision_at_1pct": precision_at_top(scores, targets, TOP_SHARE),
    }


@dataclass(frozen=True, slots=True)
class Run:
    """One scored model: its name, the labels it was trained with and its test metrics."""

    name: str
    metrics: dict[str, float]
    share: float = 0.0
    seed: int | None = None
    labelled: int = 0
    labelled_scam: int = 0
    note: str = ""
    choice: str = "random"
    """How the labelled rows were chosen (``real_data_quality.LABEL_CHOICES``)."""

    @property
    def roc_auc(self) -> float:
        return self.metrics["roc_auc"]


@dataclass(frozen=True, slots=True)
class LabelledPair:
    """The chainwatch run and the boosting baseline trained on the same labelled rows."""

    chainwatch: Run
    boosting: Run


def _line(label: str, labels: str, cells: Sequence[str], note: str = "") -> str:
    return (f"{label:<28}{labels:>14}" + "".join(f"{c:>19}" for c in cells) + f"  {note}").rstrip()


def _cells(run: Run) -> list[str]:
    return [f"{run.metrics[key]:.4f}" for key in METRICS]


def _mean_cells(runs: Sequence[Run]) -> list[str]:
    cells = []
    for key in METRICS:
        values = [run.metrics[key] for run in runs]
        mean = f"{statistics.fmean(values):.4f}"
        cells.append(f"{mean} ± {statistics.stdev(values):.4f}" if len(values) > 1 else mean)
    return cells


def _by_share(pairs: Sequence[LabelledPair]) -> dict[tuple[str, float], list[LabelledPair]]:
    groups: dict[tuple[str, float], list[LabelledPair]] = {}
    for pair in pairs:
        groups.setdefault((pair.chainwatch.choice, pair.chainwatch.share), []).append(pair)
    return groups


def print_report(
    unsupervised: Run, baselines: Sequence[Run], pairs: Sequence[LabelledPair]
) -> None:
    """The table (one line per run, a mean ± sample standard deviation line per share and
    model), then each target and whether it holds."""
    best = max(baselines, key=lambda run: run.roc_auc)
    print(_line("model", "labels (scam)", _HEADINGS))
    print(_line(unsupervised.name, "0", _cells(unsupervised), unsupervised.note))
    for run in baselines:
        print(_line(run.name, "0", _cells(run), "best pyod" if run is best else ""))
    groups = _by_share(pairs)
    for (choice, share), group in groups.items():
        for side in ("chainwatch", "boosting"):
            runs = [getattr(pair, side) for pair in group]
            name = f"{side} {choice} {share:.0%}"
            for run in runs:
                labels = f"{run.labelled:,} ({run.labelled_scam})"
                print(_line(f"{name} seed {run.seed}", labels, _cells(run), run.note))
            if len(runs) > 1:
                print(_line(f"{name} mean ± sd", "", _mean_cells(runs)))
    print("(± is the sample standard deviation over the seeds)")
    print()
    print("targets:")
    gap = unsupervised.roc_auc - best.roc_auc
    print(
        f"  chainwatch unsupervised ROC-AUC {unsupervised.roc_auc:.4f} >= best baseline, "
        f"{best.name}, {best.roc_auc:.4f}: {'HOLDS' if gap >= 0 else 'FAILS'} ({gap:+.4f})"
    )
    for (choice, share), group in groups.items():
        ours = statistics.fmean(pair.chainwatch.roc_auc for pair in group)
        bar = statistics.fmean(pair.boosting.roc_auc for pair in group) + LABELLED_MARGIN
        seeds = sum(
            1
            for pair in group
            if pair.chainwatch.roc_auc >= pair.boosting.roc_auc + LABELLED_MARGIN
        )
        print(
            f"  chainwatch {choice} {share:.0%} mean ROC-AUC {ours:.4f} >= boosting mean + "
            f"{LABELLED_MARGIN} = {bar:.4f}: {'HOLDS' if ours >= bar else 'FAILS'} "
            f"({ours - bar:+.4f}; per seed: holds for {seeds} of {len(group)})"
        )
    print_queue_targets(groups)


def print_queue_targets(groups: dict[tuple[str, float], list[LabelledPair]]) -> None:
    """The review queue's target: at each share, chainwatch trained on the queue's labels
    scores at least the ROC-AUC of chainwatch on random labels (mean over the seeds), and
    the other two metrics beside it."""
    for (choice, share), group in groups.items():
        random_group = groups.get(("random", share))
        if choice == "random" or random_group is None:
            continue
        cells = []
        for key in METRICS:
            ours = statistics.fmean(pair.chainwatch.metrics[key] for pair in group)
            theirs = statistics.fmean(pair.chainwatch.metrics[key] for pair in random_group)
            cells.append(f"{key} {ours:.4f} vs {theirs:.4f} ({ours - theirs:+.4f})")
        ours_auc = statistics.fmean(pair.chainwatch.roc_auc for pair in group)
        theirs_auc = statistics.fmean(pair.chainwatch.roc_auc for pair in random_group)
        verdict = "HOLDS" if ours_auc >= theirs_auc else "FAILS"
        print(f"  chainwatch {choice} {share:.0%} >= random {share:.0%} (ROC-AUC): {verdict}")
        print(f"    {'; '.join(cells)}")
