"""An outage under load must not flood the log: audit rows that could not be written are
reported as a count, at most once per interval."""

from __future__ import annotations

import logging

import pytest

from entrypoints.http.audit import _Unaudited


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_unaudited_failures_is_one_warning_then_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = Ticks()
    unaudited = _Unaudited(10.0, now=ticks)
    with caplog.at_level(logging.WARNING, logger="chainwatch.http.audit"):
        for _ in range(1_000):
            unaudited.note("POST", "/api/v1/predict", "DatabaseUnavailable", "r1")
            ticks.now += 0.005  # 1,000 failures in 5 s
        assert len(caplog.records) == 1
        assert "(1 unaudited" in caplog.records[0].getMessage()
        ticks.now += 5.5  # 10.5 s after the first warning
        unaudited.note("POST", "/api/v1/predict", "DatabaseUnavailable", "r2")
    assert len(caplog.records) == 2
    message = caplog.records[1].getMessage()
    assert "POST /api/v1/predict: DatabaseUnavailable" in message
    assert "(1000 unaudited since the last such warning)" in message
