"""Issue 13's hot-path figures, both stacks in one run on the same PostgreSQL:

- ``POST /api/v1/predict`` under ``wrk -t2 -cN`` (N = 16 and 64) with
  ``../shared/peers/load/predict.lua`` (a new transaction per request): requests/s, p50,
  p99 and non-2xx for the old stack (``../shared/peers/seed_stack``: FastAPI + SQLAlchemy
  + psycopg2, as its README runs it) and for ``chainwatch serve --workers W``, and the
  ratio; targets: >= 25x, chainwatch p99 <= 25 ms, no non-2xx.
- Server CPU seconds per ``/predict`` request, from ``/proc`` (user + system time of the
  supervisor and every worker over the wrk run; target <= 0.4 ms), and each worker's RSS
  with the model loaded (target <= 400 MB).
- ``GET /health``: chainwatch against a bare Litestar app (``served_apps.bare``) on the
  same server configuration and worker count, in alternating rounds (target >= 0.8x).
- ``--servers uvicorn,granian``: the same figures for chainwatch's app on granian too
  (when ``granian`` is installed; it is not in the locks), the measurement behind the
  choice of uvicorn + uvloop + httptools (``entrypoints/http/server.py``).
- ``--batch-copy``: HOOK for ``benchmarks/batch_copy.py`` (``/predict/batch`` of 1,000
  transactions vs raw asyncpg COPY, and the training figures): called with the running
  chainwatch's URL, a service key and its database URL when that module is present.

    .venv/bin/python benchmarks/hot_path.py [--duration 15] [--connections 16 64]
        [--workers W] [--servers uvicorn,granian] [--skip-peer] [--batch-copy]

Scratch databases are created and dropped (``PG_ADMIN_URL``, default
``postgresql://root@127.0.0.1:5432/postgres``); the peer's venv is made in ``/tmp/peer``
when missing. Absolute numbers vary with the machine and its load: compare the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT.parent / "shared" / "peers"
LUA = PEERS / "load" / "predict.lua"
PEER_VENV = Path("/tmp/peer")  # noqa: S108 - where the peers README puts it
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
SECRET_KEY = "benchmark-only-secret-key-0123456789abcdef"  # noqa: S105 - scratch only
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Load:
    """One wrk run."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


@dataclass
class Figures:
    """One server's figures under one load."""

    stack: str
    path: str
    connections: int
    load: Load
    cpu_ms_per_request: float | None = None


def say(message: str) -> None:
    print(f"== {message}", file=sys.stderr, flush=True)


def wrk(url: str, connections: int, duration_s: int, api_key: str | None = None) -> Load:
    """``wrk -t2 -c<connections>`` on ``url``: POSTs of predict.lua unless ``url`` ends in
    ``/health``."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration_s}s", "--latency"]
    if not url.endswith("/health"):
        command += ["-s", str(LUA)]
    environment = {k: v for k, v in os.environ.items() if k != "API_KEY"}
    if api_key is not None:
        environment["API_KEY"] = api_key
    output = subprocess.run(  # noqa: S603 - fixed arguments
        [*command, url], capture_output=True, text=True, env=environment, check=True
    ).stdout
    return _parse_wrk(output)


def _parse_wrk(output: str) -> Load:
    def ms(text: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]

    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Load(
        requests=int(re.search(r"(\d+) requests in", output).group(1)),  # type: ignore[union-attr]
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=ms(percentiles["50"]),
        p99_ms=ms(percentiles["99"]),
        non_2xx=0 if non_2xx is None else int(non_2xx.group(1)),
        socket_errors=0 if errors is None else sum(int(g) for g in errors.groups()),
    )


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far (``/proc/<pid>/stat``)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def rss_mb(pid: int) -> float:
    fields = Path(f"/proc/{pid}/statm").read_text().split()
    return int(fields[1]) * PAGE_KB / 1024


def _is_helper(pid: int) -> bool:
    """multiprocessing's resource tracker, not a worker."""
    return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()


def wait_for(url: str, timeout_s: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=5) as answer,  # noqa: S310 - local URL
        ):
            if answer.status == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s} s")


