"""Anomaly detectors: ``ports.detector.DetectorFactory`` backed by pyod and scikit-learn."""

from adapters.detectors.pipeline import PyodDetector
from adapters.detectors.pyod_factory import PyodDetectorFactory

__all__ = ["PyodDetector", "PyodDetectorFactory"]
