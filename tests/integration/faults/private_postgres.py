"""A private PostgreSQL cluster that a test may stop and start at will.

The shared server (127.0.0.1:5432) is never stopped by tests. ``PrivateCluster`` runs
``initdb`` into a temporary folder and ``pg_ctl`` on a free port, with its socket in that
folder, from ``CHAINWATCH_TEST_PG_BIN`` (default ``/usr/lib/postgresql/15/bin``). PostgreSQL
refuses to run as root, so as root it runs as the ``postgres`` account. ``remove()``
stops it (immediately) and deletes the folder. Without the binaries the test is skipped,
or fails under ``CI=true``, as the other PostgreSQL tests do.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.backends import postgres_unreachable
from tests.integration.faults.servers import free_port

DEFAULT_BIN = "/usr/lib/postgresql/15/bin"
USER = "chainwatch"  # the cluster's superuser (trust authentication, loopback only)


class PrivateCluster:
    def __init__(self) -> None:
        self.bin = Path(os.environ.get("CHAINWATCH_TEST_PG_BIN") or DEFAULT_BIN)
        if not (self.bin / "initdb").exists():
            postgres_unreachable(f"no initdb in {self.bin} (set CHAINWATCH_TEST_PG_BIN)")
        self._account = _unprivileged_account()
        self.root = Path(tempfile.mkdtemp(prefix="chainwatch-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if self._account is not None:
            os.chown(self.root, self._account.pw_uid, self._account.pw_gid)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def initdb(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync"
        )

    def replicate(self, primary: PrivateCluster) -> None:
        """Make this (not yet initialised) cluster a streaming replica of the running
        ``primary``: ``pg_basebackup -R`` (initdb's default hba already trusts
        replication connections from loopback, and ``wal_level`` defaults to replica)."""
        self._run(
            "pg_basebackup", "-D", str(self.data), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", USER, "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip

    def sql(self, statement: str) -> str:
        """Run one statement with psql as the superuser; return its unaligned output."""
        return self._run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", "postgres",
            "-XAtqc", statement,
        )  # fmt: skip

    def start(self, settings: Mapping[str, str] | None = None) -> None:
        """Start the cluster; ``settings`` (name -> value) override the defaults here
        (no fsync: tests do not need a durable disk; 50 connections)."""
        chosen = {"fsync": "off", "max_connections": "50", **(settings or {})}
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 " + " ".join(
            f"-c {name}={value}" for name, value in chosen.items()
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w",
            "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def log(self) -> str:
        path = self.root / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def remove(self) -> None:
        """Stop the cluster if it runs and delete its folder; safe to call at any point."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *arguments: str, check: bool = True) -> str:
        extra: dict[str, Any] = {}
        if self._account is not None:
            extra = {"user": self._account.pw_uid, "group": self._account.pw_gid}
        done = subprocess.run(  # noqa: S603 - PostgreSQL's own tools, fixed arguments
            [str(self.bin / program), *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.root,
            check=False,
            **extra,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{program} failed: {done.stderr or done.stdout}\n{self.log()}")
        output: str = done.stdout
        return output.strip()


def _unprivileged_account() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        postgres_unreachable("running as root and there is no postgres account to run as")