@contextlib.contextmanager
def serving(
    command: list[str], ready_url: str, environment: dict[str, str], log: Path, cwd: Path = ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            command, env=environment, cwd=cwd, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_for(ready_url, 240, process)
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def psql(sql: str) -> None:
    command = ["psql", PG_ADMIN_URL, "-qc", sql]
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - our SQL


@contextlib.contextmanager
def scratch_database(name: str) -> Iterator[str]:
    psql(f"drop database if exists {name} with (force)")
    psql(f"create database {name}")
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        psql(f"drop database if exists {name} with (force)")


def peer_figures(args: argparse.Namespace, work: Path) -> list[Figures]:
    if not (PEER_VENV / "bin" / "uvicorn").exists():
        say(f"creating the peer's venv in {PEER_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [
                str(PEER_VENV / "bin" / "pip"),
                "install",
                "-q",
                "-r",
                str(PEERS / "seed_stack" / "requirements.txt"),
            ],
            check=True,
        )
    figures = []
    with scratch_database(f"peer_hot_{os.getpid()}") as url:
        environment = {
            **os.environ,
            "PEER_DATABASE_URL": url.replace("postgresql://", "postgresql+psycopg2://"),
        }
        command = [
            str(PEER_VENV / "bin" / "uvicorn"),
            "app:app",
            "--port",
            str(args.port + 1),
            "--log-level",
            "warning",
        ]
        base = f"http://127.0.0.1:{args.port + 1}"
        with serving(command, f"{base}/docs", environment, work / "peer.log", PEERS / "seed_stack"):
            say("the old stack: warming up")
            wrk(base, 16, 3)
            for connections in args.connections:
                say(f"the old stack: /predict at {connections} connections")
                figures.append(
                    Figures(
                        "old stack", "/predict", connections, wrk(base, connections, args.duration)
                    )
                )
    return figures


def chainwatch_environment(url: str, work: Path) -> dict[str, str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CHAINWATCH_"))
    }
    environment.update(
        DATABASE_URL=url,
        CHAINWATCH_DATA_DIR=str(work / "data"),
        CHAINWATCH_SECRET_KEY=SECRET_KEY,
        # Every request's log line is written, as in production (info), to a file.
        CHAINWATCH_LOG_LEVEL="info",
    )
    return environment


def chainwatch_command(server: str, port: int, workers: int) -> list[str]:
    if server == "uvicorn":
        return [str(BIN / "chainwatch"), "serve", "--port", str(port), "--workers", str(workers)]
    return [
        str(BIN / "granian"),
        "--interface",
        "asgi",
        "--loop",
        "uvloop",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-ws",
        "--factory",
        "benchmarks.served_apps:chainwatch",
    ]


def measured(
    stack: str,
    path: str,
    base: str,
    connections: int,
    args: argparse.Namespace,
    pids: list[int],
    key: str | None,
) -> Figures:
    say(f"{stack}: {path} at {connections} connections")
    before = cpu_seconds(pids)
    load = wrk(base + ("/health" if path == "/health" else ""), connections, args.duration, key)
    used = cpu_seconds(pids) - before
    return Figures(stack, path, connections, load, 1000 * used / max(1, load.requests))


