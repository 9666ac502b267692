"""Environment -> ``Settings``: the one place that reads ``os.environ``.

``load_settings()`` validates everything up front, so a bad deployment stops at start-up
with one line naming the variable (never a secret's value) instead of failing later.

Database selection, first match wins:

1. ``DATABASE_URL``: ``postgresql://`` / ``postgres://`` (user, password, host, port, database
   and the query parameters ``connect_timeout``, ``statement_cache_size``) or
   ``sqlite:///relative/path`` / ``sqlite:////absolute/path``.
2. ``DATABASE_HOST`` with ``DATABASE_PORT`` (5432), ``DATABASE_NAME`` (blockchain_anomaly),
   ``DATABASE_USER`` (anomaly_user) and ``DATABASE_PASSWORD`` (required).
3. Nothing configured: embedded SQLite at ``$CHAINWATCH_DATA_DIR/chainwatch.sqlite3``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from adapters.piccolo import (
    DatabaseConfig,
    PostgresConfig,
    ReplicaConfig,
    SQLiteConfig,
    config_from_url,
)
from domain.archival import RETAINED_TABLES, RetentionPolicy, default_policies
from domain.errors import InvalidInput
from domain.policies import BAND_FRACTIONS, MAX_ALERT_SHARE, AlertBudget
from domain.rate_limits import Rate, parse_rate
from domain.sessions import SessionPolicy

SQLITE_FILENAME = "chainwatch.sqlite3"
SECRET_KEY_FILENAME = "secret_key"  # noqa: S105 - a file name, not a secret
MIN_SECRET_KEY_LENGTH = 32
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# Variables that only mean something for PostgreSQL configured piecewise; set without
# DATABASE_HOST they would be silently ignored in favour of SQLite, which is never intended.
_PIECEWISE_POSTGRES = ("DATABASE_PORT", "DATABASE_NAME", "DATABASE_USER", "DATABASE_PASSWORD")
_URL_HINT = "percent-encode special characters in the user name and password"
_URL_OPTIONS = frozenset({"connect_timeout", "statement_cache_size"})


# The alert budget's shares (``AlertBudget`` fields), each from its own variable.
ALERT_SHARE_VARIABLES: tuple[tuple[str, str], ...] = (
    ("alert_share", "CHAINWATCH_ALERT_SHARE"),
    ("medium_share", "CHAINWATCH_MEDIUM_SHARE"),
    ("high_share", "CHAINWATCH_HIGH_SHARE"),
    ("critical_share", "CHAINWATCH_CRITICAL_SHARE"),
)

S3_SSE_MODES = ("aes256", "aws:kms", "none")  # compared case-insensitively
S3_CHECKSUM_MODES = ("when_required", "when_supported")


class ConfigError(Exception):
    """The configuration cannot be used. ``str(error)`` is one line naming the variable."""


@dataclass(frozen=True, slots=True)
class S3Settings:
    """How backups (and other blobs) are written to ``s3://`` URLs. ``endpoint_url``: an
    S3-compatible server (None: AWS). ``sse``: ``AES256``, ``aws:kms`` or None (no
    server-side encryption header). ``checksums``: boto3's request_checksum_calculation."""

    region: str | None = None
    endpoint_url: str | None = None
    sse: str | None = "AES256"
    kms_key_id: str | None = None
    checksums: str = "when_required"


@dataclass(frozen=True, slots=True)
class PredictLimits:
    """How ``/predict`` requests are gathered and bounded. ``max_batch``: the most
    transactions one ``/predict/batch`` request may carry. Single requests are scored in
    micro-batches of up to ``micro_batch`` transactions, flushed after ``flush_ms``
    milliseconds at most; at most ``queue_size`` transactions wait (beyond that: 503)."""

    max_batch: int = 10_000
    micro_batch: int = 256
    flush_ms: float = 2.0
    queue_size: int = 4_096


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PER_KEY = Rate(300_000, 60)
"""5,000 a second on average: far above one client's honest use (and the benchmarks)."""
DEFAULT_AUTH_FAILURES = Rate(120, 60)


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """Request limits (``domain.services.rate_limits``). ``per_key``: requests per API key
    (None: unlimited); ``auth_failures_per_address``: failed authentications per client
    address before it is refused with 429 until the window ends (None: unlimited, still
    audited per address and minute). The counts are shared by every process through the
    database; per-key hits are sent every ``sync_s`` seconds. ``trusted_proxies``: peers
    whose ``X-Forwarded-For`` is believed (empty: the TCP peer is the client)."""

    per_key: Rate | None = DEFAULT_PER_KEY
    auth_failures_per_address: Rate | None = DEFAULT_AUTH_FAILURES
    trusted_proxies: tuple[IPNetwork, ...] = ()
    sync_s: float = 1.0


