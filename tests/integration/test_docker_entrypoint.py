"""``ops/docker/entrypoint.sh`` run directly (no Docker engine here): it waits for the
database with a bounded timeout, migrates, then becomes the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import create_scratch_postgres, drop_scratch_postgres, run_in_thread
from tests.integration.test_serve import free_port, get, wait_until_ready

ENTRYPOINT = Path(__file__).resolve().parents[2] / "ops" / "docker" / "entrypoint.sh"
VENV_BIN = str(Path(sys.executable).parent)


def environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    """Ours minus any chainwatch/database settings, with the venv's ``chainwatch`` first on
    PATH (as the image's virtualenv is)."""
    values = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "CHAINWATCH_"))
    }
    values["PATH"] = os.pathsep.join([VENV_BIN, values.get("PATH", "/usr/bin:/bin")])
    values["CHAINWATCH_DATA_DIR"] = str(tmp_path / "data")
    values.update(variables)
    return values


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


def test_with_the_database_down_it_waits_then_fails_clearly_within_the_timeout(
    tmp_path: Path,
) -> None:
    url = f"postgresql://chainwatch:s3cret@127.0.0.1:{closed_port()}/chainwatch"
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own script
        ["/bin/sh", str(ENTRYPOINT)],
        env=environment(tmp_path, DATABASE_URL=url, CHAINWATCH_DB_WAIT_SECONDS="3"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    elapsed = time.monotonic() - started

    assert result.returncode == 1
    assert 2 <= elapsed <= 8
    assert "waiting up to 3s for PostgreSQL at 127.0.0.1:" in result.stderr
    assert result.stderr.splitlines()[-1].endswith(
        "did not accept connections within 3s; giving up"
    )
    assert "s3cret" not in result.stderr
    assert "applying migrations" not in result.stderr


def test_a_wait_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 - our own script
        ["/bin/sh", str(ENTRYPOINT)],
        env=environment(tmp_path, CHAINWATCH_DB_WAIT_SECONDS="soon"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "CHAINWATCH_DB_WAIT_SECONDS must be a whole number" in result.stderr


@pytest.fixture
def database_url() -> Iterator[str]:
    url = run_in_thread(lambda: create_scratch_postgres("chainwatch_entrypoint"))
    try:
        yield url
    finally:
        run_in_thread(lambda: drop_scratch_postgres(url))


@pytest.mark.postgres
def test_with_the_database_up_it_migrates_and_serves(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "entrypoint.log"
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - our own script
            ["/bin/sh", str(ENTRYPOINT), "--port", str(port)],
            env=environment(tmp_path, DATABASE_URL=database_url, CHAINWATCH_DB_WAIT_SECONDS="10"),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            status, body = wait_until_ready(f"http://127.0.0.1:{port}/ready", server)
            assert (status, body) == (200, {"status": "ready"})
            assert get(f"http://127.0.0.1:{port}/health") == (200, {"status": "ok"})
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n--- output ---\n{log.read_text()}") from None
        finally:
            server.send_signal(signal.SIGTERM)  # the script exec'd: this reaches uvicorn
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                raise
    output_text = log.read_text()
    assert "accepts connections" in output_text
    assert "applied" in output_text  # chainwatch migrate's summary
    assert "Application shutdown complete" in output_text