def chainwatch_figures(
    args: argparse.Namespace, work: Path, server: str
) -> tuple[list[Figures], list[float]]:
    figures: list[Figures] = []
    with scratch_database(f"chainwatch_hot_{server}_{os.getpid()}") as url:
        environment = chainwatch_environment(url, work)
        cw = str(BIN / "chainwatch")
        subprocess.run([cw, "migrate"], env=environment, check=True, capture_output=True)  # noqa: S603
        key = (
            subprocess.run(  # noqa: S603
                [cw, "create-user", "--username", "bench", "--role", "service"],
                env=environment,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        base = f"http://127.0.0.1:{args.port}"
        stack = f"chainwatch ({server})"
        command = chainwatch_command(server, args.port, args.workers)
        with serving(command, f"{base}/ready", environment, work / f"{server}.log") as process:
            say(f"{stack}: warming up")
            wrk(base, 16, 3, key)
            pids = process_tree(process.pid)
            for connections in args.connections:
                figures.append(measured(stack, "/predict", base, connections, args, pids, key))
            rss = [rss_mb(pid) for pid in pids if pid != process.pid and not _is_helper(pid)]
            if server == "uvicorn":
                with bare_server(args, work) as (bare, bare_pids):
                    figures += health_figures(
                        [(stack, base, pids), ("bare Litestar", bare, bare_pids)], args
                    )
            else:
                figures += health_figures([(stack, base, pids)], args)
            if args.batch_copy and server == "uvicorn":
                batch_copy_hook(base, key, url)
    return figures, rss


@contextlib.contextmanager
def bare_server(args: argparse.Namespace, work: Path) -> Iterator[tuple[str, list[int]]]:
    """The bare Litestar app on uvicorn with chainwatch's loop, parser and worker count;
    yields its base URL and processes."""
    command = [
        str(BIN / "uvicorn"),
        "benchmarks.served_apps:bare",
        "--port",
        str(args.port + 2),
        "--workers",
        str(args.workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--no-server-header",
        "--log-level",
        "warning",
    ]
    base = f"http://127.0.0.1:{args.port + 2}"
    with serving(command, f"{base}/health", dict(os.environ), work / "bare.log") as process:
        wrk(f"{base}/health", 16, 2)
        yield base, process_tree(process.pid)


HEALTH_ROUNDS = 3


def health_figures(
    servers: list[tuple[str, str, list[int]]], args: argparse.Namespace
) -> list[Figures]:
    """``GET /health`` on each (stack, base URL, processes), in alternating rounds (the
    machine's load changes from second to second; alternating gives every server the same
    share of it): per stack the round of median requests/s, CPU over all its rounds."""
    figures = []
    short = argparse.Namespace(**{**vars(args), "duration": max(3, args.duration // 3)})
    for connections in args.connections:
        rounds: dict[str, list[Figures]] = {stack: [] for stack, _, _ in servers}
        for _ in range(HEALTH_ROUNDS):
            for stack, base, pids in servers:
                rounds[stack].append(
                    measured(stack, "/health", base, connections, short, pids, None)
                )
        for found in rounds.values():
            found.sort(key=lambda f: f.load.rps)
            median = found[len(found) // 2]
            cpu = [f.cpu_ms_per_request or 0.0 for f in found]
            median.cpu_ms_per_request = sum(cpu) / len(cpu)
            figures.append(median)
    return figures


def batch_copy_hook(base_url: str, api_key: str, database_url: str) -> None:
    """HOOK: ``benchmarks/batch_copy.py`` (written separately) measures ``/predict/batch``
    of 1,000 transactions against raw asyncpg COPY (and training) on this running server;
    its ``run(base_url=, api_key=, database_url=)`` prints its own figures."""
    try:
        batch_copy = importlib.import_module("benchmarks.batch_copy")
    except ImportError:
        say("--batch-copy: benchmarks/batch_copy.py is not there; skipped")
        return
    batch_copy.run(base_url=base_url, api_key=api_key, database_url=database_url)


def report(figures: list[Figures], rss: dict[str, list[float]], args: argparse.Namespace) -> None:
    print(f"\nwrk -t2, {args.duration} s per run, chainwatch with {args.workers} worker(s)")
    print(
        f"{'stack':<22} {'path':<9} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'sock err':>8} {'CPU ms/req':>10}"
    )
    for f in figures:
        cpu = "" if f.cpu_ms_per_request is None else f"{f.cpu_ms_per_request:.3f}"
        print(
            f"{f.stack:<22} {f.path:<9} {f.connections:>5} {f.load.rps:>9.1f} "
            f"{f.load.p50_ms:>8.2f} {f.load.p99_ms:>8.2f} {f.load.non_2xx:>8} "
            f"{f.load.socket_errors:>8} {cpu:>10}"
        )
    index = {(f.stack, f.path, f.connections): f for f in figures}
    print()
    for connections in args.connections:
        peer = index.get(("old stack", "/predict", connections))
        bare = index.get(("bare Litestar", "/health", connections))
        for server in args.servers:
            stack = f"chainwatch ({server})"
            mine = index.get((stack, "/predict", connections))
            if mine and peer:
                print(
                    f"/predict -c{connections}: {stack} / old stack = "
                    f"{mine.load.rps / peer.load.rps:.1f}x "
                    f"requests/s (target >= 25x); p99 {mine.load.p99_ms:.1f} ms (target <= 25)"
                )
            health = index.get((stack, "/health", connections))
            if health and bare:
                print(
                    f"/health  -c{connections}: {stack} / bare Litestar = "
                    f"{health.load.rps / bare.load.rps:.2f}x (target >= 0.8x)"
                )
    for server, sizes in rss.items():
        print(
            f"RSS per worker, chainwatch ({server}), model loaded: "
            + ", ".join(f"{size:.0f} MB" for size in sizes)
            + " (target <= 400 MB)"
        )
    print("\n" + json.dumps({"figures": [asdict(f) for f in figures], "rss_mb": rss}))


def main() -> None:
    from entrypoints.http.workers import usable_cpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, default=usable_cpus())
    parser.add_argument("--port", type=int, default=8140, help="chainwatch's; +1 peer, +2 bare")
    parser.add_argument("--servers", default="uvicorn", help="uvicorn and/or granian")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument(
        "--batch-copy", action="store_true", help="run benchmarks/batch_copy.py too"
    )
    args = parser.parse_args()
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if shutil.which("wrk") is None:
        say("wrk is not installed: installing it with apt-get (needs root)")
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)  # noqa: S607
    if "granian" in args.servers and not (BIN / "granian").exists():
        say("granian is not installed in this venv: measuring uvicorn only")
        args.servers.remove("granian")
    figures: list[Figures] = []
    rss: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="chainwatch-hot-path-") as folder:
        work = Path(folder)
        try:
            if not args.skip_peer:
                figures += peer_figures(args, work)
            for server in args.servers:
                found, rss[server] = chainwatch_figures(args, work, server)
                figures += found
        except Exception:
            for log in work.glob("*.log"):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            raise
    report(figures, rss, args)


if __name__ == "__main__":
    main()
