"""The console's Models pages in headless Chromium against a real server (see ``conftest``):
an admin changes traffic weights through the confirmation step and the API shows them, a
training job started from the page shows its progress until it ends, a viewer sees no
control, and posts without the session's CSRF token - or from a viewer - are refused."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.backends import run_in_thread
from tests.browser.conftest import WIDTHS, Console, screenshot
from tests.browser.test_console_in_chromium import CHECK_PAGE
from tests.builders import a_transaction, at
from tests.integration.processes import database_for

pytestmark = pytest.mark.postgres
MODEL = "browser-weights"
FIRST_ROW = 20_000  # seconds after T0: the rows of this file, apart from the inbox's
ROWS = 40
LOCAL = "%Y-%m-%dT%H:%M:%S"  # what a datetime-local input takes
PERIOD = {"since": at(FIRST_ROW).isoformat(), "until": at(FIRST_ROW + ROWS).isoformat()}


@pytest.fixture(scope="module")
def weighted(console: Console) -> str:
    """``MODEL``:1 trained (through the API, by the server's job worker) on rows of its own
    and active at 40% of traffic, beside the bootstrap model's version."""
    run_in_thread(lambda: _store_rows(console.database_url))
    with console.api("admin") as admin:
        created = admin.post("/api/v1/models", json={"name": MODEL, "algorithm": "tails"})
        assert created.status_code == 201, created.text
        accepted = admin.post(f"/api/v1/models/{MODEL}/versions", json=PERIOD)
        assert accepted.status_code == 202, accepted.text
        job = _finished(admin, accepted.json()["status_url"])
        assert job["status"] == "succeeded", job
        activated = admin.patch(
            f"/api/v1/models/{MODEL}/versions/{job['version']}",
            json={"status": "active", "traffic_weight": 40},
        )
        assert activated.status_code == 200, activated.text
    return f"{MODEL}:{job['version']}"


async def _store_rows(url: str) -> None:
    database = database_for(url)
    await database.start()
    try:
        async with database.uow() as uow:
            await uow.transactions.add_many(
                [a_transaction(timestamp=at(FIRST_ROW + i)) for i in range(ROWS)]
            )
            await uow.commit()
    finally:
        await database.stop()


def _finished(client: httpx.Client, status_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        job: dict[str, Any] = client.get(status_url).json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def active_weights(console: Console) -> dict[str, int]:
    with console.api("viewer") as viewer:
        models = viewer.get("/api/v1/models").json()["models"]
    return {
        f"{m['name']}:{v['version']}": v["traffic_weight"]
        for m in models
        for v in m["versions"]
        if v["status"] == "active"
    }


@pytest.fixture
def tab(browser: Any, console: Console, width: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def note(message: Any) -> None:
        # Refused changes answer 4xx on purpose (the page shows why); anything else is a defect.
        if message.type == "error" and "status of 4" not in message.text:
            errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", note)
    try:
        yield page
    finally:
        context.close()
    assert errors == []  # no script error, no asset or policy (CSP) violation


def sign_in(page: Any, console: Console, role: str) -> None:
    page.goto(f"{console.url}/sign-in")
    page.get_by_label("API key", exact=True).fill(console.keys[role])
    page.get_by_role("button", name="Sign in with the key").click()
    page.wait_for_url(f"{console.url}/inbox")


def test_an_admin_changes_the_weights_after_confirming_them_and_the_api_shows_them(
    tab: Any, console: Console, weighted: str, width: str
) -> None:
    page = tab
    sign_in(page, console, "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    page.wait_for_url(f"{console.url}/models")
    assert page.title().startswith("Models")
    assert page.get_by_role("heading", name="Models", exact=True).is_visible()
    screenshot(page, f"models-{width}")

    before = active_weights(console)
    wanted = 25 if width == "desktop" else 55  # a change on each run, whatever came before
    if before[weighted] == wanted:
        wanted += 5
    page.get_by_role("link", name=MODEL, exact=True).click()
    page.wait_for_url(f"{console.url}/models/{MODEL}")
    assert page.title().startswith(f"Model {MODEL}")
    screenshot(page, f"model-{width}")
    page.get_by_label(f"New traffic weight of {weighted} (percent)").fill(str(wanted))
    page.locator(f'tr[data-version="{weighted.split(":")[1]}"]').get_by_role(
        "button", name="Review the change"
    ).click()

    # The confirmation shows every active version's weight now and after; nothing changed yet.
    page.wait_for_url(re.compile(rf"/models/{MODEL}/versions/\d+/weight\?weight={wanted}"))
    assert page.get_by_role("heading", name="Confirm the traffic weights").is_visible()
    preview = page.locator("#weight-preview")
    target_row = preview.locator(f'tr[data-version="{weighted}"]')
    assert f"{before[weighted]}% → {wanted}%" in target_row.inner_text()
    assert preview.locator("tbody tr").count() == len(before)
    assert active_weights(console) == before
    screenshot(page, f"model-weight-confirm-{width}")
    page.get_by_role("button", name="Confirm the new weights").click()

    page.wait_for_url(re.compile(rf"/models/{MODEL}\?done=weight"))
    assert page.get_by_role("status").filter(has_text="Traffic weights saved.").is_visible()
    after = active_weights(console)
    assert after[weighted] == wanted
    assert sum(after.values()) == 100
    row = page.locator(f'tr[data-version="{weighted.split(":")[1]}"] td.weight')
    assert row.inner_text() == f"{wanted}%"

    with console.api("admin") as admin:
        audit = admin.get("/api/v1/audit-logs", params={"action": "model_version.set_weight"})
    entries = [e for e in audit.json()["audit_logs"] if e["details"].get("weight") == wanted]
    assert entries
    assert entries[0]["details"]["via"] == "console"


def test_a_bad_weight_is_explained_on_the_page(
    tab: Any, console: Console, weighted: str, width: str
) -> None:
    page = tab
    sign_in(page, console, "admin")
    page.goto(f"{console.url}/models/{MODEL}")
    before = active_weights(console)
    page.get_by_label(f"New traffic weight of {weighted} (percent)").fill("250")
    page.locator(f'tr[data-version="{weighted.split(":")[1]}"]').get_by_role(
        "button", name="Review the change"
    ).click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "traffic_weight must be an integer from 0 to 100" in alert.inner_text()
    field = page.get_by_label(f"New traffic weight of {weighted} (percent)")
    assert field.get_attribute("aria-invalid") == "true"
    assert active_weights(console) == before
    screenshot(page, f"model-weight-refused-{width}")


def test_a_training_job_started_from_the_page_shows_its_progress_until_it_ends(
    tab: Any, console: Console, weighted: str, width: str
) -> None:
    page = tab
    sign_in(page, console, "admin")
    page.goto(f"{console.url}/models/{MODEL}")
    page.get_by_label("Stored transactions from (UTC)").fill(
        at(FIRST_ROW).strftime("%Y-%m-%dT%H:%M:%S")
    )
    page.get_by_label("Before (UTC)").fill(at(FIRST_ROW + ROWS).strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(re.compile(rf"/models/{MODEL}\?done=training"))
    assert page.get_by_role("status").filter(has_text="Training job queued.").is_visible()
    newest = page.locator("#jobs tbody tr").first
    assert newest.locator("progress").count() == 1
    # The panel reloads itself (htmx) while the job runs, without the page reloading.
    newest.locator(".job-status", has_text=re.compile("succeeded|failed")).wait_for(timeout=120_000)
    assert "succeeded" in newest.locator(".job-status").inner_text()
    assert page.locator("#jobs[data-polling]").count() == 0  # nothing left to wait for
    version_link = newest.get_by_role("link", name=re.compile(rf"{MODEL}:\d+"))
    screenshot(page, f"model-jobs-{width}")
    version_link.click()
    page.wait_for_url(re.compile(rf"/models/{MODEL}/versions/\d+$"))
    assert page.locator("#version-status").inner_text() == "staged"


def test_a_viewer_sees_versions_and_pictures_but_no_control_and_cannot_post(
    tab: Any, console: Console, weighted: str, width: str
) -> None:
    page = tab
    sign_in(page, console, "viewer")
    page.goto(f"{console.url}/models/{MODEL}")
    assert page.get_by_role("heading", name="Versions").is_visible()
    assert page.get_by_role("button", name="Review the change").count() == 0
    assert page.get_by_role("button", name="Start training").count() == 0
    number = weighted.split(":")[1]
    page.goto(f"{console.url}/models/bootstrap-tails/versions/1")
    assert page.title().startswith("Model version bootstrap-tails:1")
    roc = page.get_by_role("img", name=re.compile("ROC curve of bootstrap-tails:1"))
    histogram = page.get_by_role("img", name=re.compile("Score histogram of bootstrap-tails:1"))
    assert roc.is_visible()
    assert histogram.is_visible()
    box = roc.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= WIDTHS[width]  # the picture fits the screen
    screenshot(page, f"model-version-{width}")

    before = active_weights(console)
    token = page.locator('input[name="_csrf"]').first.get_attribute("value")
    url = f"{console.url}/models/{MODEL}/versions/{number}/weight"
    refused = page.request.post(url, form={"_csrf": token, "weight": "10"}, max_redirects=0)
    assert refused.status == 403
    confirm = page.request.get(f"{url}?weight=10", max_redirects=0)
    assert confirm.status == 403
    assert active_weights(console) == before


def test_weight_posts_without_the_csrf_token_are_refused(
    tab: Any, console: Console, weighted: str, width: str
) -> None:
    page = tab
    sign_in(page, console, "admin")
    page.goto(f"{console.url}/models/{MODEL}")
    before = active_weights(console)
    url = f"{console.url}/models/{MODEL}/versions/{weighted.split(':')[1]}/weight"
    without = page.request.post(url, form={"weight": "10"}, max_redirects=0)
    forged = page.request.post(url, form={"weight": "10", "_csrf": "f" * 64}, max_redirects=0)
    assert (without.status, forged.status) == (403, 403)
    assert "CSRF token" in without.text()
    assert active_weights(console) == before


def test_every_models_page_has_a_title_labels_landmarks_and_fits_the_width(
    tab: Any, console: Console, weighted: str, width: str
) -> None:
    page = tab
    sign_in(page, console, "admin")
    number = weighted.split(":")[1]
    pages = {}
    for name, path in {
        "models": "/models",
        "model": f"/models/{MODEL}",
        "version": "/models/bootstrap-tails/versions/1",
        "weight-confirm": f"/models/{MODEL}/versions/{number}/weight?weight=30",
        "not-found": "/models/no-such-model",
    }.items():
        page.goto(f"{console.url}{path}")
        pages[name] = page.evaluate(CHECK_PAGE)
        screenshot(page, f"check-models-{name}-{width}")
    for name, found in pages.items():
        assert found["title"].endswith("· chainwatch console"), name
        assert len(found["title"]) > len("· chainwatch console"), name
        assert found["lang"] == "en", name
        assert (found["main"], found["banner"], found["h1"], found["nav"]) == (1, 1, 1, 1), name
        assert found["unlabelled"] == [], name
        assert found["overflow"] <= 1, (name, found["overflow"])
