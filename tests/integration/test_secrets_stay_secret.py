"""A whole session with secrets we know, then a search for them everywhere they must not be.

The session, against a real ``chainwatch serve`` on a scratch PostgreSQL database whose
DSN carries a password, with the model store and backups on an S3 server (moto) reached
with a known secret access key, and a known ``CHAINWATCH_SECRET_KEY``, all at log level
``debug``: the operator creates the first admin (CLI), the admin creates a user with a
password and issues keys, the keys are used, revoked and presented wrongly (wrong secret,
another key's secret, as a bearer token, in the query string, the password as a key),
passwords are refused (too short, wrong type), a user is deactivated, a backup is taken,
and the CLI fails on a bad configuration carrying secrets.

Searched: every line the server and the CLI wrote (stdout and stderr, JSON logs included),
every response body but the one that hands a new key to its owner, and every row of every
chainwatch table (audit details included). No password, API key or API key secret, S3
secret key, database password or ``CHAINWATCH_SECRET_KEY`` may appear in any of them.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from adapters.piccolo.schema.tables import TABLES
from domain.services.api_key_format import KeyParts, split_key
from tests.backends import create_scratch_postgres, drop_scratch_postgres, run_in_thread
from tests.integration.test_serve import CHAINWATCH, free_port, wait_until_ready
from tests.s3 import TEST_BUCKET, TEST_REGION, reset_s3, s3_client

pytestmark = pytest.mark.postgres
TX = {
    "hash": "0x" + "cd" * 32,
    "from": "0x" + "12" * 20,
    "to": "0x" + "34" * 20,
    "value": "1000",
    "gas": 21000,
    "gasPrice": "1",
    "timestamp": "2024-01-01T00:00:00Z",
}


@dataclass
class Evidence:
    """Everything the session produced that must not hold a secret, by where it came from."""

    parts: list[tuple[str, str]] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)

    def add(self, where: str, text: str) -> None:
        self.parts.append((where, text))

    def keep_secret(self, name: str, value: str) -> None:
        assert len(value) >= 8, f"{name} is too short to search for without false alarms"
        self.secrets[name] = value

    def leaks(self) -> list[str]:
        return [
            f"{name} found in {where}"
            for name, value in self.secrets.items()
            for where, text in self.parts
            if value in text
        ]


@dataclass
class Session:
    url: str
    """The scratch database's DSN, with its password."""
    environment: dict[str, str]
    evidence: Evidence
    tmp_path: Path

    def cli(self, *args: str, environment: dict[str, str] | None = None) -> tuple[int, str, str]:
        done = subprocess.run(  # noqa: S603 - our own console script
            [CHAINWATCH, *args],
            env=environment or self.environment,
            cwd=self.tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return done.returncode, done.stdout, done.stderr


def parts_of(token: str) -> KeyParts:
    parts = split_key(token)
    assert parts is not None, "not an API key"
    return parts


def with_password(url: str, password: str) -> tuple[str, str]:
    """``url`` carrying a password, and that password: the one it has, else ``password``
    (the test server trusts loopback, so any password connects)."""
    parts = urlsplit(url)
    if parts.password:
        return url, parts.password
    netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc)), password


@pytest.fixture
def session(tmp_path: Path, s3_server: str) -> Iterator[Session]:
    scratch = run_in_thread(lambda: create_scratch_postgres("chainwatch_secrets"))
    evidence = Evidence()
    url, db_password = with_password(scratch, "db-Pass-" + secrets.token_hex(12))
    evidence.keep_secret("the database password", db_password)
    secret_key = "server-key-" + secrets.token_urlsafe(36)
    evidence.keep_secret("CHAINWATCH_SECRET_KEY", secret_key)
    s3_secret = "s3-secret-" + secrets.token_hex(20)
    evidence.keep_secret("AWS_SECRET_ACCESS_KEY", s3_secret)
    reset_s3(s3_server)
    s3_client(s3_server).create_bucket(Bucket=TEST_BUCKET)
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "CHAINWATCH_", "AWS_"))
    }
    environment |= {
        "DATABASE_URL": url,
        "DATABASE_POOL_SIZE": "2",
        "CHAINWATCH_SECRET_KEY": secret_key,
        "CHAINWATCH_DATA_DIR": str(tmp_path / "data"),
        "CHAINWATCH_MODEL_STORE": f"s3://{TEST_BUCKET}/models",
        "CHAINWATCH_LOG_LEVEL": "debug",
        "AWS_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": "chainwatch-secrets-test",
        "AWS_SECRET_ACCESS_KEY": s3_secret,
        "AWS_DEFAULT_REGION": TEST_REGION,
    }
    try:
        yield Session(url, environment, evidence, tmp_path)
    finally:
        run_in_thread(lambda: drop_scratch_postgres(scratch))


