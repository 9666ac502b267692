"""``chainwatch migrate`` and ``migrations-status`` as an operator runs them: a subprocess."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

CHAINWATCH = str(Path(sys.executable).parent / "chainwatch")


def run(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "CHAINWATCH_"))
    }
    environment.update(CHAINWATCH_DATA_DIR=str(tmp_path / "data"), **variables)
    return subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [CHAINWATCH, *args],
        cwd=tmp_path,  # the installed command must not depend on the repository folder
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tables(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / "data" / "chainwatch.sqlite3") as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_migrate_applies_every_pending_migration_once(tmp_path: Path) -> None:
    pending = run(tmp_path, "migrations-status")
    assert pending.returncode == 0, pending.stderr
    assert lines(pending.stdout)

    first = run(tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    assert lines(first.stdout) == lines(pending.stdout)
    assert "transactions" in tables(tmp_path)

    again = run(tmp_path, "migrate")
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert run(tmp_path, "migrations-status").stdout == ""


def test_migrate_backwards_all_undoes_everything(tmp_path: Path) -> None:
    applied = run(tmp_path, "migrate")
    assert applied.returncode == 0, applied.stderr

    rolled_back = run(tmp_path, "migrate", "--backwards", "all", "--yes")
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert lines(rolled_back.stdout) == list(reversed(lines(applied.stdout)))
    assert "transactions" not in tables(tmp_path)
    assert lines(run(tmp_path, "migrations-status").stdout) == lines(applied.stdout)


def test_a_config_error_is_one_line_on_stderr_and_exit_2(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate", CHAINWATCH_AUTO_MIGRATE="sometimes")
    assert result.returncode == 2
    assert lines(result.stderr) == [lines(result.stderr)[0]]
    assert "CHAINWATCH_AUTO_MIGRATE" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["migrate", "migrations-status"])
def test_an_unreachable_database_is_one_line_on_stderr_and_exit_1(
    tmp_path: Path, command: str
) -> None:
    result = run(
        tmp_path,
        command,
        DATABASE_URL="postgresql://chainwatch:Zebra-s3cr3t@127.0.0.1:1/chainwatch",
    )
    assert result.returncode == 1, result.stderr
    assert len(lines(result.stderr)) == 1, result.stderr
    assert "Zebra-s3cr3t" not in result.stderr


def test_a_database_never_migrated_is_one_line_saying_to_migrate_and_exit_1(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, "models", "list", CHAINWATCH_AUTO_MIGRATE="false")

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines(result.stderr)[-1] == (
        "chainwatch: the database has no chainwatch schema yet: run `chainwatch migrate`"
    )