@dataclass(frozen=True, slots=True)
class DriftSettings:
    """How the serving versions' drift is measured (``domain.drift``): over their
    predictions of the last ``window_hours``; the Prometheus gauges are refreshed every
    ``refresh_s`` seconds by a background task."""

    window_hours: int = 24
    refresh_s: float = 60.0

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.window_hours)


@dataclass(frozen=True, slots=True)
class BackupWatchSettings:
    """Where backups are written (``BACKUP_URL``: the URL ``chainwatch backup --to`` and the
    backup CronJob use) so that the server can report the newest one's age on ``/metrics``,
    re-reading the catalogue every ``refresh_s`` seconds. ``url`` None: no backup target,
    no backup gauges."""

    url: str | None = None
    refresh_s: float = 300.0


@dataclass(frozen=True, slots=True)
class ShutdownSettings:
    """How ``chainwatch serve`` stops on SIGTERM (see ``entrypoints.http.draining``): for
    ``drain_delay_s`` seconds ``/ready`` answers 503 while requests are still served (so a
    load balancer stops routing here), then the listener closes, requests already received
    are answered and the process exits - all within ``grace_s`` seconds of the signal."""

    grace_s: int = 25
    drain_delay_s: int = 0

    @property
    def requests_timeout_s(self) -> int:
        """How long requests in flight get once the listener is closed: what is left of the
        grace period after the drain delay and ``SHUTDOWN_RESERVE_S`` for the rest of the
        shutdown (micro-batches, key uses, the database pool)."""
        return self.grace_s - self.drain_delay_s - SHUTDOWN_RESERVE_S


SHUTDOWN_RESERVE_S = 5
"""Seconds of the grace period kept for the app's own shutdown after the last request."""


@dataclass(frozen=True, slots=True)
class JobSettings:
    """How background jobs (``domain.jobs``) run in this process. ``workers``: jobs run at
    once here (0: this replica only enqueues; others run them). A worker's lease lasts
    ``lease_s`` seconds and is renewed with each progress report (every ``lease_s / 3``
    seconds at most, and at least every ``report_s``); a job whose worker is lost is tried
    again up to ``max_attempts`` attempts in all. Idle workers look for jobs every
    ``poll_s`` seconds (at once for jobs enqueued in this process). Finished jobs are
    deleted after ``keep_days``."""

    workers: int = 1
    lease_s: float = 60.0
    max_attempts: int = 3
    poll_s: float = 2.0
    report_s: float = 2.0
    keep_days: int = 30


ARCHIVES_FOLDER = "archives"
KEEP_FOREVER = ("0", "keep", "forever")
MAX_RETENTION_DAYS = 36_500


def retention_variable(table: str) -> str:
    """The variable of one table's retention policy: ``CHAINWATCH_RETENTION_<TABLE>_DAYS``."""
    return f"CHAINWATCH_RETENTION_{table.upper()}_DAYS"


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """Data retention (``domain.archival``): each table's policy (predictions 90 days,
    system metrics 30, audit logs 400; transactions and anomalies kept), where archives
    are written (``archive_url``, a ``file:///`` or ``s3://`` URL; None: the data
    folder's ``archives``), and how often each server re-reads retention's progress for
    ``/metrics`` (``refresh_s``)."""

    policies: tuple[RetentionPolicy, ...] = dataclasses.field(default_factory=default_policies)
    archive_url: str | None = None
    refresh_s: float = 300.0


@dataclass(frozen=True, slots=True)
class PartitionSettings:
    """Monthly partitions on PostgreSQL (``adapters.piccolo.partitions``): how many months
    after the current one ``chainwatch partitions ensure`` - and each server, at start-up
    and every ``check_s`` seconds - keeps created (``CHAINWATCH_PARTITION_MONTHS_AHEAD``,
    ``CHAINWATCH_PARTITION_CHECK_S``)."""

    months_ahead: int = 3
    check_s: float = 300.0


