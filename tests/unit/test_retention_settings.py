"""Retention's settings: one variable per table, "keep" for forever, the archive store."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.settings import ConfigError, Settings, load_settings, retention_variable


def load(data_dir: Path, **variables: str) -> Settings:
    return load_settings({"CHAINWATCH_DATA_DIR": str(data_dir), **variables})


def kept(settings: Settings) -> dict[str, int | None]:
    return {policy.table: policy.keep_days for policy in settings.retention.policies}


def test_the_defaults_keep_predictions_90_metrics_30_audit_400_days(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert kept(settings) == {
        "predictions": 90,
        "system_metrics": 30,
        "audit_logs": 400,
        "transactions": None,
        "anomalies": None,
    }
    assert settings.retention.archive_url == (tmp_path / "archives").as_uri()
    assert settings.retention.refresh_s == 300


@pytest.mark.parametrize("forever", ["0", "keep", "KEEP", "forever"])
def test_each_table_has_its_variable_and_zero_or_keep_means_forever(
    tmp_path: Path, forever: str
) -> None:
    settings = load(
        tmp_path,
        CHAINWATCH_RETENTION_PREDICTIONS_DAYS=forever,
        CHAINWATCH_RETENTION_TRANSACTIONS_DAYS="730",
        CHAINWATCH_RETENTION_ANOMALIES_DAYS=" 365 ",
        CHAINWATCH_ARCHIVE_URL="s3://bucket/archives",
        CHAINWATCH_RETENTION_CHECK_S="60",
    )
    assert kept(settings)["predictions"] is None
    assert kept(settings)["transactions"] == 730
    assert kept(settings)["anomalies"] == 365
    assert settings.retention.archive_url == "s3://bucket/archives"
    assert settings.retention.refresh_s == 60
    assert retention_variable("audit_logs") == "CHAINWATCH_RETENTION_AUDIT_LOGS_DAYS"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CHAINWATCH_RETENTION_PREDICTIONS_DAYS", "-1"),
        ("CHAINWATCH_RETENTION_AUDIT_LOGS_DAYS", "ninety"),
        ("CHAINWATCH_RETENTION_SYSTEM_METRICS_DAYS", "1.5"),
        ("CHAINWATCH_RETENTION_ANOMALIES_DAYS", "36501"),
        ("CHAINWATCH_ARCHIVE_URL", "ftp://somewhere/archives"),
        ("CHAINWATCH_RETENTION_CHECK_S", "1"),
    ],
)
def test_a_bad_value_names_its_variable(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, **{variable: value})
    assert variable in str(raised.value)
    assert value in str(raised.value)
