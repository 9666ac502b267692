"""The Kubernetes manifests (``ops/k8s``): every document validates against the
Kubernetes schema (strict: unknown fields are errors), the files lint clean, and they say
what the operations issue asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import resources_from_file
from yamllint import linter
from yamllint.config import YamlLintConfig

from entrypoints.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((REPO_ROOT / "ops" / "k8s").rglob("*.yaml"))
KUBERNETES_VERSION = "1.35.0"
NAMESPACE = "blockchain-anomaly-prod"


def documents() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in resources_from_file(str(path))]


def the(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    template = (
        spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
    )
    pod: dict[str, Any] = template["spec"]
    return pod


def test_there_are_manifests() -> None:
    assert len(MANIFESTS) >= 8


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_manifest_validates_against_the_kubernetes_schema(path: Path) -> None:
    for document in resources_from_file(str(path)):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_validation_is_strict_enough_to_catch_a_misspelt_field() -> None:
    service = the("Service", "postgresql")
    broken = {**service, "spec": {**service["spec"], "clusterIp": "None"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_manifest_lints_clean(path: Path) -> None:
    config = YamlLintConfig(file=str(REPO_ROOT / ".yamllint"))
    problems = list(linter.run(path.read_text(), config, str(path)))
    assert problems == [], "\n".join(str(problem) for problem in problems)


def test_everything_lives_in_the_production_namespace() -> None:
    the("Namespace", NAMESPACE)
    for document in documents():
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == NAMESPACE, document["metadata"]["name"]


def test_postgresql_keeps_its_data_on_200gi_of_ssd_and_is_probed_with_pg_isready() -> None:
    statefulset = the("StatefulSet", "postgresql")
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "ssd-storage"
    assert claim["spec"]["resources"]["requests"]["storage"] == "200Gi"
    (container,) = pod_spec(statefulset)["containers"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert "pg_isready" in " ".join(container[probe]["exec"]["command"])
    assert {"requests", "limits"} <= container["resources"].keys()
    assert the("Service", "postgresql")["spec"]["clusterIP"] == "None"
    assert statefulset["spec"]["serviceName"] == "postgresql"


def test_secret_templates_hold_no_values() -> None:
    secrets = [d for d in documents() if d["kind"] == "Secret"]
    assert secrets
    for secret in secrets:
        assert "data" not in secret
        assert set(secret["stringData"].values()) == {""}, secret["metadata"]["name"]


def test_the_backup_runs_daily_at_two_utc_backup_then_verify_then_prune() -> None:
    cronjob = the("CronJob", "chainwatch-backup")
    assert (cronjob["spec"]["schedule"], cronjob["spec"]["timeZone"]) == ("0 2 * * *", "UTC")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = pod_spec(cronjob)["containers"]
    script = "\n".join(container["args"])
    steps = [script.index(f"chainwatch {step}") for step in ("backup", "verify", "prune")]
    assert steps == sorted(steps)
    assert "set -eu" in script
    assert "--keep-days" in script


def test_retention_runs_nightly_after_the_backup_with_the_configured_policies(
    tmp_path: Path,
) -> None:
    cronjob = the("CronJob", "chainwatch-retention")
    backup = the("CronJob", "chainwatch-backup")
    assert cronjob["spec"]["timeZone"] == "UTC"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    minute, hour = (int(part) for part in cronjob["spec"]["schedule"].split()[:2])
    backup_minute, backup_hour = (int(part) for part in backup["spec"]["schedule"].split()[:2])
    assert (hour, minute) > (backup_hour, backup_minute)
    (container,) = pod_spec(cronjob)["containers"]
    script = "\n".join(container["args"])
    assert "set -eu" in script
    assert script.index("chainwatch retention plan") < script.index("chainwatch retention apply")
    config = the("ConfigMap", "chainwatch-config")["data"]
    retention = load_settings(
        {
            "CHAINWATCH_DATA_DIR": str(tmp_path),
            "CHAINWATCH_SECRET_KEY": "k" * 40,
            **{
                k: v
                for k, v in config.items()
                if k.startswith(("CHAINWATCH_RETENTION_", "CHAINWATCH_ARCHIVE"))
            },
        }
    ).retention
    assert {p.table: p.keep_days for p in retention.policies} == {
        "predictions": 90,
        "system_metrics": 30,
        "audit_logs": 400,
        "transactions": None,
        "anomalies": None,
    }
    assert retention.archive_url == config["CHAINWATCH_ARCHIVE_URL"]
    assert pod_spec(cronjob)["serviceAccountName"] == "chainwatch-retention"
    the("ServiceAccount", "chainwatch-retention")


def test_partitions_are_ensured_daily_with_the_configured_months_ahead(tmp_path: Path) -> None:
    cronjob = the("CronJob", "chainwatch-partitions")
    assert cronjob["spec"]["timeZone"] == "UTC"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert cronjob["spec"]["schedule"].split()[2:] == ["*", "*", "*"]  # every day
    (container,) = pod_spec(cronjob)["containers"]
    script = "\n".join(container["args"])
    assert "set -eu" in script
    assert script.index("chainwatch partitions ensure") < script.index(
        "chainwatch partitions status"
    )
    config = the("ConfigMap", "chainwatch-config")["data"]
    partitions = load_settings(
        {
            "CHAINWATCH_DATA_DIR": str(tmp_path),
            "CHAINWATCH_SECRET_KEY": "k" * 40,
            **{k: v for k, v in config.items() if k.startswith("CHAINWATCH_PARTITION_")},
        }
    ).partitions
    assert partitions.months_ahead >= 1  # next month exists before it begins
    assert pod_spec(cronjob)["serviceAccountName"] == "chainwatch-partitions"
    the("ServiceAccount", "chainwatch-partitions")


def test_the_api_is_probed_on_health_and_ready_behind_a_service() -> None:
    deployment = the("Deployment", "chainwatch-api")
    (container,) = pod_spec(deployment)["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    service = the("Service", "chainwatch-api")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_api_drains_and_exits_within_its_termination_grace_period(tmp_path: Path) -> None:
    config = the("ConfigMap", "chainwatch-config")["data"]
    shutdown = load_settings(
        {
            "CHAINWATCH_DATA_DIR": str(tmp_path),
            "CHAINWATCH_SECRET_KEY": "k" * 40,
            "CHAINWATCH_DRAIN_DELAY_S": config["CHAINWATCH_DRAIN_DELAY_S"],
            "CHAINWATCH_SHUTDOWN_GRACE_S": config["CHAINWATCH_SHUTDOWN_GRACE_S"],
        }
    ).shutdown
    grace_period = pod_spec(the("Deployment", "chainwatch-api"))["terminationGracePeriodSeconds"]
    assert shutdown.drain_delay_s > 0  # endpoints are updated while it still serves
    assert shutdown.grace_s < grace_period  # exits by itself before the SIGKILL


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("Deployment", "chainwatch-api"),
        ("CronJob", "chainwatch-backup"),
        ("CronJob", "chainwatch-retention"),
        ("CronJob", "chainwatch-partitions"),
        ("StatefulSet", "postgresql"),
    ],
)
def test_workloads_run_as_non_root_with_resource_limits(kind: str, name: str) -> None:
    pod = pod_spec(the(kind, name))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    for container in pod["containers"]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