def test_no_secret_reaches_logs_audit_rows_or_problem_bodies(session: Session) -> None:
    evidence = session.evidence
    status, out, err = session.cli("migrate")
    assert status == 0, err
    evidence.add("chainwatch migrate output", out + err)
    status, out, err = session.cli("create-user", "--username", "first-admin", "--role", "admin")
    assert status == 0, err
    *lines, admin_key = out.strip().splitlines()
    evidence.keep_secret("the admin's API key", admin_key)
    evidence.keep_secret("the admin's API key secret", parts_of(admin_key).secret)
    evidence.add("chainwatch create-user output (but the key line)", "\n".join(lines) + err)

    port = free_port()
    log = session.tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
            [CHAINWATCH, "serve", "--port", str(port)],
            cwd=session.tmp_path,
            env=session.environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            try:
                wait_until_ready(f"{base}/ready", server)
            except AssertionError as failure:
                raise AssertionError(f"{failure}\n{log.read_text()}") from None
            with httpx.Client(base_url=base, timeout=30) as client:
                run_http_session(client, admin_key, evidence)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    server_log = log.read_text()
    # What is searched holds what it should: access lines, the S3 client's debug lines.
    loggers = {
        json.loads(line).get("logger") for line in server_log.splitlines() if line.startswith("{")
    }
    assert {"chainwatch.http.access", "botocore.auth"} <= loggers, server_log
    evidence.add("the server's log", server_log)

    status, out, err = session.cli("backup", "--to", f"s3://{TEST_BUCKET}/backups")
    assert status == 0, err
    evidence.add("chainwatch backup output", out + err)
    misconfigured(session)

    rows = run_in_thread(lambda: every_row(session.url))
    # The refusals of the wrong keys were audited, naming the public prefix only.
    analyst_prefix = next(v for k, v in evidence.secrets.items() if k == "the analyst's API key")
    assert any(
        "auth.authenticate" in text and parts_of(analyst_prefix).prefix in text for _, text in rows
    ), "no refusal of the analyst's wrong keys was audited"
    for table, text in rows:
        evidence.add(f"a row of {table}", text)

    assert len(evidence.secrets) >= 10
    assert not evidence.leaks(), "\n".join(evidence.leaks())


