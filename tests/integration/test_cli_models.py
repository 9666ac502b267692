"""``chainwatch demo | train | models | label`` on the embedded database, as an operator
types them: results on stdout, progress on stderr, exit codes scripts can trust."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.transaction_csv import read_transactions_csv
from entrypoints.cli import main

FAST = '{"n_estimators": 20}'


@pytest.fixture(autouse=True)
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "DATABASE_HOST", "CHAINWATCH_MODEL_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAINWATCH_DATA_DIR", str(tmp_path / "data"))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _table(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()[1:]]


def test_demo_train_and_switch_versions_end_to_end(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    csv = tmp_path / "demo.csv"
    code, out, err = _run(
        capsys, "demo", "--count", "1500", "--seed", "4", "--load", "--csv", str(csv)
    )
    assert code == 0, err
    assert "generated 1,500 transactions" in out
    assert "stored 1,500 new transactions (0 already there) and 30 labels" in out
    assert "stored 1,500 of 1,500 transactions" in err  # progress goes to stderr
    assert len(read_transactions_csv(csv).transactions) == 1_500

    code, out, err = _run(
        capsys,
        "train",
        "--model",
        "Fraud",
        "--algorithm",
        "iforest",
        "--params",
        FAST,
        "--activate",
    )
    assert code == 0, err
    assert out.startswith("fraud v1: active at 100%")
    assert "training iforest" in err

    code, out, err = _run(capsys, "train", "--model", "fraud", "--csv", str(csv), "--params", FAST)
    assert (code, out.splitlines()[0]) == (0, "fraud v2: staged")

    assert _run(capsys, "models", "activate", "fraud", "2", "--weight", "25")[0] == 0
    code, out, _ = _run(capsys, "models", "list")
    assert [row[:4] for row in _table(out)] == [
        ["bootstrap-tails", "1", "active", "0"],  # what demo --load scored with, standing by
        ["fraud", "1", "active", "75"],
        ["fraud", "2", "active", "25"],
    ]

    assert _run(capsys, "models", "weights", "fraud", "2", "100")[1] == "fraud v2: active at 100%\n"
    code, out, _ = _run(capsys, "models", "rollback", "fraud")
    assert out.splitlines() == ["fraud v2: retired", "fraud v1: active at 100%"]
    assert _run(capsys, "models", "shadow", "fraud", "2")[1] == "fraud v2: shadow\n"


def test_labelling_a_stored_transaction_and_an_unknown_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    csv = tmp_path / "demo.csv"
    assert _run(capsys, "demo", "--count", "50", "--load", "--csv", str(csv))[0] == 0
    tx_hash = read_transactions_csv(csv).transactions[0].hash

    code, out, _ = _run(capsys, "label", tx_hash, "fraud", "--source", "missed-fraud-report")
    assert code == 0
    assert out.startswith(f"{tx_hash}: fraud (missed-fraud-report)")

    code, out, err = _run(capsys, "label", "0x" + "ab" * 32, "legitimate", "--source", "x")
    assert (code, out) == (1, "")
    assert err.strip().endswith("not found")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "--model", "m", "--since", "yesterday"), "--since must be an ISO 8601"),
        (("train", "--model", "m", "--params", "[1]"), "--params must be a JSON object"),
        (("train", "--model", "m", "--params", "{oops"), "--params is not JSON"),
        (("train", "--model", "m", "--csv", "x.csv", "--since", "2024-01-01"), "either --csv"),
        (
            ("train", "--model", "m", "--since", "2024-02-01", "--until", "2024-01-01"),
            "--until must be later than --since",
        ),
        (("demo", "--count", "0"), "--count must be positive"),
    ],
)
def test_bad_usage_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, out, err = _run(capsys, *args)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert message in err


def test_refused_changes_exit_1_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "models", "rollback", "nothing")
    assert code == 1
    assert "model nothing not found" in err
    code, _, err = _run(capsys, "train", "--model", "empty", "--params", FAST)
    assert code == 1
    assert "no transactions to train on" in err
