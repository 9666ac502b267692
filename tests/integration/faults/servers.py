"""Real ``chainwatch serve`` processes and ``/predict`` load, for the fault tests.

``Server`` runs one process on a free port with its output in a log file (``output()``
puts it into a failure message). ``Load`` posts a fresh transaction per request from
several threads and records every answer: the hashes acknowledged (a 2xx), the counts by
status code, 503s without ``Retry-After``, and connection errors - a refused connection
or one closed without an answer acknowledges nothing, so the caller may retry it
(``retry_elsewhere`` sends the same transaction to the next server, as a client behind a
load balancer would).
"""

from __future__ import annotations

import collections
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CHAINWATCH = str(Path(sys.executable).parent / "chainwatch")
START_TIMEOUT_S = 90.0
SECRET_KEY = "fault-tests-" + "k" * 40  # shared by every server of a test, like replicas
SENDER, RECIPIENT = "0x" + "12" * 20, "0x" + "34" * 20


def server_environment(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a server (or CLI command) on ``database_url``: nothing inherited
    from ours that would configure chainwatch, a small pool (the shared PostgreSQL serves
    other tests too), ``extra`` on top."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "CHAINWATCH_"))
    }
    environment.update(
        DATABASE_URL=database_url,
        CHAINWATCH_DATA_DIR=str(data_dir),
        CHAINWATCH_SECRET_KEY=SECRET_KEY,
        DATABASE_POOL_SIZE="2",
        DATABASE_MAX_OVERFLOW="6",
        CHAINWATCH_DRIFT_REFRESH_S="3600",
    )
    environment.update(extra)
    return environment


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def chainwatch(environment: dict[str, str], *arguments: str) -> str:
    """Run a ``chainwatch`` command to completion; its standard output (it must succeed)."""
    done = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [CHAINWATCH, *arguments], env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"chainwatch {' '.join(arguments)}: {done.stderr}"
    return done.stdout


def service_key(environment: dict[str, str]) -> str:
    """A new ``service`` user's API key, from ``chainwatch create-user``."""
    name = f"load-{secrets.token_hex(4)}"
    output = chainwatch(environment, "create-user", "--username", name, "--role", "service")
    return output.strip().splitlines()[-1]


class Server:
    """One ``chainwatch serve`` process (see the module docstring)."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log
        self._output = log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
            [CHAINWATCH, "serve", "--port", str(self.port)],
            env=environment,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    def ready_status(self) -> int | None:
        """``/ready``'s status code, or None when nothing answers."""
        try:
            return httpx.get(f"{self.url}/ready", timeout=5).status_code
        except httpx.TransportError:
            return None

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(self.failure(f"exited early with {self.process.returncode}"))
            if self.ready_status() == 200:
                return
            time.sleep(0.2)
        raise AssertionError(self.failure(f"not ready within {START_TIMEOUT_S} s"))

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)

    def wait(self, timeout_s: float = 60) -> int:
        return self.process.wait(timeout=timeout_s)

    def output(self) -> str:
        self._output.flush()
        return self._log.read_text(errors="replace")

    def failure(self, what: str) -> str:
        return f"chainwatch serve {what}\n--- server output ---\n{self.output()[-6000:]}"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self._output.close()


@contextmanager
def started(environment: dict[str, str], log: Path) -> Iterator[Server]:
    """A server starting up (``wait_until_ready()`` before use); killed afterwards if it
    still runs. Starting several at once saves a start-up each."""
    server = Server(environment, log)
    try:
        yield server
    finally:
        server.close()


@contextmanager
def serving(environment: dict[str, str], log: Path) -> Iterator[Server]:
    """A ready server for the block; killed afterwards if it still runs."""
    with started(environment, log) as server:
        server.wait_until_ready()
        yield server


def a_transaction() -> dict[str, Any]:
    """A fresh transaction in the old API's shape."""
    return {
        "hash": "0x" + secrets.token_hex(32),
        "from": SENDER,
        "to": RECIPIENT,
        "value": str(10**18 + secrets.randbelow(10**18)),
        "gas": 21000,
        "gasPrice": "30000000000",
        "blockNumber": 18_000_000,
        "timestamp": "2024-01-01T00:00:00Z",
    }


@dataclass
class Outcomes:
    """What the clients saw, in total."""

    sent: set[str] = field(default_factory=set)
    acknowledged: set[str] = field(default_factory=set)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    connection_errors: int = 0
    retried: int = 0
    without_retry_after: int = 0
    examples: dict[int, str] = field(default_factory=dict)
    """One body per non-2xx status, to show in a failure."""

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    def summary(self) -> str:
        codes = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        return (
            f"sent {len(self.sent)}, acknowledged {len(self.acknowledged)}, answers by code "
            f"{{{codes}}}, connection errors {self.connection_errors}, retried "
            f"{self.retried}, 503 without Retry-After {self.without_retry_after}"
        )


class Load:
    """``clients`` threads posting to ``/api/v1/predict`` until ``stop()`` (see the module
    docstring). ``urls()`` gives the servers to use, tried in turn from a different one per
    client; ``on_answer(status, monotonic time)`` sees every answer."""

    def __init__(
        self,
        urls: Callable[[], Sequence[str]],
        key: str,
        *,
        clients: int = 8,
        retry_elsewhere: bool = False,
        on_answer: Callable[[int, float], None] | None = None,
    ) -> None:
        self.outcomes = Outcomes()
        self._urls = urls
        self._headers = {"X-API-Key": key}
        self._retry = retry_elsewhere
        self._on_answer = on_answer
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(index,), daemon=True)
            for index in range(clients)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> Outcomes:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=60)
        return self.outcomes

    def wait_for_acknowledgements(self, count: int, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.outcomes.acknowledged) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} acknowledged: {self.outcomes.summary()}")
            time.sleep(0.05)

    def _client(self, index: int) -> None:
        with httpx.Client(timeout=30, headers=self._headers) as client:
            turn = index
            while not self._stopping.is_set():
                body = a_transaction()
                with self._lock:
                    self.outcomes.sent.add(body["hash"])
                while not self._stopping.is_set():
                    urls = self._urls()
                    if not urls:
                        return
                    turn += 1
                    if self._post(client, urls[turn % len(urls)], body) or not self._retry:
                        break
                    with self._lock:
                        self.outcomes.retried += 1

    def _post(self, client: httpx.Client, url: str, body: dict[str, Any]) -> bool:
        """Send ``body``; False on a connection error (nothing was acknowledged)."""
        try:
            response = client.post(f"{url}/api/v1/predict", json=body)
        except httpx.TransportError:
            with self._lock:
                self.outcomes.connection_errors += 1
            time.sleep(0.01)  # a refused connection comes back at once: do not spin
            return False
        at = time.monotonic()
        with self._lock:
            outcomes = self.outcomes
            outcomes.statuses[response.status_code] += 1
            if 200 <= response.status_code < 300:
                outcomes.acknowledged.add(body["hash"])
            else:
                outcomes.examples.setdefault(response.status_code, response.text[:500])
                if response.status_code == 503 and "retry-after" not in response.headers:
                    outcomes.without_retry_after += 1
        if self._on_answer is not None:
            self._on_answer(response.status_code, at)
        return True
