"""``chainwatch serve`` end to end: a real process, a real port, the embedded database."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHAINWATCH = str(Path(sys.executable).parent / "chainwatch")
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_ready(url: str, server: subprocess.Popen[bytes]) -> tuple[int, dict[str, object]]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"chainwatch serve exited early with {server.returncode}")
        try:
            status, body = get(url)
            if status == 200:
                return status, body
        except (urllib.error.URLError, ConnectionError):
            pass  # not listening yet
        time.sleep(0.2)
    raise AssertionError(f"chainwatch serve was not ready within {START_TIMEOUT_S} s")


def test_serve_migrates_the_embedded_database_and_becomes_ready(tmp_path: Path) -> None:
    port = free_port()
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "CHAINWATCH_"))
    }
    environment["CHAINWATCH_DATA_DIR"] = str(tmp_path / "data")
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
            [CHAINWATCH, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            status, body = wait_until_ready(f"http://127.0.0.1:{port}/ready", server)
            assert (status, body) == (200, {"status": "ready"})
            assert get(f"http://127.0.0.1:{port}/health") == (200, {"status": "ok"})
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n--- server output ---\n{log.read_text()}") from None
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                exit_code = server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                raise
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: death by that signal.
    assert exit_code in (0, -signal.SIGTERM), log.read_text()
    assert "Application shutdown complete" in log.read_text()

    with sqlite3.connect(tmp_path / "data" / "chainwatch.sqlite3") as connection:
        names = {n for (n,) in connection.execute("SELECT name FROM sqlite_master")}
    assert "transactions" in names
    assert "applied" in log.read_text()
