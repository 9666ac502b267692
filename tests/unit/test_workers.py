"""How many HTTP workers ``chainwatch serve`` runs: ``--workers``, ``CHAINWATCH_WORKERS``,
else one per usable CPU on PostgreSQL (affinity and cgroup quota) and one on SQLite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entrypoints.http.workers import cpu_quota, usable_cpus, worker_count
from entrypoints.settings import ConfigError, Settings, load_settings

POSTGRES_URL = "postgresql://chainwatch:pw@db.internal:5432/chainwatch"


def settings(tmp_path: Path, **variables: str) -> Settings:
    return load_settings({"CHAINWATCH_DATA_DIR": str(tmp_path), **variables})


def test_sqlite_runs_one_worker_unless_asked_for_more(tmp_path: Path) -> None:
    assert worker_count(settings(tmp_path)) == 1
    assert worker_count(settings(tmp_path, CHAINWATCH_WORKERS="3")) == 3


def test_postgresql_runs_one_worker_per_usable_cpu_by_default(tmp_path: Path) -> None:
    assert worker_count(settings(tmp_path, DATABASE_URL=POSTGRES_URL)) == usable_cpus()


def test_the_command_line_wins_over_the_environment(tmp_path: Path) -> None:
    configured = settings(tmp_path, DATABASE_URL=POSTGRES_URL, CHAINWATCH_WORKERS="4")
    assert worker_count(configured) == 4
    assert worker_count(configured, requested=2) == 2


@pytest.mark.parametrize("value", ["0", "-1", "two", "257"])
def test_a_bad_worker_count_names_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="CHAINWATCH_WORKERS"):
        settings(tmp_path, CHAINWATCH_WORKERS=value)


@pytest.mark.parametrize(
    ("cpu_max", "cpus"),
    [
        ("max 100000", None),
        ("200000 100000", 2),
        ("150000 100000", 2),
        ("50000 100000", 1),
        ("", None),
        ("garbage", None),
        ("0 100000", None),
    ],
)
def test_a_cgroup_cpu_quota_is_rounded_up_to_whole_cpus(cpu_max: str, cpus: int | None) -> None:
    assert cpu_quota(cpu_max) == cpus


def test_usable_cpus_are_the_affinity_mask_capped_by_the_cgroup_quota(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    limited = tmp_path / "cpu.max"
    limited.write_text("100000 100000\n")
    assert usable_cpus(limited) == 1
    limited.write_text("max 100000\n")
    assert usable_cpus(limited) == affinity
    assert usable_cpus(tmp_path / "missing") == affinity