MAX_WORKERS = 256
DEFAULT_API_KEY_CACHE_S = 5
MAX_API_KEY_CACHE_S = 300
"""A revoked key may work this long elsewhere at most: keep the window short."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the process is configured with; build it with ``load_settings()``.

    Its repr is safe to log: ``PostgresConfig`` shows a password as ``***``."""

    database: DatabaseConfig
    data_dir: Path
    auto_migrate: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    model_store: str | None = None
    """URL of the model artifact store (``file:///folder`` or ``s3://bucket/prefix``);
    None means ``data_dir/models``."""
    bootstrap_model: bool = True
    """Train and activate ``bootstrap-tails`` at start-up when no version is active."""
    s3: S3Settings = S3Settings()
    predict: PredictLimits = PredictLimits()
    alerts: AlertBudget = dataclasses.field(default_factory=AlertBudget)
    """Shares of traffic flagged as anomalies and at each severity (calibrated versions)."""
    drift: DriftSettings = DriftSettings()
    backups: BackupWatchSettings = BackupWatchSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    shutdown: ShutdownSettings = ShutdownSettings()
    jobs: JobSettings = JobSettings()
    retention: RetentionSettings = dataclasses.field(default_factory=RetentionSettings)
    partitions: PartitionSettings = PartitionSettings()
    workers: int | None = None
    """HTTP worker processes ``chainwatch serve`` runs (``CHAINWATCH_WORKERS``); None: as
    many as this process may use CPUs on PostgreSQL, one on SQLite
    (``entrypoints.http.workers.worker_count``)."""
    api_key_cache_s: int = DEFAULT_API_KEY_CACHE_S
    """Seconds a verified API key is answered from this process's memory (0: every request
    asks the database): a revocation, deactivation or role change made elsewhere takes
    effect within this time."""
    console: SessionPolicy = dataclasses.field(default_factory=SessionPolicy)
    """Console sessions' idle and absolute lifetimes (``CHAINWATCH_SESSION_IDLE_MINUTES``,
    ``CHAINWATCH_SESSION_MAX_HOURS``)."""
    replicas: ReplicaConfig = dataclasses.field(default_factory=ReplicaConfig)
    """Read replicas of the PostgreSQL primary (``DATABASE_REPLICA_URLS``); none by default."""
    secret_key: str | None = dataclasses.field(default=None, repr=False)
    """Keys the digests of API key secrets. ``load_settings`` always sets it (from
    ``CHAINWATCH_SECRET_KEY`` or the data folder's ``secret_key`` file); ``None`` makes
    ``bootstrap`` draw a random one, so keys issued then die with the process."""