def run_http_session(client: httpx.Client, admin_key: str, evidence: Evidence) -> None:
    """The API part of the session: every answer but a key's issue goes into ``evidence``."""
    admin = {"X-API-Key": admin_key}
    password = "correct horse " + secrets.token_hex(8)
    evidence.keep_secret("a user's password", password)
    short_password = secrets.token_hex(5)  # 10 characters: refused (12 at least)
    evidence.keep_secret("a refused password", short_password)

    def send(method: str, path: str, *, expect: int, **kwargs: object) -> httpx.Response:
        response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == expect, (method, path, response.text)
        evidence.add(f"the {response.status_code} answer to {method} {path}", response.text)
        return response

    def user(name: str, role: str, **extra: object) -> dict[str, object]:
        return {"username": name, "role": role, "email": f"{name}@example.org", **extra}

    analyst = send(
        "POST", "/api/v1/users", expect=201, headers=admin,
        json=user("analyst-one", "analyst", password=password),
    ).json()  # fmt: skip
    send("POST", "/api/v1/users", expect=422, headers=admin,
         json=user("analyst-two", "analyst", password=short_password))  # fmt: skip
    send("POST", "/api/v1/users", expect=422, headers=admin,
         json=user("analyst-three", "analyst", password=12345678901234))  # fmt: skip
    send("POST", "/api/v1/users", expect=409, headers=admin,
         json=user("analyst-one", "viewer", password=password))  # fmt: skip

    issued = client.post("/api/v1/api-keys", headers=admin, json={"user_id": analyst["id"]})
    assert issued.status_code == 201, issued.text
    analyst_key = issued.json()["key"]
    assert analyst_key in issued.text  # the one answer that shows it; the search can see keys
    evidence.keep_secret("the analyst's API key", analyst_key)
    evidence.keep_secret("the analyst's API key secret", parts_of(analyst_key).secret)
    analyst_headers = {"X-API-Key": analyst_key}
    spare = client.post("/api/v1/api-keys", headers=analyst_headers, json={"name": "spare"})
    assert spare.status_code == 201, spare.text
    spare_key, spare_id = spare.json()["key"], spare.json()["id"]
    evidence.keep_secret("a revoked API key", spare_key)

    send("POST", "/api/v1/predict", expect=200, headers=admin, json=TX)
    send("GET", f"/api/v1/transactions/{TX['hash']}", expect=200, headers=analyst_headers)
    send("GET", "/api/v1/anomalies", expect=200, headers=analyst_headers)
    send("GET", "/api/v1/api-keys", expect=200, headers=analyst_headers)
    send("GET", "/api/v1/users", expect=403, headers=analyst_headers)
    send("DELETE", f"/api/v1/api-keys/{spare_id}", expect=200, headers=analyst_headers)
    send("GET", "/api/v1/anomalies", expect=401, headers={"X-API-Key": spare_key})

    prefix, secret = parts_of(analyst_key).prefix, parts_of(analyst_key).secret
    admin_prefix, admin_secret = parts_of(admin_key).prefix, parts_of(admin_key).secret
    for wrong in (
        f"{prefix}_{secret[::-1]}",  # the right prefix, a wrong secret
        f"{prefix}_{admin_secret}",  # another key's secret
        f"{admin_prefix}_{secret}x",
        f"Bearer {analyst_key}",
        analyst_key + "!",
        password,  # a password where a key belongs
    ):
        send("GET", "/api/v1/anomalies", expect=401, headers={"X-API-Key": wrong})
    send("GET", "/api/v1/anomalies", expect=401, params={"api_key": analyst_key})
    send("GET", "/api/v1/anomalies", expect=401, headers={"Authorization": f"Bearer {admin_key}"})
    send("PUT", f"/api/v1/transactions/{TX['hash']}/label", expect=401,
         headers={"X-API-Key": f"{prefix}_{admin_secret}"},
         json={"label": "fraud", "source": password})  # fmt: skip

    send("PATCH", f"/api/v1/users/{analyst['id']}", expect=200, headers=admin,
         json={"active": False})  # fmt: skip
    send("GET", "/api/v1/anomalies", expect=401, headers=analyst_headers)
    send("GET", "/api/v1/audit-logs", expect=200, headers=admin, params={"limit": 200})
    send("GET", "/api/v1/users", expect=200, headers=admin)
    send("GET", "/metrics", expect=200)


def misconfigured(session: Session) -> None:
    """CLI runs that must fail on their configuration, naming it but no secret in it."""
    parts = urlsplit(session.url)
    unreachable = urlunsplit(parts._replace(netloc=f"{parts.netloc.rsplit(':', 1)[0]}:1"))
    bad_port = urlunsplit(parts._replace(netloc=f"{parts.netloc.rsplit(':', 1)[0]}:port"))
    short_key = "tiny-" + secrets.token_hex(6)
    session.evidence.keep_secret("a too short CHAINWATCH_SECRET_KEY", short_key)
    for variables, expected in (
        ({"DATABASE_URL": unreachable}, 1),
        ({"DATABASE_URL": bad_port}, 2),
        ({"CHAINWATCH_SECRET_KEY": short_key}, 2),
    ):
        status, out, err = session.cli("migrate", environment=session.environment | variables)
        assert status == expected, (variables, out, err)
        session.evidence.add(f"chainwatch migrate output with {sorted(variables)}", out + err)


async def every_row(url: str) -> list[tuple[str, str]]:
    """Each row of each chainwatch table as text, with its table's name."""
    connection = await asyncpg.connect(url, timeout=10)
    try:
        rows = []
        for table in TABLES:
            name = table._meta.tablename
            for record in await connection.fetch(f"SELECT t::text AS row FROM {name} t"):
                rows.append((name, str(record["row"])))
        return rows
    finally:
        await connection.close()
