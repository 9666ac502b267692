"""Several HTTP worker processes on one listening socket: ``chainwatch serve --workers N``.

The supervisor (the process ``chainwatch serve`` started as) binds the socket, applies the
migrations before any worker exists (so they never race), then starts ``N`` workers with
the ``spawn`` method: each is a fresh interpreter that builds its own container, app and
database pool and runs the same ``DrainingServer`` a single-process server runs, on the
shared socket (the kernel spreads connections over the workers). Work that must happen
once per database even so - the bootstrap model, jobs - is serialised through the
database's locks and leases, as between replicas.

- SIGTERM or SIGINT to the supervisor: it closes its own copy of the socket and passes the
  signal on once to every worker, each of which drains as ``entrypoints.http.draining``
  says; the supervisor exits when they all have (within the grace period: each worker has
  its own watchdog).
- A worker that dies (``kill -9``, out of memory) is started again; one that cannot start
  its server at all stops the supervisor with ``EXIT_SERVER_FAILED``.
- The supervisor dying (even by ``kill -9``) takes its workers with it
  (``PR_SET_PDEATHSIG``), so no orphan keeps serving.
- Prometheus: the supervisor points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder for its
  workers (removed at exit), so counters and histograms on ``/metrics`` add up over every
  worker, whichever answers the scrape (``entrypoints.http.observability``).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from adapters.piccolo import PostgresConfig
from entrypoints.settings import Settings

EXIT_SERVER_FAILED = 3
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
_POLL_S = 0.2
_PR_SET_PDEATHSIG = 1
_logger = logging.getLogger("chainwatch.http.workers")

WorkerMain = Callable[[Settings, str, int, socket.socket], None]
"""What a worker runs: settings, host, port and the shared listening socket in; it serves
until signalled and exits with the server's own code."""


def worker_count(settings: Settings, requested: int | None = None) -> int:
    """How many workers to run: ``requested`` (``--workers``), else ``settings.workers``
    (``CHAINWATCH_WORKERS``), else one per CPU this process may use (``usable_cpus``) on
    PostgreSQL and one on SQLite (one writer at a time: more processes only queue on its lock)."""
    chosen = requested if requested is not None else settings.workers
    if chosen is not None:
        return chosen
    if not isinstance(settings.database, PostgresConfig):
        return 1
    return usable_cpus()


def usable_cpus(cgroup_cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """CPUs this process may use: those its affinity mask allows (``taskset``, cpusets),
    and no more than its cgroup's CPU quota rounded up (a Kubernetes CPU limit, ``docker
    --cpus``), not the machine's count."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        quota = cpu_quota(cgroup_cpu_max.read_text())
    except OSError:
        quota = None
    return max(1, cpus if quota is None else min(cpus, quota))


def cpu_quota(cpu_max: str) -> int | None:
    """CPUs a cgroup v2 ``cpu.max`` (``"<quota> <period>"`` or ``"max <period>"``) allows,
    rounded up; None when unlimited or unreadable."""
    parts = cpu_max.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))


class Supervisor:
    """Runs ``count`` workers (see the module docstring); ``run()`` returns the exit code."""

    def __init__(
        self,
        settings: Settings,
        host: str,
        port: int,
        count: int,
        main: WorkerMain,
        listener: socket.socket,
    ) -> None:
        self._settings = settings
        self._host = host
        self._port = port
        self._count = count
        self._main = main
        self._listener: socket.socket | None = listener
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[BaseProcess] = []
        self._signal: int | None = None
        self._forwarded = False

    def run(self) -> int:
        metrics_dir = tempfile.mkdtemp(prefix="chainwatch-metrics-")
        os.environ[MULTIPROC_DIR] = metrics_dir
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self._workers = [self._start() for _ in range(self._count)]
            _logger.info("started %d HTTP workers", self._count)
            return self._supervise()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all()
            os.environ.pop(MULTIPROC_DIR, None)
            shutil.rmtree(metrics_dir, ignore_errors=True)

    def _start(self) -> BaseProcess:
        assert self._listener is not None
        worker = self._context.Process(
            target=_worker,
            args=(self._main, self._settings, self._host, self._port, self._listener),
            name="chainwatch-http-worker",
        )
        worker.start()
        return worker

    def _supervise(self) -> int:
        while True:
            if self._signal is not None and not self._forwarded:
                self._forward(self._signal)
            alive = 0
            for index, worker in enumerate(self._workers):
                if worker.is_alive():
                    alive += 1
                    continue
                if self._forwarded:
                    continue
                if worker.exitcode == EXIT_SERVER_FAILED:
                    _logger.error("an HTTP worker could not start its server; stopping")
                    self._forward(signal.SIGTERM)
                    self._join_all()
                    return EXIT_SERVER_FAILED
                _logger.warning(
                    "HTTP worker %s exited with %s; starting another", worker.pid, worker.exitcode
                )
                self._workers[index] = self._start()
                alive += 1
            if self._forwarded and alive == 0:
                return 0
            time.sleep(_POLL_S)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: note it only; the loop passes it on.
        self._signal = sig

    def _forward(self, sig: int) -> None:
        """Stop taking connections here and pass ``sig`` on once to every worker."""
        self._forwarded = True
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for worker in self._workers:
            if worker.is_alive() and worker.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, sig)

    def _join_all(self) -> None:
        deadline = time.monotonic() + self._settings.shutdown.grace_s + 1
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def _stop_all(self) -> None:
        """Whatever still runs past the grace period (or after an error here) is killed."""
        if not self._forwarded:
            self._forward(signal.SIGTERM)
        self._join_all()
        for worker in self._workers:
            if worker.is_alive():
                worker.kill()
                worker.join(5)


def _worker(
    main: WorkerMain, settings: Settings, host: str, port: int, listener: socket.socket
) -> None:
    _die_with_parent()
    # Its own process group: a terminal's Ctrl-C reaches the supervisor, which passes it
    # on once, instead of every worker seeing it twice.
    os.setpgid(0, 0)
    main(settings, host, port, listener)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the supervisor died before prctl took effect
        os._exit(1)
