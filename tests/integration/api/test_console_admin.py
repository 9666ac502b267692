"""The console's admin pages over HTTP, in process, on the fakes and on PostgreSQL: users,
API keys (shown once), the audit log and the backup status; refusals are messages on the
page with the API's status, never a 500 (``tests/browser`` drives the same pages in
Chromium)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.blobs import LocalFolderBlobStore
from adapters.clock import SystemClock
from adapters.piccolo import PiccoloDatabase, SQLiteConfig
from domain.model import Outcome, Role
from domain.pagination import PageRequest
from domain.services.users import create_user
from entrypoints.bootstrap import bootstrap_in_memory
from entrypoints.http import create_app
from entrypoints.settings import BackupWatchSettings
from ops.backup import back_up
from ops.verify import verify
from ports import AuditFilter
from tests.clocks import ManualClock
from tests.integration import backup_data
from tests.integration.api.conftest import (
    CHEAP_PASSWORDS,
    CLIENT_IP,
    Api,
    running,
    user_with_key,
)
from tests.integration.api.test_console import Browser
from tests.integration.backup_data import NO_MODELS

ADMIN_PAGES = ["/admin/users", "/admin/keys", "/admin/audit", "/admin/backups"]
_TOKEN = re.compile(r'id="issued-token"[^>]*>(cw_[^<]+)</textarea>')
_REVOKE = re.compile(r'href="/admin/keys/([0-9a-f-]{36})/revoke"')


async def _browser(stack: AsyncExitStack, app: Any, key: str | None) -> Browser:
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50001))
    client = await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url="http://testserver")
    )
    browser = Browser(client)
    if key is not None:
        answer = await browser.sign_in(method="api-key", api_key=key)
        assert answer.status_code == 303, answer.text
    return browser


@pytest.fixture
async def signed_in(api: Api) -> AsyncIterator[Any]:
    async with AsyncExitStack() as stack:

        async def new(role: Role) -> Browser:
            return await _browser(stack, api.app, api.keys[role])

        yield new


async def _audit(api: Api, **criteria: Any) -> list[Any]:
    async with api.container.services.read_uow() as uow:
        return (await uow.audit.query(AuditFilter(**criteria), PageRequest(100))).items


async def test_only_admins_see_the_admin_pages_and_others_get_403_and_change_nothing(
    api: Api, signed_in: Any
) -> None:
    admin = await signed_in(Role.ADMIN)
    inbox = await admin.page("/inbox")
    assert 'href="/admin"' in inbox.text
    for path in ADMIN_PAGES:
        answer = await admin.page(path)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["cache-control"] == "no-store"
    for role in (Role.ANALYST, Role.VIEWER):
        other = await signed_in(role)
        assert 'href="/admin"' not in (await other.page("/inbox")).text
        for path in ["/admin", *ADMIN_PAGES]:
            refused = await other.page(path)
            assert refused.status_code == 403, (role, path)
            assert "does not allow this" in refused.text
        created = await other.post(
            "/admin/users", {"username": f"by-{role.value}", "role": "admin"}
        )
        assert created.status_code == 403
    async with api.container.services.read_uow() as uow:
        assert {u.username for u in await uow.users.list()} == {f"{r.value}-user" for r in Role}
    denied = await _audit(api, action="auth.authorise", outcome=Outcome.DENIED)
    assert sorted((r.details["method"], r.details["role"]) for r in denied) == sorted(
        (method, role.value)
        for method in ["GET"] * (1 + len(ADMIN_PAGES)) + ["POST"]
        for role in (Role.ANALYST, Role.VIEWER)
    )


async def test_an_admin_creates_and_deactivates_a_user_through_the_audited_use_case(
    api: Api, signed_in: Any
) -> None:
    admin = await signed_in(Role.ADMIN)
    await admin.page("/admin/users")
    answer = await admin.post(
        "/admin/users",
        {"username": "Dana", "role": "analyst", "email": "dana@example.org", "password": ""},
    )
    assert answer.status_code == 303
    listed = await admin.page(answer.headers["location"])
    assert "User dana created." in listed.text
    assert 'data-user="dana"' in listed.text
    async with api.container.services.read_uow() as uow:
        dana = await uow.users.get_by_username("dana")
    (row,) = await _audit(
        api, action="user.create", outcome=Outcome.SUCCESS, user_id=api.users[Role.ADMIN].id
    )
    assert (row.user_id, row.details["username"], row.details["via"]) == (
        api.users[Role.ADMIN].id,
        "dana",
        "console",
    )

    off = await admin.post(f"/admin/users/{dana.id}/active", {"active": "false"})
    assert off.status_code == 303
    assert "deactivated" in (await admin.page(off.headers["location"])).text
    async with api.container.services.read_uow() as uow:
        assert not (await uow.users.get(dana.id)).active
    assert len(await _audit(api, action="user.update", outcome=Outcome.SUCCESS)) == 1


@pytest.mark.parametrize(
    ("fields", "status", "message", "field"),
    [
        ({"username": "analyst-user", "role": "viewer"}, 409, "already exists", None),
        ({"username": "erin", "role": "overlord"}, 422, "role", "role"),
        ({"username": "erin", "role": "viewer", "password": "short"}, 422, "12 to", "password"),
        ({"username": "erin", "role": "viewer", "email": "not-an-email"}, 422, "email", "email"),
        ({"username": "", "role": "viewer"}, 422, "enter a username", "username"),
        ({"username": "x" * 300, "role": "viewer"}, 422, "at most", "username"),
    ],
)
async def test_a_refused_user_is_a_message_on_the_page_not_a_500(
    api: Api,
    signed_in: Any,
    fields: dict[str, str],
    status: int,
    message: str,
    field: str | None,
) -> None:
    admin = await signed_in(Role.ADMIN)
    await admin.page("/admin/users")
    answer = await admin.post("/admin/users", fields)
    assert answer.status_code == status, answer.text
    assert 'role="alert"' in answer.text
    assert message in answer.text
    assert "<h1>Users</h1>" in answer.text  # the page again, with the form to correct
    if field is not None:
        assert re.search(f'name="{field}"[^>]*aria-invalid="true"', answer.text), field
    if fields.get("password"):
        assert fields["password"] not in answer.text
    async with api.container.services.read_uow() as uow:
        assert len(await uow.users.list()) == len(Role)
    by_admin = api.users[Role.ADMIN].id
    assert await _audit(api, action="user.create", outcome=Outcome.SUCCESS, user_id=by_admin) == []
    (failed,) = await _audit(api, action="user.create", outcome=Outcome.FAILURE)
    assert failed.details["status"] == status  # the row the API writes for the same refusal


async def test_the_last_active_admin_cannot_be_deactivated_from_the_page(
    api: Api, signed_in: Any
) -> None:
    admin = await signed_in(Role.ADMIN)
    await admin.page("/admin/users")
    me = api.users[Role.ADMIN].id
    answer = await admin.post(f"/admin/users/{me}/active", {"active": "false"})
    assert answer.status_code == 409
    assert "last active admin" in answer.text
    bad = await admin.post(f"/admin/users/{me}/active", {"active": "maybe"})
    assert bad.status_code == 422
    missing = await admin.post("/admin/users/not-a-uuid/active", {"active": "false"})
    assert (missing.status_code, "user_id must be a UUID" in missing.text) == (422, True)


async def test_a_new_key_is_shown_once_works_and_stops_working_when_revoked(
    api: Api, signed_in: Any
) -> None:
    admin = await signed_in(Role.ADMIN)
    viewer = api.users[Role.VIEWER]
    await admin.page("/admin/keys")
    expires = (api.clock.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S")
    issued = await admin.post(
        "/admin/keys", {"user": str(viewer.id), "name": "dashboards", "expires_at": expires}
    )
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    found = _TOKEN.search(issued.text)
    assert found is not None
    token = found.group(1)
    assert "shown this once" in issued.text
    assert token not in "".join(issued.headers.values())

    listing = await admin.page("/admin/keys")
    assert token not in listing.text
    prefix = "cw_" + token.split("_")[1]
    assert f'data-key="{prefix}"' in listing.text
    again = await admin.page(f"/admin/keys?user={viewer.id}")
    assert token not in again.text
    assert "dashboards" in again.text

    works = await api.client.get("/api/v1/anomalies", headers={"X-API-Key": token})
    assert works.status_code == 200
    async with api.container.services.read_uow() as uow:
        (stored,) = [k for k in await uow.api_keys.list(viewer.id) if k.prefix == prefix]
    assert stored.name == "dashboards"
    key_id = str(stored.id)
    assert key_id in _REVOKE.findall(again.text)
    confirm = await admin.page(f"/admin/keys/{key_id}/revoke")
    assert confirm.status_code == 200
    assert f"Revoke key {prefix}" in confirm.text
    unconfirmed = await admin.post(f"/admin/keys/{key_id}/revoke", {})
    assert unconfirmed.status_code == 422
    revoked = await admin.post(f"/admin/keys/{key_id}/revoke", {"confirm": "yes"})
    assert revoked.status_code == 303
    assert "revoked" in (await admin.page(revoked.headers["location"])).text
    refused = await api.client.get("/api/v1/anomalies", headers={"X-API-Key": token})
    assert refused.status_code == 401
    rows = await _audit(api, user_id=api.users[Role.ADMIN].id, outcome=Outcome.SUCCESS)
    assert [r.action for r in rows if r.action.startswith("api_key.")] == [
        "api_key.revoke",
        "api_key.issue",
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"user": "", "name": "x"}, "choose the user"),
        ({"user": "not-a-uuid"}, "user must be a UUID"),
        ({"user": "00000000-0000-4000-8000-000000000000"}, "not found"),
        ({"user": "{viewer}", "expires_at": "2000-01-01T00:00"}, "in the future"),
        ({"user": "{viewer}", "expires_at": "tomorrow"}, "expires_at must be a date"),
    ],
)
async def test_a_refused_key_is_a_message_on_the_page(
    api: Api, signed_in: Any, fields: dict[str, str], message: str
) -> None:
    admin = await signed_in(Role.ADMIN)
    await admin.page("/admin/keys")
    data = {k: v.format(viewer=api.users[Role.VIEWER].id) for k, v in fields.items()}
    answer = await admin.post("/admin/keys", data)
    assert 400 <= answer.status_code < 500, answer.text
    assert message in answer.text
    assert _TOKEN.search(answer.text) is None
    by_admin = api.users[Role.ADMIN].id
    assert (
        await _audit(api, action="api_key.issue", outcome=Outcome.SUCCESS, user_id=by_admin) == []
    )


async def test_the_audit_log_filters_by_action_user_outcome_and_time_and_pages_newest_first(
    api: Api, signed_in: Any
) -> None:
    admin = await signed_in(Role.ADMIN)
    analyst = await signed_in(Role.ANALYST)
    await analyst.page("/admin/users")  # denied: one row
    for i in range(53):
        await create_user(
            api.container.services, f"bulk-{i:02d}", Role.VIEWER, actor=api.users[Role.ADMIN].id
        )
        api.clock.advance(timedelta(seconds=1))
    first = await admin.page("/admin/audit", params={"action": "user.create", "user": "admin-user"})
    assert first.status_code == 200
    shown = re.findall(r"username=(bulk-\d+)", first.text)
    assert shown == [f"bulk-{i:02d}" for i in range(52, 2, -1)]  # 50, newest first
    older = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert older is not None
    second = await admin.page(older.group(1).replace("&amp;", "&"))
    assert re.findall(r"username=(bulk-\d+)", second.text) == ["bulk-02", "bulk-01", "bulk-00"]
    assert 'rel="next"' not in second.text

    denied = await admin.page("/admin/audit", params={"outcome": "denied"})
    assert 'data-outcome="success"' not in denied.text
    assert 'data-outcome="denied"' in denied.text
    assert "analyst-user" in denied.text
    later = (api.clock.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    none = await admin.page("/admin/audit", params={"since": later})
    assert "No audit entries match" in none.text
    nobody = await admin.page("/admin/audit", params={"user": "nobody-at-all"})
    assert "No audit entries match" in nobody.text

    for params, field in [
        ({"outcome": "maybe"}, "outcome"),
        ({"since": "yesterday"}, "since"),
        ({"user": "has spaces"}, "user"),
        ({"cursor": "garbage"}, None),
    ]:
        bad = await admin.page("/admin/audit", params=params)
        assert bad.status_code in (400, 422), (params, bad.status_code)
        assert 'role="alert"' in bad.text
        if field is not None:
            assert re.search(f'name="{field}"[^>]*aria-invalid="true"', bad.text), field


async def test_the_backups_page_without_a_target_says_how_to_configure_one(
    api: Api, signed_in: Any
) -> None:
    admin = await signed_in(Role.ADMIN)
    answer = await admin.page("/admin/backups")
    assert answer.status_code == 200
    assert "No backup target is configured" in answer.text


async def test_the_backups_page_shows_the_newest_backup_its_age_verification_and_recent_ones(
    tmp_path: Path,
) -> None:
    config = SQLiteConfig(tmp_path / "live" / "chainwatch.sqlite3")
    database = PiccoloDatabase(config)
    await database.start()
    await database.migrate()
    await backup_data.fill(database)
    folder = LocalFolderBlobStore(tmp_path / "backups")
    container = bootstrap_in_memory(
        clock=SystemClock(), passwords=CHEAP_PASSWORDS, bootstrap_model=False
    )
    _, key = await user_with_key(container, Role.ADMIN)
    app = create_app(container, backups=BackupWatchSettings(url=folder.uri))
    try:
        async with running(app), AsyncExitStack() as stack:
            admin = await _browser(stack, app, key)
            empty = await admin.page("/admin/backups")
            assert empty.status_code == 200
            assert "No complete backup yet" in empty.text

            two_hours_ago = ManualClock(
                start=SystemClock().now() - timedelta(hours=2), step=timedelta(0)
            )
            old = await back_up(config, folder, two_hours_ago, models=NO_MODELS)
            await verify(folder, old.backup_id, config)
            new = await back_up(config, folder, SystemClock(), models=NO_MODELS)
            answer = await admin.page("/admin/backups")
    finally:
        await database.stop()
    text = answer.text
    assert answer.status_code == 200
    assert text.index(new.backup_id) < text.index(old.backup_id)
    assert "2 complete backups" in text
    assert "never verified" in text  # the newest
    assert "passed" in text  # the older one, also the newest known to restore
    assert re.search(r"2 h \d+ min", text)
    assert f'data-backup="{old.backup_id}"' in text
    assert f'data-backup="{new.backup_id}"' in text
