"""The browser tests need Chromium: without it they are skipped locally and fail in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ONE_BROWSER_TEST = (
    "tests/browser/test_console_in_chromium.py::test_posts_without_the_csrf_token_are_refused"
)


def _browser_tests_without_chromium(
    tmp_path: Path, **environment: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(CHAINWATCH_CHROMIUM=str(tmp_path / "no-chromium-here"), **environment)
    return subprocess.run(  # noqa: S603 - this interpreter's pytest, fixed arguments
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", ONE_BROWSER_TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("ci", ["true", None], ids=["ci", "local"])
def test_a_missing_chromium_fails_the_browser_tests_in_ci_and_skips_them_locally(
    tmp_path: Path, ci: str | None
) -> None:
    run = _browser_tests_without_chromium(tmp_path, **({"CI": ci} if ci else {}))
    assert "headless Chromium is not usable" in run.stdout, run.stdout[-2000:]
    assert "no-chromium-here does not exist" in run.stdout
    if ci:
        assert run.returncode == 1, run.stdout[-2000:]
        assert "2 errors" in run.stdout
    else:
        assert run.returncode == 0, run.stdout[-2000:]
        assert "2 skipped" in run.stdout
