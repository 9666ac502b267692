"""``chainwatch demo --load`` gives a new user an inbox with anomalies in it: the rows it
stores are scored the way ``POST /predict/batch`` scores them, and what it prints is what
the API then answers. As the README's first minute: ``create-user`` prints an admin key,
``demo --load`` loads, ``GET /api/v1/anomalies`` lists - on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from entrypoints.bootstrap import bootstrap
from entrypoints.cli import main
from entrypoints.http import create_app
from entrypoints.settings import load_settings
from tests.backends import create_scratch_postgres, drop_scratch_postgres, run_in_thread

COUNT = "2000"
FLAGGED = re.compile(
    r"flagged (?P<total>[\d,]+) as anomalies: critical (?P<critical>[\d,]+), "
    r"high (?P<high>[\d,]+), medium (?P<medium>[\d,]+), low (?P<low>[\d,]+)"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """A new, empty database of the parametrised kind, configured as ``make run`` users
    configure it (the environment); yields its kind."""
    for name in ("DATABASE_URL", "DATABASE_HOST", "CHAINWATCH_MODEL_STORE", "BACKUP_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAINWATCH_DATA_DIR", str(tmp_path / "data"))
    if request.param == "sqlite":
        yield "sqlite"
        return
    url = run_in_thread(lambda: create_scratch_postgres("chainwatch_demo"))
    monkeypatch.setenv("DATABASE_URL", url)
    try:
        yield "postgres"
    finally:
        run_in_thread(lambda: drop_scratch_postgres(url))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _admin_key(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = _run(capsys, "create-user", "--username", "first", "--role", "admin")
    assert code == 0, err
    return out.splitlines()[-1]


def _flagged(out: str) -> dict[str, int]:
    match = FLAGGED.search(out)
    assert match is not None, out
    return {name: int(value.replace(",", "")) for name, value in match.groupdict().items()}


def _get(client: TestClient[Any], key: str, path: str, **params: str) -> Any:
    answer = client.get(path, params=params, headers={"X-API-Key": key})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _all_anomalies(client: TestClient[Any], key: str) -> list[dict[str, Any]]:
    anomalies: list[dict[str, Any]] = []
    params = {"limit": "500"}
    while True:
        page = _get(client, key, "/api/v1/anomalies", **params)
        anomalies += page["anomalies"]
        if page["next_cursor"] is None:
            return anomalies
        params["cursor"] = page["next_cursor"]


def test_demo_load_scores_what_it_stores_and_the_api_lists_the_anomalies(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _admin_key(capsys)
    code, out, err = _run(capsys, "demo", "--load", "--count", COUNT, "--seed", "3")
    assert code == 0, err
    assert "stored 2,000 new transactions" in out
    assert "scored 2,000 transactions (2,000 new, 0 scored before) with bootstrap-tails v1" in out
    printed = _flagged(out)
    assert printed["total"] > 0
    assert "scored 2,000 of 2,000 transactions" in err  # progress on stderr

    with TestClient(create_app(bootstrap(load_settings()))) as client:
        anomalies = _all_anomalies(client, key)
        severities = Counter(anomaly["severity"] for anomaly in anomalies)
        assert {band: severities[band] for band in ("critical", "high", "medium", "low")} == {
            band: printed[band] for band in ("critical", "high", "medium", "low")
        }
        assert len(anomalies) == printed["total"]
        assert {a["model_version"] for a in anomalies} == {"bootstrap-tails:1"}
        assert {a["status"] for a in anomalies} == {"open"}

        flagged = _get(client, key, f"/api/v1/transactions/{anomalies[0]['hash']}")
        assert [p["is_anomaly"] for p in flagged["predictions"]] == [True]

        audit = _get(client, key, "/api/v1/audit-logs", action="transaction.predict_batch")
        rows = audit["audit_logs"]
        assert len(rows) == 1  # 2,000 rows fit in one batch of CHAINWATCH_MAX_BATCH
        assert rows[0]["details"] == {
            "count": 2000,
            "anomalies": printed["total"],
            "replayed": 0,
            "via": "cli",
        }

        # The README's next step: sign in to the console with that key, the inbox lists them.
        client.get("/sign-in")
        signed_in = client.post(
            "/sign-in",
            data={"method": "api-key", "api_key": key, "_csrf": client.cookies["cw_sign_in"]},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303, signed_in.text
        inbox = client.get("/inbox")
        assert inbox.status_code == 200
        shown = re.findall(r'data-anomaly="([^"]+)"', inbox.text)
        assert shown == [a["id"] for a in anomalies[: min(50, len(anomalies))]]
        for band in ("critical", "high", "medium", "low"):
            assert f"<span>{band}</span> <strong>{printed[band]:,}</strong>" in inbox.text

    # Again: nothing is stored or scored twice, the inbox is the same.
    code, out, err = _run(capsys, "demo", "--load", "--count", COUNT, "--seed", "3")
    assert code == 0, err
    assert "stored 0 new transactions (2,000 already there)" in out
    assert "(0 new, 2,000 scored before)" in out
    assert _flagged(out) == printed
    with TestClient(create_app(bootstrap(load_settings()))) as client:
        assert len(_all_anomalies(client, key)) == printed["total"]


def test_demo_load_train_scores_with_a_model_trained_on_the_stream(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINWATCH_BOOTSTRAP_MODEL", "false")  # the demo's model is enough
    monkeypatch.setenv("CHAINWATCH_MAX_BATCH", "500")
    key = _admin_key(capsys)
    code, out, err = _run(
        capsys, "demo", "--load", "--train", "--count", COUNT, "--label-share", "1"
    )
    assert code == 0, err
    assert "demo v1: active at 100%" in out
    assert "scored 2,000 transactions (2,000 new, 0 scored before) with demo v1 (2,000)" in out
    printed = _flagged(out)
    assert printed["total"] > 0

    with TestClient(create_app(bootstrap(load_settings()))) as client:
        anomalies = _all_anomalies(client, key)
        assert len(anomalies) == printed["total"]
        assert {a["model_version"] for a in anomalies} == {"demo:1"}
        version = _get(client, key, "/api/v1/models/demo")["versions"][0]
        assert version["metrics"]["training_fraud"] > 0  # it learned from the labels
        audit = _get(client, key, "/api/v1/audit-logs", action="transaction.predict_batch")
        batches = audit["audit_logs"]
        assert [row["details"]["count"] for row in batches] == [500] * 4
        assert sum(row["details"]["anomalies"] for row in batches) == printed["total"]


def test_demo_load_without_any_model_to_score_with_fails_with_what_to_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("DATABASE_URL", "DATABASE_HOST", "CHAINWATCH_MODEL_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAINWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINWATCH_BOOTSTRAP_MODEL", "false")
    code, out, err = _run(capsys, "demo", "--load", "--count", "200")
    assert code == 1
    assert "stored 200 new transactions" in out
    assert "no model version is active" in err.splitlines()[-1]


def test_train_without_load_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "demo", "--train", "--count", "10")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == "chainwatch: --train needs --load: it trains on the stored rows"
