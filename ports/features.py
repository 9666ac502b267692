"""Bulk feature computation as a port: feature rows of many transactions at once.

``domain.features`` defines every feature set one transaction at a time - the reference.
A ``FeatureEngine`` computes the same rows for columns of stored transactions in bulk
(``adapters.numpy_features``: numpy over columns), which is what makes training on
millions of rows fast; the core cannot use numpy itself. Its rows equal the reference's
within float rounding (a property test holds it to that).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ports.detector import FeatureRows
from ports.repositories import TrainingColumns


class FeatureEngine(Protocol):
    def supports(self, version: int) -> bool:
        """Whether this engine computes feature set ``version`` (sets that need sender
        history are left to the per-row path)."""
        ...

    def features(self, columns: TrainingColumns, version: int) -> FeatureRows:
        """The feature rows of ``columns`` in set ``version`` (one a transaction, in order),
        equal to ``domain.features.extract_features`` of each; ``version`` must be
        ``supports``-ed."""
        ...

    def concatenate(self, blocks: Sequence[FeatureRows]) -> FeatureRows:
        """The rows of ``blocks`` one after another, as one block of this engine's kind
        (slicing it gives rows the detectors take as they are)."""
        ...
