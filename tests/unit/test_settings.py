"""Environment -> Settings: every variable, its default, precedence, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.piccolo import PostgresConfig, SQLiteConfig
from domain.policies import AlertBudget
from domain.rate_limits import Rate
from entrypoints.settings import (
    BackupWatchSettings,
    ConfigError,
    DriftSettings,
    JobSettings,
    PredictLimits,
    RateLimitSettings,
    S3Settings,
    Settings,
    ShutdownSettings,
    load_settings,
)

SECRET = "Zebra-Quartz-s3cr3t-9137"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def load(data_dir: Path, **variables: str) -> Settings:
    return load_settings({"CHAINWATCH_DATA_DIR": str(data_dir), **variables})


def postgres(settings: Settings) -> PostgresConfig:
    assert isinstance(settings.database, PostgresConfig)
    return settings.database


def config_error(data_dir: Path, **variables: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(data_dir, **variables)
    message = str(caught.value)
    assert "\n" not in message
    return message


class TestEmbeddedSQLite:
    def test_no_database_configured_uses_sqlite_in_the_data_folder(self, data_dir: Path) -> None:
        settings = load(data_dir)
        assert settings.database == SQLiteConfig(path=data_dir / "chainwatch.sqlite3")
        assert settings.data_dir == data_dir

    def test_the_data_folder_is_created_when_missing(self, tmp_path: Path) -> None:
        nested = tmp_path / "a" / "b"
        load(nested)
        assert nested.is_dir()

    def test_the_data_folder_defaults_to_data_under_the_current_folder(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        settings = load_settings({})
        assert settings.data_dir == tmp_path / "data"
        assert settings.database == SQLiteConfig(path=tmp_path / "data" / "chainwatch.sqlite3")
        assert (tmp_path / "data").is_dir()

    def test_a_relative_data_folder_is_made_absolute(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        assert load_settings({"CHAINWATCH_DATA_DIR": "var"}).data_dir == tmp_path / "var"

    def test_a_data_folder_that_cannot_be_created_names_the_variable(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("not a folder")
        message = config_error(blocker / "sub")
        assert message.startswith("CHAINWATCH_DATA_DIR")

    def test_empty_values_count_as_unset(self, data_dir: Path) -> None:
        settings = load(data_dir, DATABASE_URL="", DATABASE_HOST="  ", CHAINWATCH_PORT="")
        assert isinstance(settings.database, SQLiteConfig)
        assert settings.port == 8000

    @pytest.mark.parametrize(
        "variable", ["DATABASE_PORT", "DATABASE_NAME", "DATABASE_USER", "DATABASE_PASSWORD"]
    )
    def test_postgres_parts_without_a_host_are_an_error_not_a_silent_sqlite(
        self, data_dir: Path, variable: str
    ) -> None:
        value = SECRET if variable == "DATABASE_PASSWORD" else "5433"
        message = config_error(data_dir, **{variable: value})
        assert message.startswith(variable)
        assert "DATABASE_HOST" in message
        assert SECRET not in message


class TestPostgresFromParts:
    def test_defaults_apply_to_everything_but_host_and_password(self, data_dir: Path) -> None:
        config = postgres(load(data_dir, DATABASE_HOST="db.internal", DATABASE_PASSWORD=SECRET))
        assert (config.host, config.port, config.database, config.user, config.password) == (
            "db.internal",
            5432,
            "blockchain_anomaly",
            "anomaly_user",
            SECRET,
        )

    def test_every_part_can_be_set(self, data_dir: Path) -> None:
        config = postgres(
            load(
                data_dir,
                DATABASE_HOST="10.0.0.7",
                DATABASE_PORT="6432",
                DATABASE_NAME="chain",
                DATABASE_USER="scorer",
                DATABASE_PASSWORD=SECRET,
            )
        )
        assert (config.host, config.port, config.database, config.user) == (
            "10.0.0.7",
            6432,
            "chain",
            "scorer",
        )

    def test_the_password_is_kept_exactly_as_given(self, data_dir: Path) -> None:
        config = postgres(load(data_dir, DATABASE_HOST="db", DATABASE_PASSWORD=" pass word "))
        assert config.password == " pass word "

    def test_the_password_is_required(self, data_dir: Path) -> None:
        message = config_error(data_dir, DATABASE_HOST="db")
        assert message.startswith("DATABASE_PASSWORD")

    @pytest.mark.parametrize("port", ["abc", "0", "65536", "-1"])
    def test_a_bad_port_names_the_variable(self, data_dir: Path, port: str) -> None:
        message = config_error(
            data_dir, DATABASE_HOST="db", DATABASE_PASSWORD=SECRET, DATABASE_PORT=port
        )
        assert message.startswith("DATABASE_PORT")
        assert SECRET not in message


class TestPool:
    def test_the_seed_pool_is_the_default(self, data_dir: Path) -> None:
        config = postgres(load(data_dir, DATABASE_HOST="db", DATABASE_PASSWORD=SECRET))
        assert (config.pool_min, config.pool_max, config.connection_lifetime_s) == (20, 30, 3600.0)

    def test_size_overflow_and_recycle_map_onto_min_max_and_lifetime(self, data_dir: Path) -> None:
        config = postgres(
            load(
                data_dir,
                DATABASE_URL="postgresql://u@h/d",
                DATABASE_POOL_SIZE="5",
                DATABASE_MAX_OVERFLOW="0",
                DATABASE_POOL_RECYCLE="60",
            )
        )
        assert (config.pool_min, config.pool_max, config.connection_lifetime_s) == (5, 5, 60.0)

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("DATABASE_POOL_SIZE", "0"),
            ("DATABASE_POOL_SIZE", "twenty"),
            ("DATABASE_MAX_OVERFLOW", "-1"),
            ("DATABASE_POOL_RECYCLE", "0"),
            ("DATABASE_POOL_RECYCLE", "1.5"),
        ],
    )
    def test_bad_pool_values_name_the_variable(
        self, data_dir: Path, variable: str, value: str
    ) -> None:
        assert config_error(data_dir, **{variable: value}).startswith(variable)


class TestDatabaseUrl:
    def test_every_part_of_a_postgresql_url_is_used(self, data_dir: Path) -> None:
        url = f"postgresql://scorer:{SECRET}@db.example:6543/chain"
        config = postgres(load(data_dir, DATABASE_URL=url))
        assert (config.host, config.port, config.database, config.user, config.password) == (
            "db.example",
            6543,
            "chain",
            "scorer",
            SECRET,
        )

    def test_the_postgres_scheme_is_accepted_too(self, data_dir: Path) -> None:
        assert postgres(load(data_dir, DATABASE_URL="postgres://u@h/d")).database == "d"

    def test_missing_parts_take_the_defaults_and_no_password_is_allowed(
        self, data_dir: Path
    ) -> None:
        config = postgres(load(data_dir, DATABASE_URL="postgresql://"))
        assert (config.host, config.port, config.database, config.user, config.password) == (
            "localhost",
            5432,
            "blockchain_anomaly",
            "anomaly_user",
            None,
        )

    def test_percent_encoded_user_password_and_database_are_decoded(self, data_dir: Path) -> None:
        config = postgres(load(data_dir, DATABASE_URL="postgresql://a%40b:p%2Fw%3A%23@h/my%20db"))
        assert (config.user, config.password, config.database) == ("a@b", "p/w:#", "my db")

    def test_query_parameters_set_the_connect_timeout_and_statement_cache(
        self, data_dir: Path
    ) -> None:
        url = "postgresql://u@h/d?connect_timeout=2.5&statement_cache_size=0"
        config = postgres(load(data_dir, DATABASE_URL=url))
        assert (config.connect_timeout_s, config.statement_cache_size) == (2.5, 0)

    def test_the_url_wins_over_the_separate_variables(self, data_dir: Path) -> None:
        settings = load(
            data_dir,
            DATABASE_URL="postgresql://u@from-url/d",
            DATABASE_HOST="from-host",
            DATABASE_PASSWORD=SECRET,
        )
        assert postgres(settings).host == "from-url"
        assert postgres(settings).password is None

    def test_a_relative_sqlite_url_resolves_against_the_current_folder(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        settings = load_settings({"DATABASE_URL": "sqlite:///db/chain.sqlite3"})
        assert settings.database == SQLiteConfig(path=tmp_path / "db" / "chain.sqlite3")
        assert (tmp_path / "db").is_dir()

    def test_an_absolute_sqlite_url_keeps_its_path(self, data_dir: Path, tmp_path: Path) -> None:
        settings = load(data_dir, DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3")
        assert settings.database == SQLiteConfig(path=tmp_path / "x.sqlite3")

    @pytest.mark.parametrize(
        "url",
        [
            "mysql://u@h/d",
            "db.example:5432",
            "sqlite://relative.sqlite3",
            "sqlite:///:memory:",
            "sqlite:///x.sqlite3?mode=ro",
            "postgresql://u@h:notaport/d",
            "postgresql://u@h:70000/d",
            "postgresql://u@h/d/extra",
            "postgresql://u@h/d?sslmode=require",
            "postgresql://u@h/d?connect_timeout=soon",
            "postgresql://u@h/d?statement_cache_size=-1",
        ],
    )
    def test_an_unusable_url_names_the_variable(self, data_dir: Path, url: str) -> None:
        assert config_error(data_dir, DATABASE_URL=url).startswith("DATABASE_URL")


class TestServerSettings:
    def test_defaults(self, data_dir: Path) -> None:
        settings = load(data_dir)
        assert (settings.auto_migrate, settings.host, settings.port, settings.log_level) == (
            True,
            "127.0.0.1",
            8000,
            "info",
        )

    def test_every_server_variable_is_read(self, data_dir: Path) -> None:
        settings = load(
            data_dir,
            CHAINWATCH_AUTO_MIGRATE="off",
            CHAINWATCH_HOST="0.0.0.0",  # noqa: S104 - a value under test, nothing binds it
            CHAINWATCH_PORT="9001",
            CHAINWATCH_LOG_LEVEL="DEBUG",
        )
        assert (settings.auto_migrate, settings.host, settings.port, settings.log_level) == (
            False,
            "0.0.0.0",  # noqa: S104
            9001,
            "debug",
        )

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("true", True), ("1", True), ("YES", True), ("false", False), ("0", False), ("no", False)],
    )
    def test_auto_migrate_accepts_the_usual_spellings(
        self, data_dir: Path, value: str, expected: bool
    ) -> None:
        assert load(data_dir, CHAINWATCH_AUTO_MIGRATE=value).auto_migrate is expected

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("CHAINWATCH_AUTO_MIGRATE", "maybe"),
            ("CHAINWATCH_PORT", "http"),
            ("CHAINWATCH_PORT", "0"),
            ("CHAINWATCH_PORT", "70000"),
            ("CHAINWATCH_LOG_LEVEL", "loud"),
        ],
    )
    def test_a_bad_value_names_the_variable_and_the_value(
        self, data_dir: Path, variable: str, value: str
    ) -> None:
        message = config_error(data_dir, **{variable: value})
        assert message.startswith(variable)
        assert repr(value) in message


class TestSecretsNeverLeak:
    @pytest.mark.parametrize(
        "url",
        [
            f"postgresql://u:{SECRET}@h:notaport/d",
            f"postgresql://u:{SECRET}@h/d?sslmode=require",
            f"postgresql://u:{SECRET}#x@h/d",
            f"postgresql://u:{SECRET}/x@h/d",
            f"postgresql://u:{SECRET}?x=1@h/d",
            f"postgresql://u:pw@h/d?{SECRET}=1",
            f"postgresql://u:pw@h/d?connect_timeout={SECRET}",
            f"{SECRET}@h/d",
            f"sqlite:///{SECRET}?x",
        ],
    )
    def test_url_errors_never_quote_the_url(self, data_dir: Path, url: str) -> None:
        message = config_error(data_dir, DATABASE_URL=url)
        assert message.startswith("DATABASE_URL")
        assert SECRET not in message

    def test_settings_repr_hides_a_password_from_database_password(self, data_dir: Path) -> None:
        settings = load(data_dir, DATABASE_HOST="db", DATABASE_PASSWORD=SECRET)
        assert SECRET not in repr(settings)
        assert SECRET not in str(settings)
        assert "***" in repr(settings)

    def test_settings_repr_hides_a_password_from_the_url(self, data_dir: Path) -> None:
        settings = load(data_dir, DATABASE_URL=f"postgresql://u:{SECRET}@h/d")
        assert SECRET not in repr(settings)

    def test_settings_repr_shows_what_is_not_secret(self, data_dir: Path) -> None:
        text = repr(load(data_dir, DATABASE_URL=f"postgresql://scorer:{SECRET}@db.example/d"))
        assert "db.example" in text
        assert "scorer" in text


class TestSecretKey:
    KEY = "k" * 31 + "-Quartz-Zebra"

    def test_a_configured_key_is_used_as_given(self, data_dir: Path) -> None:
        settings = load(data_dir, CHAINWATCH_SECRET_KEY=self.KEY)
        assert settings.secret_key == self.KEY
        assert not (data_dir / "secret_key").exists()

    def test_without_one_a_key_is_generated_once_and_kept_owner_only(self, data_dir: Path) -> None:
        first = load(data_dir).secret_key
        stored = data_dir / "secret_key"
        assert first is not None
        assert len(first) >= 32
        assert stored.stat().st_mode & 0o777 == 0o600
        assert load(data_dir).secret_key == first

    def test_a_short_key_is_refused_without_showing_it(self, data_dir: Path) -> None:
        message = config_error(data_dir, CHAINWATCH_SECRET_KEY="Zebra-short")
        assert message.startswith("CHAINWATCH_SECRET_KEY")
        assert "Zebra-short" not in message

    def test_a_truncated_key_file_is_refused_without_showing_it(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True)
        (data_dir / "secret_key").write_text("Zebra-short\n")
        message = config_error(data_dir)
        assert "CHAINWATCH_SECRET_KEY" in message
        assert "Zebra-short" not in message

    def test_the_key_never_appears_in_the_settings_repr(self, data_dir: Path) -> None:
        settings = load(data_dir, CHAINWATCH_SECRET_KEY=self.KEY)
        assert self.KEY not in repr(settings)


class TestModels:
    def test_model_artifacts_default_to_the_data_folder(self, data_dir: Path) -> None:
        assert load(data_dir).model_store == (data_dir / "models").as_uri()

    @pytest.mark.parametrize("url", ["file:///srv/models", "s3://bucket/models"])
    def test_a_model_store_url_overrides_the_default(self, data_dir: Path, url: str) -> None:
        assert load(data_dir, CHAINWATCH_MODEL_STORE=url).model_store == url

    @pytest.mark.parametrize("url", ["/srv/models", "file://host/srv", "ftp://x/y", "s3://"])
    def test_a_model_store_that_is_not_a_file_or_s3_url_is_refused(
        self, data_dir: Path, url: str
    ) -> None:
        assert config_error(data_dir, CHAINWATCH_MODEL_STORE=url).startswith(
            "CHAINWATCH_MODEL_STORE"
        )

    def test_without_a_backup_target_no_backup_is_watched(self, data_dir: Path) -> None:
        assert load(data_dir).backups == BackupWatchSettings(url=None, refresh_s=300.0)

    def test_the_backup_target_and_how_often_it_is_read_are_settings(self, data_dir: Path) -> None:
        settings = load(data_dir, BACKUP_URL="s3://bucket/backups", CHAINWATCH_BACKUP_CHECK_S="60")
        assert settings.backups == BackupWatchSettings(url="s3://bucket/backups", refresh_s=60.0)

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("BACKUP_URL", "/srv/backups"),
            ("BACKUP_URL", "ftp://x/y"),
            ("CHAINWATCH_BACKUP_CHECK_S", "5"),
        ],
    )
    def test_a_bad_backup_watch_value_names_the_variable(
        self, data_dir: Path, variable: str, value: str
    ) -> None:
        assert config_error(data_dir, **{variable: value}).startswith(variable)

    def test_the_bootstrap_model_is_on_unless_switched_off(self, data_dir: Path) -> None:
        assert load(data_dir).bootstrap_model is True
        assert load(data_dir, CHAINWATCH_BOOTSTRAP_MODEL="off").bootstrap_model is False
        assert config_error(data_dir, CHAINWATCH_BOOTSTRAP_MODEL="maybe").startswith(
            "CHAINWATCH_BOOTSTRAP_MODEL"
        )


class TestJobs:
    def test_jobs_run_one_at_a_time_with_a_minute_lease_and_three_attempts_by_default(
        self, data_dir: Path
    ) -> None:
        assert load(data_dir).jobs == JobSettings(
            workers=1, lease_s=60.0, max_attempts=3, poll_s=2.0, keep_days=30
        )

    def test_each_job_setting_comes_from_its_variable(self, data_dir: Path) -> None:
        jobs = load(
            data_dir,
            CHAINWATCH_JOB_WORKERS="0",
            CHAINWATCH_JOB_LEASE_S="300",
            CHAINWATCH_JOB_MAX_ATTEMPTS="5",
            CHAINWATCH_JOB_POLL_S="10",
            CHAINWATCH_JOB_KEEP_DAYS="7",
        ).jobs
        assert (jobs.workers, jobs.lease_s, jobs.max_attempts, jobs.poll_s, jobs.keep_days) == (
            0,
            300.0,
            5,
            10.0,
            7,
        )

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("CHAINWATCH_JOB_WORKERS", "-1"),
            ("CHAINWATCH_JOB_LEASE_S", "2"),
            ("CHAINWATCH_JOB_MAX_ATTEMPTS", "0"),
            ("CHAINWATCH_JOB_POLL_S", "soon"),
            ("CHAINWATCH_JOB_KEEP_DAYS", "0"),
        ],
    )
    def test_a_job_setting_out_of_range_is_refused_naming_it(
        self, data_dir: Path, variable: str, value: str
    ) -> None:
        assert config_error(data_dir, **{variable: value}).startswith(variable)


class TestS3:
    def test_defaults_encrypt_with_aes256_and_send_checksums_only_when_required(
        self, data_dir: Path
    ) -> None:
        assert load(data_dir).s3 == S3Settings(
            region=None,
            endpoint_url=None,
            sse="AES256",
            kms_key_id=None,
            checksums="when_required",
        )

    def test_every_s3_variable_is_read(self, data_dir: Path) -> None:
        settings = load(
            data_dir,
            CHAINWATCH_S3_REGION="eu-central-1",
            AWS_ENDPOINT_URL="https://minio.internal:9000",
            CHAINWATCH_S3_SSE="aws:kms",
            CHAINWATCH_S3_KMS_KEY_ID="alias/chainwatch-backups",
            CHAINWATCH_S3_CHECKSUMS="when_supported",
        )
        assert settings.s3 == S3Settings(
            region="eu-central-1",
            endpoint_url="https://minio.internal:9000",
            sse="aws:kms",
            kms_key_id="alias/chainwatch-backups",
            checksums="when_supported",
        )

    def test_the_s3_specific_endpoint_wins_as_in_boto3(self, data_dir: Path) -> None:
        settings = load(
            data_dir, AWS_ENDPOINT_URL="http://a:1", AWS_ENDPOINT_URL_S3="http://s3-only:2"
        )
        assert settings.s3.endpoint_url == "http://s3-only:2"

    def test_encryption_can_be_switched_off(self, data_dir: Path) -> None:
        assert load(data_dir, CHAINWATCH_S3_SSE="none").s3.sse is None
        assert load(data_dir, CHAINWATCH_S3_SSE="aes256").s3.sse == "AES256"

    @pytest.mark.parametrize(
        ("variables", "named"),
        [
            ({"CHAINWATCH_S3_SSE": "rot13"}, "CHAINWATCH_S3_SSE"),
            ({"CHAINWATCH_S3_KMS_KEY_ID": "alias/x"}, "CHAINWATCH_S3_KMS_KEY_ID"),
            ({"CHAINWATCH_S3_CHECKSUMS": "always"}, "CHAINWATCH_S3_CHECKSUMS"),
            ({"AWS_ENDPOINT_URL": "minio:9000"}, "AWS_ENDPOINT_URL"),
        ],
    )
    def test_a_bad_s3_setting_names_its_variable(
        self, data_dir: Path, variables: dict[str, str], named: str
    ) -> None:
        assert config_error(data_dir, **variables).startswith(named)


class TestPredictLimits:
    def test_defaults_are_ten_thousand_per_batch_and_micro_batches_of_256(
        self, data_dir: Path
    ) -> None:
        assert load(data_dir).predict == PredictLimits(
            max_batch=10_000, micro_batch=256, flush_ms=2.0, queue_size=4_096
        )

    def test_every_limit_can_be_set(self, data_dir: Path) -> None:
        settings = load(
            data_dir,
            CHAINWATCH_MAX_BATCH="500",
            CHAINWATCH_MICRO_BATCH="64",
            CHAINWATCH_MICRO_BATCH_WAIT_MS="5",
            CHAINWATCH_PREDICT_QUEUE="100",
        )
        assert settings.predict == PredictLimits(
            max_batch=500, micro_batch=64, flush_ms=5.0, queue_size=100
        )

    @pytest.mark.parametrize(
        "name", ["CHAINWATCH_MAX_BATCH", "CHAINWATCH_MICRO_BATCH", "CHAINWATCH_PREDICT_QUEUE"]
    )
    def test_a_limit_below_one_names_its_variable(self, data_dir: Path, name: str) -> None:
        assert config_error(data_dir, **{name: "0"}).startswith(name)


class TestAlertBudget:
    def test_defaults_alert_on_the_top_1_percent_and_a_tenth_of_it_is_critical(
        self, data_dir: Path
    ) -> None:
        assert load(data_dir).alerts == AlertBudget(0.01, 0.005, 0.002, 0.001)

    def test_every_share_can_be_set(self, data_dir: Path) -> None:
        settings = load(
            data_dir,
            CHAINWATCH_ALERT_SHARE="0.02",
            CHAINWATCH_MEDIUM_SHARE="0.01",
            CHAINWATCH_HIGH_SHARE="0.004",
            CHAINWATCH_CRITICAL_SHARE="1e-4",
        )
        assert settings.alerts == AlertBudget(0.02, 0.01, 0.004, 0.0001)

    def test_unset_band_shares_are_fractions_of_the_alert_share(self, data_dir: Path) -> None:
        assert load(data_dir, CHAINWATCH_ALERT_SHARE="0.05").alerts == AlertBudget(
            0.05, 0.025, 0.01, 0.005
        )

    @pytest.mark.parametrize("value", ["0", "0.6", "-0.01", "1%", "nan", "inf"])
    @pytest.mark.parametrize(
        "name",
        [
            "CHAINWATCH_ALERT_SHARE",
            "CHAINWATCH_MEDIUM_SHARE",
            "CHAINWATCH_HIGH_SHARE",
            "CHAINWATCH_CRITICAL_SHARE",
        ],
    )
    def test_a_share_outside_0_to_one_half_names_its_variable(
        self, data_dir: Path, name: str, value: str
    ) -> None:
        message = config_error(data_dir, **{name: value})
        assert message.startswith(name)
        assert repr(value) in message

    def test_a_band_wider_than_the_one_below_names_both_variables(self, data_dir: Path) -> None:
        message = config_error(data_dir, CHAINWATCH_HIGH_SHARE="0.02")
        assert message.startswith("CHAINWATCH_HIGH_SHARE (0.02) must not exceed")
        assert "CHAINWATCH_MEDIUM_SHARE (0.005)" in message


class TestDrift:
    def test_defaults_measure_the_last_day_and_refresh_every_minute(self, data_dir: Path) -> None:
        drift = load(data_dir).drift
        assert drift == DriftSettings(window_hours=24, refresh_s=60.0)
        assert drift.window.total_seconds() == 24 * 3600

    def test_window_and_refresh_can_be_set(self, data_dir: Path) -> None:
        settings = load(
            data_dir, CHAINWATCH_DRIFT_WINDOW_HOURS="168", CHAINWATCH_DRIFT_REFRESH_S="15"
        )
        assert settings.drift == DriftSettings(window_hours=168, refresh_s=15.0)

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("CHAINWATCH_DRIFT_WINDOW_HOURS", "0"),
            ("CHAINWATCH_DRIFT_WINDOW_HOURS", "1.5"),
            ("CHAINWATCH_DRIFT_WINDOW_HOURS", "8761"),
            ("CHAINWATCH_DRIFT_WINDOW_HOURS", "a day"),
            ("CHAINWATCH_DRIFT_REFRESH_S", "0"),
            ("CHAINWATCH_DRIFT_REFRESH_S", "-5"),
        ],
    )
    def test_a_bad_value_is_refused_naming_the_variable(
        self, data_dir: Path, name: str, value: str
    ) -> None:
        message = config_error(data_dir, **{name: value})
        assert message.startswith(name)
        assert repr(value) in message


class TestApiKeyCache:
    def test_verified_keys_are_cached_for_five_seconds_by_default(self, data_dir: Path) -> None:
        assert load(data_dir).api_key_cache_s == 5

    @pytest.mark.parametrize(("value", "seconds"), [("0", 0), ("1", 1), ("300", 300)])
    def test_the_cache_time_can_be_set_and_zero_turns_it_off(
        self, data_dir: Path, value: str, seconds: int
    ) -> None:
        assert load(data_dir, CHAINWATCH_API_KEY_CACHE_S=value).api_key_cache_s == seconds

    @pytest.mark.parametrize("value", ["-1", "301", "2.5", "five"])
    def test_a_bad_value_is_refused_naming_the_variable(self, data_dir: Path, value: str) -> None:
        message = config_error(data_dir, CHAINWATCH_API_KEY_CACHE_S=value)
        assert message.startswith("CHAINWATCH_API_KEY_CACHE_S")
        assert repr(value) in message


def test_rate_limits_default_to_a_high_per_key_limit_and_120_failures_a_minute(
    data_dir: Path,
) -> None:
    limits = load(data_dir).rate_limits

    assert limits == RateLimitSettings()
    assert limits.per_key == Rate(300_000, 60)
    assert limits.auth_failures_per_address == Rate(120, 60)
    assert limits.trusted_proxies == ()
    assert limits.sync_s == 1.0


def test_rate_limits_come_from_their_variables(data_dir: Path) -> None:
    limits = load(
        data_dir,
        CHAINWATCH_RATE_LIMIT_PER_KEY="50/second",
        CHAINWATCH_AUTH_FAILURES_PER_ADDRESS="10 / hour",
        CHAINWATCH_TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1,::1",
        CHAINWATCH_RATE_LIMIT_SYNC_MS="250",
    ).rate_limits

    assert limits.per_key == Rate(50, 1)
    assert limits.auth_failures_per_address == Rate(10, 3600)
    assert [str(network) for network in limits.trusted_proxies] == [
        "10.0.0.0/8",
        "127.0.0.1/32",
        "::1/128",
    ]
    assert limits.sync_s == 0.25


def test_either_rate_limit_can_be_turned_off(data_dir: Path) -> None:
    limits = load(
        data_dir,
        CHAINWATCH_RATE_LIMIT_PER_KEY="off",
        CHAINWATCH_AUTH_FAILURES_PER_ADDRESS="OFF",
    ).rate_limits

    assert limits.per_key is None
    assert limits.auth_failures_per_address is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CHAINWATCH_RATE_LIMIT_PER_KEY", "lots"),
        ("CHAINWATCH_RATE_LIMIT_PER_KEY", "0/minute"),
        ("CHAINWATCH_RATE_LIMIT_PER_KEY", "100/day"),
        ("CHAINWATCH_AUTH_FAILURES_PER_ADDRESS", "-5/minute"),
        ("CHAINWATCH_AUTH_FAILURES_PER_ADDRESS", "20"),
        ("CHAINWATCH_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal"),
        ("CHAINWATCH_RATE_LIMIT_SYNC_MS", "10"),
    ],
)
def test_an_unusable_rate_limit_setting_names_its_variable(
    data_dir: Path, variable: str, value: str
) -> None:
    message = config_error(data_dir, **{variable: value})

    assert message.startswith(variable)


class TestShutdown:
    def test_defaults_stop_within_25_seconds_without_a_drain_delay(self, data_dir: Path) -> None:
        shutdown = load(data_dir).shutdown
        assert shutdown == ShutdownSettings(grace_s=25, drain_delay_s=0)
        assert shutdown.requests_timeout_s == 20

    def test_grace_and_delay_can_be_set_and_the_delay_comes_out_of_the_grace(
        self, data_dir: Path
    ) -> None:
        settings = load(data_dir, CHAINWATCH_SHUTDOWN_GRACE_S="55", CHAINWATCH_DRAIN_DELAY_S="10")
        assert settings.shutdown == ShutdownSettings(grace_s=55, drain_delay_s=10)
        assert settings.shutdown.requests_timeout_s == 40

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("CHAINWATCH_SHUTDOWN_GRACE_S", "5"),
            ("CHAINWATCH_SHUTDOWN_GRACE_S", "2.5"),
            ("CHAINWATCH_SHUTDOWN_GRACE_S", "3601"),
            ("CHAINWATCH_DRAIN_DELAY_S", "-1"),
            ("CHAINWATCH_DRAIN_DELAY_S", "soon"),
        ],
    )
    def test_a_bad_value_is_refused_naming_the_variable(
        self, data_dir: Path, name: str, value: str
    ) -> None:
        message = config_error(data_dir, **{name: value})
        assert message.startswith(name)
        assert repr(value) in message

    def test_a_delay_that_leaves_requests_no_time_is_refused_naming_both(
        self, data_dir: Path
    ) -> None:
        message = config_error(
            data_dir, CHAINWATCH_SHUTDOWN_GRACE_S="30", CHAINWATCH_DRAIN_DELAY_S="25"
        )
        assert "CHAINWATCH_DRAIN_DELAY_S" in message
        assert "CHAINWATCH_SHUTDOWN_GRACE_S" in message
