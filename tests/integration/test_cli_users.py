"""``chainwatch create-user``: the first admin and its key, from the operator's shell."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from domain.model import Role
from domain.services.auth import Principal, authenticate
from entrypoints.bootstrap import bootstrap
from entrypoints.cli import main
from entrypoints.settings import load_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("DATABASE_URL", "DATABASE_HOST", "CHAINWATCH_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAINWATCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHAINWATCH_BOOTSTRAP_MODEL", "false")
    return tmp_path


def principal_of(key: str, data_dir: Path) -> Principal:
    container = bootstrap(load_settings({"CHAINWATCH_DATA_DIR": str(data_dir)}))

    async def check() -> Principal:
        await container.database.start()
        try:
            return await authenticate(container.services, key)
        finally:
            await container.database.stop()

    return asyncio.run(check())


def test_create_user_prints_a_working_key_alone_on_the_last_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["create-user", "--username", "Root", "--role", "admin", "--email", "r@x.org"])
    output = capsys.readouterr().out.splitlines()
    assert code == 0
    key = output[-1]
    assert key.startswith("cw_")
    assert " " not in key
    principal = principal_of(key, data_dir)
    assert (principal.username, principal.role) == ("root", Role.ADMIN)


def test_a_taken_username_fails_with_one_line_and_exit_code_1(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create-user", "--username", "ann", "--role", "viewer"]) == 0
    capsys.readouterr()
    assert main(["create-user", "--username", "ann", "--role", "analyst"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "ann" in captured.err


def test_an_unknown_role_is_a_usage_error(data_dir: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["create-user", "--username", "ann", "--role", "root"])
    assert exited.value.code == 2
