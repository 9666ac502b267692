"""The console's admin pages in headless Chromium against a real server (see ``conftest``):
users, API keys shown once, the audit log, backups; other roles are refused."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.backends import create_scratch_postgres, drop_scratch_postgres, run_in_thread
from tests.browser.conftest import WIDTHS, Console, screenshot
from tests.browser.test_console_in_chromium import CHECK_PAGE
from tests.integration.faults.servers import chainwatch, server_environment, serving

pytestmark = pytest.mark.postgres
REVOCATION_WAIT_S = 15.0
"""Longer than CHAINWATCH_API_KEY_CACHE_S (5 s): another worker may answer from its cache."""


@pytest.fixture
def tab(browser: Any, width: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def note(message: Any) -> None:
        # Refusals (403, 409 pages) are on purpose; an asset or a script failing is a defect.
        where = str(message.location.get("url"))
        refusal = "/admin" in where and "responded with a status of 4" in message.text
        if message.type == "error" and not refusal:
            errors.append(f"{message.text} ({where})")

    page.on("console", note)
    try:
        yield page
    finally:
        context.close()
    assert errors == []  # no script error, no asset or CSP violation on any page


def sign_in(page: Any, url: str, key: str) -> None:
    page.goto(f"{url}/sign-in")
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Sign in with the key").click()
    page.wait_for_url(f"{url}/inbox")


def check_page(page: Any, name: str) -> None:
    """Title, language, one main and h1, labelled inputs, no sideways scrolling."""
    found = page.evaluate(CHECK_PAGE)
    assert found["title"].endswith("· chainwatch console"), name
    assert found["lang"] == "en", name
    assert (found["main"], found["banner"], found["h1"]) == (1, 1, 1), name
    assert found["unlabelled"] == [], name
    assert found["overflow"] <= 1, (name, found["overflow"])


def test_an_admin_creates_a_user_and_a_key_shown_once_that_works_until_revoked(
    tab: Any, console: Console, width: str
) -> None:
    page = tab
    started = datetime.now(UTC).replace(microsecond=0)
    sign_in(page, console.url, console.keys["admin"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.wait_for_url(f"{console.url}/admin/users")

    # A user, then the same name again: the refusal is on the page, beside the form.
    username = f"robin-{width}"
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Create the user").click()
    page.get_by_text(f"User {username} created.").wait_for()
    assert page.locator(f'tr[data-user="{username}"]').count() == 1
    check_page(page, "users")
    screenshot(page, f"admin-users-{width}")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_role("button", name="Create the user").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "already exists" in alert.inner_text()
    screenshot(page, f"admin-users-refused-{width}")

    # A key for them: on the answer page, once.
    page.get_by_role("link", name="API keys").first.click()
    page.wait_for_url(f"{console.url}/admin/keys")
    page.get_by_label("For user", exact=True).select_option(label=f"{username} (viewer)")
    page.get_by_label("Name (what it is for)", exact=True).fill("dashboards")
    page.get_by_role("button", name="Issue the key").click()
    shown = page.get_by_label("The key", exact=True)
    shown.wait_for()
    token = shown.input_value()
    assert re.fullmatch(r"cw_[0-9a-f]{12}_\S+", token), token
    prefix = "_".join(token.split("_")[:2])
    check_page(page, "key-issued")
    screenshot(page, f"admin-key-issued-{width}")
    page.goto(page.url)  # the address bar's page: the listing, without the key
    assert token not in page.content()
    assert page.locator(f'tr[data-key="{prefix}"]').count() == 1
    page.goto(f"{console.url}/admin/keys")
    assert token not in page.content()
    check_page(page, "keys")
    screenshot(page, f"admin-keys-{width}")

    with httpx.Client(base_url=console.url, headers={"X-API-Key": token}, timeout=30) as api:
        assert api.get("/api/v1/anomalies").status_code == 200

        # Revoke it, after a confirmation page.
        page.get_by_role("link", name=f"Revoke key {prefix}").click()
        page.get_by_role("heading", name=re.compile(f"Revoke API key.*{prefix}")).wait_for()
        check_page(page, "revoke")
        screenshot(page, f"admin-revoke-{width}")
        page.get_by_role("button", name=f"Revoke key {prefix}").click()
        page.get_by_text(f"API key {prefix} revoked").wait_for()
        assert "revoked" in page.locator(f'tr[data-key="{prefix}"]').inner_text()
        deadline = time.monotonic() + REVOCATION_WAIT_S
        while (status := api.get("/api/v1/anomalies").status_code) == 200:
            assert time.monotonic() < deadline, "the revoked key still works"
            time.sleep(0.5)
        assert status == 401

    # The audit log, filtered to what was just done.
    page.get_by_role("link", name="Audit log").first.click()
    page.wait_for_url(f"{console.url}/admin/audit")
    since = started.strftime("%Y-%m-%dT%H:%M:%S")
    for action, marker in [
        ("user.create", f"username={username}"),
        ("api_key.issue", f"prefix={prefix}"),
        ("api_key.revoke", f"prefix={prefix}"),
    ]:
        page.get_by_label("Action", exact=True).fill(action)
        page.get_by_label("User (username or id)", exact=True).fill("admin-1")
        page.get_by_label("Outcome", exact=True).select_option("success")
        page.get_by_label("From", exact=True).fill(since)
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_url(re.compile(rf"action={re.escape(action)}"))
        rows = page.locator("table[data-audit] tbody tr")
        assert rows.count() >= 1, action
        assert {rows.nth(i).get_attribute("data-action") for i in range(rows.count())} == {action}
        assert page.locator("table[data-audit] tbody tr", has_text=marker).count() == 1, action
        assert "via console" in rows.filter(has_text=marker).inner_text()
    check_page(page, "audit")
    screenshot(page, f"admin-audit-{width}")

    # No backup target on this server: the page says so and how to set one.
    page.get_by_role("link", name="Backups").first.click()
    page.get_by_text("No backup target is configured").wait_for()
    check_page(page, "backups-none")
    screenshot(page, f"admin-backups-unconfigured-{width}")

    # The key never reached the server's log.
    assert token not in console.log.read_text(errors="replace")
    assert token.split("_", 2)[2] not in console.log.read_text(errors="replace")


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_other_roles_see_no_admin_item_and_get_403_on_admin_pages(
    tab: Any, console: Console, width: str, role: str
) -> None:
    page = tab
    sign_in(page, console.url, console.keys[role])
    assert (
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").count() == 0
    )
    for path in ["/admin", "/admin/users", "/admin/keys", "/admin/audit", "/admin/backups"]:
        answer = page.goto(f"{console.url}{path}")
        assert answer is not None
        assert answer.status == 403, path
        assert "does not allow this" in page.get_by_role("alert").inner_text()
    screenshot(page, f"admin-forbidden-{role}-{width}")
    # A forged form post (with this session's own token) is refused too, and changes nothing.
    token = page.locator('input[name="_csrf"]').first.get_attribute("value")
    refused = page.request.post(
        f"{console.url}/admin/users",
        form={"_csrf": token, "username": f"sneaky-{role}-{width}", "role": "admin"},
    )
    assert refused.status == 403
    with console.api("admin") as admin:
        names = {u["username"] for u in admin.get("/api/v1/users").json()["users"]}
    assert f"sneaky-{role}-{width}" not in names


@pytest.fixture(scope="module")
def backed_up_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second server whose backup target (a folder) starts empty."""
    url = run_in_thread(lambda: create_scratch_postgres("chainwatch_browser_backups"))
    try:
        folder = tmp_path_factory.mktemp("backups-console")
        target = (folder / "backups").as_uri()
        # One worker: this server only shows the backups page (a loaded machine starts it
        # sooner).
        environment = server_environment(
            url,
            folder / "data",
            BACKUP_URL=target,
            CHAINWATCH_WORKERS="1",
            CHAINWATCH_AUTH_FAILURES_PER_ADDRESS="off",
        )
        with serving(environment, folder / "serve.log") as server:
            key = (
                chainwatch(environment, "create-user", "--username", "ops", "--role", "admin")
                .strip()
                .splitlines()[-1]
            )
            yield server.url, key, environment, target
    finally:
        run_in_thread(lambda: drop_scratch_postgres(url))


def test_the_backups_page_before_and_after_a_verified_backup(
    browser: Any, backed_up_server: Any
) -> None:
    url, key, environment, target = backed_up_server
    context = browser.new_context(viewport={"width": WIDTHS["desktop"], "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, url, key)
        page.goto(f"{url}/admin/backups")
        page.get_by_text("No complete backup yet").wait_for()
        check_page(page, "backups-empty")
        screenshot(page, "admin-backups-empty-desktop")

        backup_id = chainwatch(environment, "backup", "--to", target).strip().splitlines()[-1]
        chainwatch(environment, "verify", "--from", target, "--latest")
        page.reload()
        state = page.locator("#backup-state")
        state.wait_for()
        assert backup_id in state.inner_text()
        assert "passed" in state.inner_text()
        assert re.search(r"\d+ (s|min)", state.inner_text())
        assert page.locator(f'tr[data-backup="{backup_id}"]').count() == 1
        check_page(page, "backups")
        screenshot(page, "admin-backups-desktop")
        page.set_viewport_size({"width": WIDTHS["phone"], "height": 900})
        check_page(page, "backups-phone")
        screenshot(page, "admin-backups-phone")
    finally:
        context.close()