@dataclass(frozen=True, slots=True)
class _Pool:
    pool_min: int
    pool_max: int
    connection_lifetime_s: float


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration; raise ``ConfigError`` on anything unusable.

    ``environ`` defaults to ``os.environ``; empty values count as unset. The SQLite data
    folder is created when missing. Relative paths are resolved against the current folder.
    """
    env = _Environment(os.environ if environ is None else environ)
    data_dir = Path(env.get("CHAINWATCH_DATA_DIR") or "data").expanduser().absolute()
    pool = _Pool(
        pool_min=(size := env.integer("DATABASE_POOL_SIZE", 20, minimum=1)),
        pool_max=size + env.integer("DATABASE_MAX_OVERFLOW", 10, minimum=0),
        connection_lifetime_s=float(env.integer("DATABASE_POOL_RECYCLE", 3600, minimum=1)),
    )
    database = _database(env, pool, data_dir)
    return Settings(
        database=database,
        replicas=_replicas(env, pool, database),
        data_dir=data_dir,
        auto_migrate=env.boolean("CHAINWATCH_AUTO_MIGRATE", True),
        host=env.get("CHAINWATCH_HOST") or "127.0.0.1",
        port=env.integer("CHAINWATCH_PORT", 8000, minimum=1, maximum=65535),
        log_level=env.choice("CHAINWATCH_LOG_LEVEL", "info", LOG_LEVELS),
        model_store=_model_store(env, data_dir),
        bootstrap_model=env.boolean("CHAINWATCH_BOOTSTRAP_MODEL", True),
        s3=_s3(env),
        predict=_predict(env),
        alerts=_alerts(env),
        drift=_drift(env),
        backups=_backups(env),
        rate_limits=_rate_limits(env),
        shutdown=_shutdown(env),
        jobs=_jobs(env),
        retention=_retention(env, data_dir),
        partitions=PartitionSettings(
            months_ahead=env.integer("CHAINWATCH_PARTITION_MONTHS_AHEAD", 3, minimum=1, maximum=36),
            check_s=float(
                env.integer("CHAINWATCH_PARTITION_CHECK_S", 300, minimum=10, maximum=86_400)
            ),
        ),
        workers=(
            None
            if env.get("CHAINWATCH_WORKERS") is None
            else env.integer("CHAINWATCH_WORKERS", 1, minimum=1, maximum=MAX_WORKERS)
        ),
        console=SessionPolicy(
            idle=timedelta(
                minutes=env.integer("CHAINWATCH_SESSION_IDLE_MINUTES", 30, minimum=1, maximum=1440)
            ),
            absolute=timedelta(
                hours=env.integer("CHAINWATCH_SESSION_MAX_HOURS", 12, minimum=1, maximum=720)
            ),
        ),
        api_key_cache_s=env.integer(
            "CHAINWATCH_API_KEY_CACHE_S",
            DEFAULT_API_KEY_CACHE_S,
            minimum=0,
            maximum=MAX_API_KEY_CACHE_S,
        ),
        secret_key=_secret_key(env, data_dir),
    )


def _predict(env: _Environment) -> PredictLimits:
    return PredictLimits(
        max_batch=env.integer("CHAINWATCH_MAX_BATCH", 10_000, minimum=1, maximum=100_000),
        micro_batch=env.integer("CHAINWATCH_MICRO_BATCH", 256, minimum=1, maximum=10_000),
        flush_ms=float(env.integer("CHAINWATCH_MICRO_BATCH_WAIT_MS", 2, minimum=0, maximum=1000)),
        queue_size=env.integer("CHAINWATCH_PREDICT_QUEUE", 4_096, minimum=1, maximum=1_000_000),
    )


def _rate_limits(env: _Environment) -> RateLimitSettings:
    defaults = RateLimitSettings()
    return RateLimitSettings(
        per_key=env.rate("CHAINWATCH_RATE_LIMIT_PER_KEY", defaults.per_key),
        auth_failures_per_address=env.rate(
            "CHAINWATCH_AUTH_FAILURES_PER_ADDRESS", defaults.auth_failures_per_address
        ),
        trusted_proxies=env.networks("CHAINWATCH_TRUSTED_PROXIES"),
        sync_s=env.integer("CHAINWATCH_RATE_LIMIT_SYNC_MS", 1000, minimum=50, maximum=60_000)
        / 1000,
    )


def _drift(env: _Environment) -> DriftSettings:
    return DriftSettings(
        window_hours=env.integer("CHAINWATCH_DRIFT_WINDOW_HOURS", 24, minimum=1, maximum=8_760),
        refresh_s=float(env.integer("CHAINWATCH_DRIFT_REFRESH_S", 60, minimum=1, maximum=86_400)),
    )


def _shutdown(env: _Environment) -> ShutdownSettings:
    grace = env.integer(
        "CHAINWATCH_SHUTDOWN_GRACE_S", 25, minimum=SHUTDOWN_RESERVE_S + 1, maximum=3_600
    )
    delay = env.integer("CHAINWATCH_DRAIN_DELAY_S", 0, minimum=0, maximum=3_600)
    if delay > grace - SHUTDOWN_RESERVE_S - 1:
        raise ConfigError(
            f"CHAINWATCH_DRAIN_DELAY_S ({delay}) must be at most CHAINWATCH_SHUTDOWN_GRACE_S "
            f"({grace}) minus {SHUTDOWN_RESERVE_S + 1}: requests in flight need time to finish "
            "within the grace period"
        )
    return ShutdownSettings(grace_s=grace, drain_delay_s=delay)


def _jobs(env: _Environment) -> JobSettings:
    return JobSettings(
        workers=env.integer("CHAINWATCH_JOB_WORKERS", 1, minimum=0, maximum=64),
        lease_s=float(env.integer("CHAINWATCH_JOB_LEASE_S", 60, minimum=3, maximum=86_400)),
        max_attempts=env.integer("CHAINWATCH_JOB_MAX_ATTEMPTS", 3, minimum=1, maximum=100),
        poll_s=float(env.integer("CHAINWATCH_JOB_POLL_S", 2, minimum=1, maximum=3_600)),
        keep_days=env.integer("CHAINWATCH_JOB_KEEP_DAYS", 30, minimum=1, maximum=36_500),
    )


def _retention(env: _Environment, data_dir: Path) -> RetentionSettings:
    policies = []
    for table in RETAINED_TABLES:
        variable = retention_variable(table.name)
        raw = env.get(variable)
        if raw is None:
            policies.append(next(p for p in default_policies() if p.table == table.name))
            continue
        if raw.lower() in KEEP_FOREVER:
            policies.append(RetentionPolicy(table.name, None))
            continue
        try:
            days = int(raw)
        except ValueError:
            days = -1
        if not 1 <= days <= MAX_RETENTION_DAYS:
            raise ConfigError(
                f"{variable} must be a whole number of days from 1 to {MAX_RETENTION_DAYS}, "
                f"or 0 / keep to keep the rows forever, got {raw!r}"
            )
        policies.append(RetentionPolicy(table.name, days))
    url = env.get("CHAINWATCH_ARCHIVE_URL")
    return RetentionSettings(
        policies=tuple(policies),
        archive_url=(data_dir / ARCHIVES_FOLDER).as_uri()
        if url is None
        else _blob_store_url(url, "CHAINWATCH_ARCHIVE_URL"),
        refresh_s=float(
            env.integer("CHAINWATCH_RETENTION_CHECK_S", 300, minimum=10, maximum=86_400)
        ),
    )


def _alerts(env: _Environment) -> AlertBudget:
    """The alert budget: each share in (0, 0.5], no severity's share above the one below;
    band shares not set are fractions of the alert share (``AlertBudget.of``)."""
    (_, alert_variable), *bands = ALERT_SHARE_VARIABLES
    alert_share = env.share(alert_variable)
    given = {field: env.share(variable) for field, variable in bands}
    try:
        return AlertBudget.of(
            AlertBudget().alert_share if alert_share is None else alert_share,
            medium_share=given["medium_share"],
            high_share=given["high_share"],
            critical_share=given["critical_share"],
        )
    except InvalidInput as error:
        message = error.message
        for field, variable in ALERT_SHARE_VARIABLES:
            message = message.replace(field, variable)
        defaults = ", ".join(f"{variable} {BAND_FRACTIONS[field]:g}" for field, variable in bands)
        raise ConfigError(
            f"{message} (when unset, each is a fraction of {alert_variable}: {defaults})"
        ) from None


class _Environment:
    """Typed reads of variables; every failure names the variable and, for non-secrets only,
    the offending value."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def get(self, name: str) -> str | None:
        value = self._values.get(name, "").strip()
        return value or None

    def secret(self, name: str) -> str | None:
        """Like ``get``, but kept exactly as given: spaces may be part of a password."""
        return self._values.get(name) or None

    def integer(self, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number {bounds}, got {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise ConfigError(f"{name} must be a whole number {bounds}, got {raw!r}")
        return value

    def share(self, name: str) -> float | None:
        """A share of traffic: a decimal number above 0 and at most ``MAX_ALERT_SHARE``."""
        raw = self.get(name)
        if raw is None:
            return None
        expected = f"{name} must be a decimal number above 0 and at most {MAX_ALERT_SHARE}"
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{expected} (0.01 is 1%), got {raw!r}") from None
        if not 0.0 < value <= MAX_ALERT_SHARE:  # NaN fails this too
            raise ConfigError(f"{expected} (0.01 is 1%), got {raw!r}")
        return value

    def rate(self, name: str, default: Rate | None) -> Rate | None:
        """``<count>/second|minute|hour`` or ``off`` (None)."""
        raw = self.get(name)
        if raw is None:
            return default
        try:
            return parse_rate(raw)
        except InvalidInput as error:
            raise ConfigError(f"{name}: {error.message}, got {raw!r}") from None

    def networks(self, name: str) -> tuple[IPNetwork, ...]:
        """Comma-separated IP addresses or CIDR networks (``10.0.0.0/8, 127.0.0.1``)."""
        raw = self.get(name)
        if raw is None:
            return ()
        found: list[IPNetwork] = []
        for item in (part.strip() for part in raw.split(",")):
            try:
                found.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ConfigError(
                    f"{name} must be comma-separated IP addresses or CIDR networks "
                    f"(e.g. 10.0.0.0/8,127.0.0.1), got {item!r}"
                ) from None
        return tuple(found)

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.get(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(f"{name} must be true or false (also 1/0, yes/no, on/off), got {raw!r}")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        raw = self.get(name)
        if raw is None:
            return default
        if raw.lower() not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return raw.lower()


def _s3(env: _Environment) -> S3Settings:
    # boto3's standard variable; the S3-specific one wins, as it does in boto3 itself.
    endpoint_variable = (
        "AWS_ENDPOINT_URL_S3" if env.get("AWS_ENDPOINT_URL_S3") else "AWS_ENDPOINT_URL"
    )
    endpoint = env.get(endpoint_variable)
    if endpoint is not None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{endpoint_variable} must be an http:// or https:// URL")
    sse = env.choice("CHAINWATCH_S3_SSE", "aes256", S3_SSE_MODES)
    kms_key_id = env.get("CHAINWATCH_S3_KMS_KEY_ID")
    if kms_key_id is not None and sse != "aws:kms":
        raise ConfigError("CHAINWATCH_S3_KMS_KEY_ID is set but CHAINWATCH_S3_SSE is not aws:kms")
    return S3Settings(
        region=env.get("CHAINWATCH_S3_REGION"),
        endpoint_url=endpoint,
        sse={"aes256": "AES256", "aws:kms": "aws:kms"}.get(sse),
        kms_key_id=kms_key_id,
        checksums=env.choice("CHAINWATCH_S3_CHECKSUMS", "when_required", S3_CHECKSUM_MODES),
    )


def _database(env: _Environment, pool: _Pool, data_dir: Path) -> DatabaseConfig:
    url = env.get("DATABASE_URL")
    if url is not None:
        return _from_url(url, pool)
    host = env.get("DATABASE_HOST")
    if host is not None:
        password = env.secret("DATABASE_PASSWORD")
        if password is None:
            raise ConfigError("DATABASE_PASSWORD is required when DATABASE_HOST is set")
        return PostgresConfig(
            host=host,
            port=env.integer("DATABASE_PORT", 5432, minimum=1, maximum=65535),
            database=env.get("DATABASE_NAME") or "blockchain_anomaly",
            user=env.get("DATABASE_USER") or "anomaly_user",
            password=password,
            pool_min=pool.pool_min,
            pool_max=pool.pool_max,
            connection_lifetime_s=pool.connection_lifetime_s,
        )
    for name in _PIECEWISE_POSTGRES:
        if env.get(name) is not None:
            raise ConfigError(
                f"{name} is set but DATABASE_HOST is not: set DATABASE_HOST (or DATABASE_URL) "
                f"for PostgreSQL, or unset {name} to use the embedded SQLite database"
            )
    _make_folder(data_dir, "CHAINWATCH_DATA_DIR")
    return SQLiteConfig(path=data_dir / SQLITE_FILENAME)


def _from_url(url: str, pool: _Pool, variable: str = "DATABASE_URL") -> DatabaseConfig:
    # The adapter parses; this adds what an operator needs checked. No message quotes any
    # part of the URL: a password with an unescaped special character can end up in any
    # component (host, path, query), so none of them is safe to print.
    try:
        config = config_from_url(url)
    except ValueError as error:
        postgres = url.partition("://")[0].lower() in ("postgresql", "postgres")
        # With a valid scheme, a parse error is most often an unescaped character.
        raise ConfigError(f"{variable}: {error}" + (f"; {_URL_HINT}" if postgres else "")) from None
    if isinstance(config, SQLiteConfig):
        if config.path.name == ":memory:" or "?" in str(config.path):
            raise ConfigError(
                f"{variable}: SQLite needs a file path (no :memory:, no query parameters)"
            )
        _make_folder(config.path.parent, variable)
        return config
    parts = urlsplit(url)
    if parts.fragment:
        raise ConfigError(f"{variable} must not contain '#'; {_URL_HINT}")
    if "/" in config.database:
        raise ConfigError(f"{variable} has more than one path segment; {_URL_HINT}")
    if any(key not in _URL_OPTIONS for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
        raise ConfigError(
            f"{variable} has an unsupported query parameter; supported: "
            "connect_timeout (seconds), statement_cache_size (0 behind pgbouncer)"
        )
    if not config.connect_timeout_s > 0 or config.statement_cache_size < 0:
        raise ConfigError(
            f"{variable}: connect_timeout must be positive, statement_cache_size 0 or more"
        )
    return dataclasses.replace(
        config,
        pool_min=pool.pool_min,
        pool_max=pool.pool_max,
        connection_lifetime_s=pool.connection_lifetime_s,
    )


def _replicas(env: _Environment, pool: _Pool, primary: DatabaseConfig) -> ReplicaConfig:
    """``DATABASE_REPLICA_URLS``: comma-separated PostgreSQL URLs, each checked as
    ``DATABASE_URL`` is (messages name the entry by position, never quote it)."""
    raw = env.get("DATABASE_REPLICA_URLS")
    max_lag_s = float(env.integer("CHAINWATCH_REPLICA_MAX_LAG_S", 5, minimum=1, maximum=3600))
    check_s = env.integer("CHAINWATCH_REPLICA_CHECK_MS", 1000, minimum=50, maximum=60_000) / 1000
    if raw is None:
        return ReplicaConfig(max_lag_s=max_lag_s, check_interval_s=check_s)
    if not isinstance(primary, PostgresConfig):
        raise ConfigError(
            "DATABASE_REPLICA_URLS needs a PostgreSQL primary: set DATABASE_URL (or "
            "DATABASE_HOST) to PostgreSQL, or unset DATABASE_REPLICA_URLS"
        )
    nodes: list[PostgresConfig] = []
    for position, url in enumerate(raw.split(","), start=1):
        variable = f"DATABASE_REPLICA_URLS (entry {position})"
        if not url.strip():
            raise ConfigError(f"{variable} is empty; separate replica URLs with single commas")
        if url.strip().partition("://")[0].lower() not in ("postgresql", "postgres"):
            raise ConfigError(f"{variable} must be a postgresql:// URL")
        node = _from_url(url.strip(), pool, variable)
        assert isinstance(node, PostgresConfig)
        nodes.append(node)
    return ReplicaConfig(nodes=tuple(nodes), max_lag_s=max_lag_s, check_interval_s=check_s)


def _secret_key(env: _Environment, data_dir: Path) -> str:
    """``CHAINWATCH_SECRET_KEY``, else the key kept in ``$CHAINWATCH_DATA_DIR/secret_key``
    (generated there, readable by the owner only, on first use). No message shows a key."""
    given = env.secret("CHAINWATCH_SECRET_KEY")
    if given is not None:
        if len(given) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"CHAINWATCH_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters; "
                "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return given
    path = data_dir / SECRET_KEY_FILENAME
    where = f"CHAINWATCH_SECRET_KEY is unset and {path}"
    try:
        _make_folder(data_dir, "CHAINWATCH_DATA_DIR")
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            stored = path.read_text(encoding="utf-8").strip()
        else:
            stored = secrets.token_urlsafe(48)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(stored + "\n")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise ConfigError(f"{where} cannot be used ({reason}); set CHAINWATCH_SECRET_KEY") from None
    if len(stored) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"{where} holds a key shorter than {MIN_SECRET_KEY_LENGTH} characters; "
            "set CHAINWATCH_SECRET_KEY, or delete the file to generate a new key "
            "(every issued API key then stops working)"
        )
    return stored


MODELS_FOLDER = "models"


def _model_store(env: _Environment, data_dir: Path) -> str:
    """``CHAINWATCH_MODEL_STORE`` (a ``file:///`` or ``s3://`` URL), else the data folder's
    ``models`` sub-folder."""
    url = env.get("CHAINWATCH_MODEL_STORE")
    if url is None:
        return (data_dir / MODELS_FOLDER).as_uri()
    return _blob_store_url(url, "CHAINWATCH_MODEL_STORE")


def _backups(env: _Environment) -> BackupWatchSettings:
    url = env.get("BACKUP_URL")
    return BackupWatchSettings(
        url=None if url is None else _blob_store_url(url, "BACKUP_URL"),
        refresh_s=float(env.integer("CHAINWATCH_BACKUP_CHECK_S", 300, minimum=10, maximum=86_400)),
    )


def _blob_store_url(url: str, variable: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return url
    if scheme == "s3" and parts.netloc and not parts.query and not parts.fragment:
        return url
    raise ConfigError(
        f"{variable} must be file:///absolute/folder or s3://bucket[/prefix], got {url!r}"
    )


def _make_folder(folder: Path, variable: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(f"{variable}: cannot create the folder {folder} ({reason})") from None
