"""The Prometheus alert rules (``ops/prometheus``): well-formed rule groups, each naming only
metrics the app exports (scraped from a test app) or ones listed as arriving with a later
feature, each exercised by a ``promtool test rules`` case, and shipped to Kubernetes
verbatim. ``promtool`` itself runs both files when it is installed (``PROMTOOL`` or on
``PATH``; not installable by ``make test``, so CI checks the structure here)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from adapters.piccolo import LentDatabase, PiccoloDatabase
from entrypoints.bootstrap import wire
from entrypoints.http import create_app
from entrypoints.settings import BackupWatchSettings, PartitionSettings, RetentionSettings
from tests.backends import reset_database
from tests.integration.api.conftest import CHEAP_PASSWORDS, running

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = REPO_ROOT / "ops" / "prometheus" / "chainwatch-rules.yaml"
RULE_TESTS = REPO_ROOT / "ops" / "prometheus" / "chainwatch-rules.test.yaml"
K8S_RULES = REPO_ROOT / "ops" / "k8s" / "prometheus-rules-configmap.yaml"

LATER = {
    "chainwatch_db_replica_lag_seconds": "read replicas (DATABASE_REPLICA_URLS)",
}
"""Metrics the rules name before the app exports them, with the feature that brings each."""

_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_METRIC = re.compile(r"\bchainwatch_[a-z0-9_]+\b")
_HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")


def alerting_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def metrics_named(expr: str) -> set[str]:
    return set(_METRIC.findall(expr))


def test_the_rule_file_is_groups_of_well_formed_alerting_rules() -> None:
    document = yaml.safe_load(RULES.read_text())
    assert set(document) == {"groups"}
    group_names = [group["name"] for group in document["groups"]]
    assert len(group_names) == len(set(group_names))
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"}, group["name"]
        assert group["rules"], group["name"]
    rules = alerting_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "alert names must be unique"
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"Chainwatch[A-Z][A-Za-z0-9]+", rule["alert"])
        assert isinstance(rule["expr"], str), rule["alert"]
        assert metrics_named(rule["expr"]), rule["alert"]
        assert _DURATION.match(rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_the_rules_cover_what_the_issue_asks_to_alert_on() -> None:
    wanted = {
        "ChainwatchDbPoolExhausted": {
            "chainwatch_db_pool_in_use_connections",
            "chainwatch_db_pool_max_connections",
            "chainwatch_db_pool_waiting_callers",
        },
        "ChainwatchBackupMissing": {"chainwatch_backup_newest_age_seconds"},
        "ChainwatchDbReplicaLagging": {"chainwatch_db_replica_lag_seconds"},
        "ChainwatchPartitionMissing": {"chainwatch_partitions_ahead"},
        "ChainwatchHigh5xxRate": {"chainwatch_requests_total"},
        "ChainwatchDatabaseUnavailable": {"chainwatch_requests_total"},
        "ChainwatchRetentionBehind": {
            "chainwatch_retention_rows_pending",
            "chainwatch_retention_last_run_timestamp_seconds",
        },
        "ChainwatchRetentionUnfinished": {"chainwatch_retention_unfinished_archives"},
    }
    rules = {rule["alert"]: rule for rule in alerting_rules()}
    for alert, metrics in wanted.items():
        assert metrics_named(rules[alert]["expr"]) == metrics, alert
    assert rules["ChainwatchDbPoolExhausted"]["for"] == "2m"
    assert "26 * 3600" in rules["ChainwatchBackupMissing"]["expr"]


async def exported_metrics(tmp_path: Path, database: PiccoloDatabase) -> set[str]:
    """Every metric name a test app's /metrics declares (``# TYPE`` lines and samples),
    over ``database`` with a backup target and retention, after a few requests (request
    counters start at the first)."""
    await reset_database(database)
    container = wire(LentDatabase(database), passwords=CHEAP_PASSWORDS, bootstrap_model=False)
    app = create_app(
        container,
        backups=BackupWatchSettings(url=tmp_path.as_uri()),
        retention=RetentionSettings(archive_url=tmp_path.as_uri()),
        partitions=PartitionSettings(),
    )
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with running(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await app.state.backups.refresh()
        await app.state.retention.refresh()
        for path in ("/health", "/ready", "/api/v1/transactions"):
            await client.get(path)
        text = (await client.get("/metrics")).text
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


async def test_every_metric_a_rule_names_is_exported_or_arrives_with_a_named_feature(
    tmp_path: Path, sqlite_database: PiccoloDatabase
) -> None:
    exported = await exported_metrics(tmp_path, sqlite_database)
    assert "chainwatch_db_pool_waiting_callers" in exported  # the scrape saw the gauges
    header = RULES.read_text().split("groups:", 1)[0]
    for rule in alerting_rules():
        for metric in metrics_named(rule["expr"]):
            family = metric
            for suffix in _HISTOGRAM_SERIES:
                if metric.endswith(suffix) and metric.removesuffix(suffix) in exported:
                    family = metric.removesuffix(suffix)
            if family in exported:
                continue
            assert metric in LATER, f"{rule['alert']} names {metric}, which nothing exports"
            assert metric in header, f"the rule file's header should say {metric} comes later"


def test_every_alert_has_a_promtool_test_case() -> None:
    document = yaml.safe_load(RULE_TESTS.read_text())
    assert document["rule_files"] == [RULES.name]
    tested = {
        case["alertname"]
        for test in document["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert {rule["alert"] for rule in alerting_rules()} <= tested


def test_the_kubernetes_config_map_carries_the_rule_file_verbatim() -> None:
    config_map = yaml.safe_load(K8S_RULES.read_text())
    assert config_map["kind"] == "ConfigMap"
    assert config_map["data"] == {RULES.name: RULES.read_text()}, (
        "copy ops/prometheus/chainwatch-rules.yaml into the config map's data"
    )


def promtool() -> str:
    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (set PROMTOOL or put it on PATH)")
    return found


@pytest.mark.parametrize(
    ("command", "target"), [("check", RULES), ("test", RULE_TESTS)], ids=["check", "test"]
)
def test_promtool_accepts_the_rules_and_their_test_cases(command: str, target: Path) -> None:
    result = subprocess.run(  # noqa: S603 - our own files, a tool the operator chose
        [promtool(), command, "rules", target.name],
        cwd=target.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
