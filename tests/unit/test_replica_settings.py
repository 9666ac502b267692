"""``DATABASE_REPLICA_URLS`` and the replica bounds: parsed like ``DATABASE_URL``, only
with a PostgreSQL primary, and no message ever quotes a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.piccolo import PostgresConfig, ReplicaConfig
from entrypoints.settings import ConfigError, Settings, load_settings

PRIMARY = "postgresql://app:Zebra-Quartz-s3cr3t@db-primary:5432/chain"
SECRET = "Zebra-Quartz-s3cr3t"


def load(tmp_path: Path, **variables: str) -> Settings:
    return load_settings({"CHAINWATCH_DATA_DIR": str(tmp_path / "state"), **variables})


def config_error(tmp_path: Path, **variables: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **variables)
    message = str(caught.value)
    assert "\n" not in message
    assert SECRET not in message
    return message


def test_no_replicas_by_default_with_a_five_second_bound(tmp_path: Path) -> None:
    replicas = load(tmp_path, DATABASE_URL=PRIMARY).replicas
    assert replicas == ReplicaConfig(nodes=(), max_lag_s=5.0, check_interval_s=1.0)


def test_each_comma_separated_url_is_a_replica_with_the_primarys_pool(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        DATABASE_URL=PRIMARY,
        DATABASE_POOL_SIZE="4",
        DATABASE_MAX_OVERFLOW="2",
        DATABASE_REPLICA_URLS=(
            f"postgresql://app:{SECRET}@db-r1:5433/chain, postgres://app:{SECRET}@db-r2/chain"
        ),
        CHAINWATCH_REPLICA_MAX_LAG_S="12",
        CHAINWATCH_REPLICA_CHECK_MS="250",
    )
    first, second = settings.replicas.nodes
    assert (first.host, first.port, second.host, second.port) == ("db-r1", 5433, "db-r2", 5432)
    assert all(isinstance(node, PostgresConfig) for node in (first, second))
    assert (first.pool_min, first.pool_max, first.password) == (4, 6, SECRET)
    assert settings.replicas.max_lag_s == 12.0
    assert settings.replicas.check_interval_s == 0.25
    assert SECRET not in repr(settings)


def test_replicas_need_a_postgresql_primary(tmp_path: Path) -> None:
    message = config_error(tmp_path, DATABASE_REPLICA_URLS=f"postgresql://app:{SECRET}@db-r1/chain")
    assert "DATABASE_REPLICA_URLS needs a PostgreSQL primary" in message


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        (f"postgresql://app:{SECRET}@db-r1/chain,,", "(entry 2) is empty"),
        ("sqlite:///replica.sqlite3", "(entry 1) must be a postgresql:// URL"),
        (f"postgresql://app:{SECRET}@db-r1/chain,mysql://x", "(entry 2) must be a postgresql"),
        (f"postgresql://app:{SECRET}@db-r1:99999/chain", "(entry 1): the database URL has an"),
        (f"postgresql://app:{SECRET}@db-r1/chain?sslmode=x", "(entry 1) has an unsupported"),
    ],
)
def test_a_bad_replica_url_names_the_entry_never_the_url(
    tmp_path: Path, urls: str, expected: str
) -> None:
    message = config_error(tmp_path, DATABASE_URL=PRIMARY, DATABASE_REPLICA_URLS=urls)
    assert message.startswith("DATABASE_REPLICA_URLS")
    assert expected in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CHAINWATCH_REPLICA_MAX_LAG_S", "0"), ("CHAINWATCH_REPLICA_CHECK_MS", "10")],
)
def test_bad_bounds_name_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    assert variable in config_error(tmp_path, DATABASE_URL=PRIMARY, **{variable: value})
