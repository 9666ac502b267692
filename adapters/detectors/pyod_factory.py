"""``ports.detector.DetectorFactory`` backed by pyod (IForest, ECOD, COPOD, HBOS).

Artifacts are written with ``pyod.utils.persistence.save`` (a joblib pickle inside pyod's
version envelope; dependency drift is reported as a warning on load). Loading a pickle
executes code: ``load`` must only see bytes whose sha256 the caller has checked against
the model version row (``domain.services.artifacts.load_artifact`` does that).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from adapters.detectors.params import ALGORITHM_PARAMS, check_algorithm, resolve_params
from adapters.detectors.pipeline import FittedPipeline, PyodDetector, fit_pipeline
from domain.errors import InvalidInput
from ports.detector import TrainedDetector, TrainingSet

ARTIFACT_FORMAT = 1
_FORMAT_KEY = "chainwatch_artifact_format"


def _persistence() -> Any:
    # pyod's package import loads its model zoo (~2 s); only training and loading need it.
    from pyod.utils import persistence

    return persistence


def _serialise(pipeline: FittedPipeline) -> bytes:
    persistence = _persistence()
    buffer = io.BytesIO()
    persistence.save(pipeline.to_payload(), buffer, metadata={_FORMAT_KEY: ARTIFACT_FORMAT})
    return buffer.getvalue()


def _deserialise(artifact: bytes) -> FittedPipeline:
    persistence = _persistence()
    try:
        payload, envelope = persistence.load(
            io.BytesIO(artifact), return_metadata=True, trusted=True
        )
    except Exception as error:  # a damaged pickle can raise nearly anything
        raise InvalidInput(
            f"the artifact cannot be read as a pyod detector: {error}", field="artifact"
        ) from None
    metadata = (envelope or {}).get("metadata") or {}
    if not isinstance(payload, dict) or metadata.get(_FORMAT_KEY) != ARTIFACT_FORMAT:
        raise InvalidInput(
            f"the artifact is not a chainwatch detector (format {ARTIFACT_FORMAT} expected)",
            field="artifact",
        )
    return FittedPipeline.from_payload(payload)


class PyodDetectorFactory:
    """Trains and loads pyod pipelines (see ``adapters.detectors.pipeline``).

    ``train`` is deterministic for the same rows, labels and params (``random_state``
    defaults to 42). ``load`` warms the detector with a dummy batch, so one-off costs
    (numba compilation for HBOS, lazy imports) are paid before the service says ready.
    """

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset(ALGORITHM_PARAMS)

    def train(
        self, algorithm: str, params: Mapping[str, object], data: TrainingSet
    ) -> TrainedDetector:
        resolved = resolve_params(check_algorithm(algorithm), params)
        fitted = fit_pipeline(algorithm, resolved, data.rows, data.labels)
        return TrainedDetector(
            artifact=_serialise(fitted.pipeline),
            training_scores=fitted.training_scores,
            supervised=fitted.pipeline.supervised,
            params=resolved,
        )

    def load(self, artifact: bytes) -> PyodDetector:
        detector = PyodDetector(_deserialise(artifact))
        detector.score([[0.0] * detector.n_features])
        return detector
