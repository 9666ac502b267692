"""The analyst console in headless Chromium against a real server (see ``conftest``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import MODEL, PASSWORD, WIDTHS, Console, screenshot

pytestmark = pytest.mark.postgres
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def tab(browser: Any, console: Console, width: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def note(message: Any) -> None:
        # The not-found page is a 404 on purpose; anything else failing is a defect.
        if message.type == "error" and MISSING not in str(message.location.get("url")):
            errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", note)
    try:
        yield page
    finally:
        context.close()
    # No script error and no asset or policy (CSP) violation on any page visited.
    assert errors == []


def sign_in_with_key(page: Any, console: Console, role: str) -> None:
    page.goto(f"{console.url}/sign-in")
    page.get_by_label("API key", exact=True).fill(console.keys[role])
    page.get_by_role("button", name="Sign in with the key").click()
    page.wait_for_url(f"{console.url}/inbox")


def csrf_of(page: Any) -> str:
    token: str = page.locator('input[name="_csrf"]').first.get_attribute("value")
    return token


def test_an_analyst_triages_an_anomaly_from_the_inbox_to_the_audit_log(
    tab: Any, console: Console, width: str
) -> None:
    page = tab
    target = console.seeded.critical[-1 if width == "desktop" else -2]  # one per width
    page.goto(f"{console.url}/")
    page.wait_for_url(re.compile(r"/sign-in"))
    screenshot(page, f"sign-in-{width}")
    page.get_by_label("Username", exact=True).fill("casey")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{console.url}/inbox")

    # Filter: critical ones of the suite's model (an htmx swap, the URL follows).
    page.get_by_label("critical", exact=True).check()
    page.get_by_label("Model version", exact=True).fill(f"{MODEL}:1")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"severity=critical"))
    rows = page.locator("table[data-inbox] tbody tr")
    row = page.locator(f'tr[data-anomaly="{target.id}"]')
    row.wait_for()
    with console.api("viewer") as viewer:
        expected = viewer.get(
            "/api/v1/anomalies",
            params={"severity": "critical", "status": "open", "model_version": f"{MODEL}:1"},
        ).json()["total_count"]
    assert rows.count() == expected
    screenshot(page, f"inbox-{width}")

    # Open it with the keyboard: j moves down the list, o opens the selected one.
    position = [r.get_attribute("data-anomaly") for r in rows.all()].index(str(target.id))
    for _ in range(position + 1):
        page.keyboard.press("j")
    assert row.get_attribute("aria-selected") == "true"
    page.keyboard.press("o")
    page.wait_for_url(f"{console.url}/anomalies/{target.id}")
    assert page.locator("#tx-hash").inner_text() == target.transaction_hash
    screenshot(page, f"case-{width}")

    # Confirm with a note (c picks the verdict and puts the cursor in the note).
    page.keyboard.press("c")
    page.keyboard.type(f"same drainer as last week ({width})")
    page.get_by_role("button", name="Save the review").click()
    page.wait_for_url(re.compile(r"done=confirmed"))
    assert page.locator("#anomaly-status").inner_text() == "confirmed"

    # Gone from the open list.
    page.goto(f"{console.url}/inbox?filtered=1&status=open&severity=critical")
    page.locator("table[data-inbox]").wait_for()
    assert page.locator(f'tr[data-anomaly="{target.id}"]').count() == 0

    # The label is on the transaction.
    page.goto(f"{console.url}/transactions/{target.transaction_hash}")
    label = page.locator("#tx-label")
    assert "fraud" in label.inner_text()
    assert f"same drainer as last week ({width})" in label.inner_text()
    screenshot(page, f"transaction-{width}")

    # And in the audit log, as casey's, from the console.
    with console.api("admin") as admin:
        rows_json = admin.get("/api/v1/audit-logs", params={"action": "anomaly.review"}).json()
    entries = [e for e in rows_json["audit_logs"] if e["resource"] == f"anomalies/{target.id}"]
    assert len(entries) == 1
    assert entries[0]["outcome"] == "success"
    assert entries[0]["details"]["via"] == "console"


def test_the_review_dialog_confirms_from_the_inbox_with_the_keyboard(
    tab: Any, console: Console, width: str
) -> None:
    page = tab
    target = console.seeded.others[-1 if width == "desktop" else -2]
    sign_in_with_key(page, console, "analyst")
    page.goto(f"{console.url}/inbox?filtered=1&status=open&severity=medium")
    rows = page.locator("table[data-inbox] tbody tr")
    rows.first.wait_for()
    position = [r.get_attribute("data-anomaly") for r in rows.all()].index(str(target.id))
    for _ in range(position + 1):
        page.keyboard.press("j")
    page.keyboard.press("d")
    dialog = page.get_by_role("dialog")
    assert dialog.is_visible()
    assert page.get_by_label("Dismiss (legitimate)").is_checked()
    page.keyboard.type("exchange hot wallet")
    screenshot(page, f"inbox-review-dialog-{width}")
    dialog.get_by_role("button", name="Save the review").click()
    page.wait_for_url(re.compile(r"/inbox\?"))
    assert page.locator(f'tr[data-anomaly="{target.id}"]').count() == 0
    with console.api("viewer") as viewer:
        stored = viewer.get(f"/api/v1/anomalies/{target.id}").json()
    assert (stored["status"], stored["note"]) == ("dismissed", "exchange hot wallet")


def test_a_assigns_the_selected_anomaly_or_the_open_case_to_me(
    tab: Any, console: Console, width: str
) -> None:
    page = tab
    in_inbox, in_case = (
        console.seeded.others[3:5] if width == "desktop" else console.seeded.others[5:7]
    )
    sign_in_with_key(page, console, "analyst")
    inbox = f"{console.url}/inbox?filtered=1&status=open&severity=medium"
    page.goto(inbox)
    rows = page.locator("table[data-inbox] tbody tr")
    rows.first.wait_for()
    position = [r.get_attribute("data-anomaly") for r in rows.all()].index(str(in_inbox.id))
    for _ in range(position + 1):
        page.keyboard.press("j")
    with page.expect_navigation():
        page.keyboard.press("a")
    assert page.url == inbox  # back where the analyst was, the row now says whose it is
    assert page.locator(f'tr[data-anomaly="{in_inbox.id}"] td').nth(6).inner_text() == "me"

    page.goto(f"{console.url}/anomalies/{in_case.id}")
    with page.expect_navigation():
        page.keyboard.press("a")
    assert "Assigned to analyst-1" in page.locator("#assigned-to").inner_text()
    with console.api("admin") as admin:
        users = admin.get("/api/v1/users").json()["users"]
        owners = [
            admin.get(f"/api/v1/anomalies/{a.id}").json()["assigned_to"]
            for a in (in_inbox, in_case)
        ]
    analyst = next(u["id"] for u in users if u["username"] == "analyst-1")
    assert owners == [analyst, analyst]


def test_a_viewer_reads_the_case_but_cannot_review_it(
    tab: Any, console: Console, width: str
) -> None:
    page = tab
    target = console.seeded.others[0]
    sign_in_with_key(page, console, "viewer")
    page.goto(f"{console.url}/anomalies/{target.id}")
    assert page.locator("#review-form").count() == 0
    assert page.get_by_text("can read this case but not review it").is_visible()
    # Even with the session's own CSRF token, the server refuses the review.
    refused = page.request.post(
        f"{console.url}/anomalies/{target.id}/review",
        form={"_csrf": csrf_of(page), "status": "confirmed"},
        max_redirects=0,
    )
    assert refused.status == 403
    with console.api("viewer") as viewer:
        assert viewer.get(f"/api/v1/anomalies/{target.id}").json()["status"] == "open"


def test_posts_without_the_csrf_token_are_refused(tab: Any, console: Console, width: str) -> None:
    page = tab
    target = console.seeded.others[1]
    sign_in_with_key(page, console, "analyst")
    page.goto(f"{console.url}/anomalies/{target.id}")
    url = f"{console.url}/anomalies/{target.id}/comments"
    without = page.request.post(url, form={"body": "forged"}, max_redirects=0)
    forged = page.request.post(url, form={"body": "forged", "_csrf": "f" * 64}, max_redirects=0)
    assert (without.status, forged.status) == (403, 403)
    # The page's own form (htmx, token in the header) posts a comment into the thread.
    page.get_by_label("Add a comment").fill(f"checked the counterparty ({width})")
    page.get_by_role("button", name="Post the comment").click()
    page.locator("#comments .thread li").filter(has_text=f"({width})").wait_for()
    assert page.locator("#comments").get_by_text("forged").count() == 0


CHECK_PAGE = """() => {
  const unlabelled = [...document.querySelectorAll('input, select, textarea')]
    .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
    .map(e => e.name || e.id);
  // Pictures and controls need a name a screen reader can say.
  const named = e => !!(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')
    || e.getAttribute('title') || (e.textContent || '').trim());
  const unnamed = [
    ...[...document.querySelectorAll('img')].filter(e => !e.hasAttribute('alt')),
    ...[...document.querySelectorAll('svg')]
      .filter(e => e.getAttribute('aria-hidden') !== 'true' && !e.closest('[aria-hidden=true]'))
      .filter(e => !(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')
        || e.querySelector(':scope > title'))),
    ...[...document.querySelectorAll('button, a[href]')].filter(e => !named(e)),
  ].map(e => e.outerHTML.slice(0, 80));
  return {
    title: document.title,
    lang: document.documentElement.lang,
    main: document.querySelectorAll('main').length,
    banner: document.querySelectorAll('header[role=banner], body > header').length,
    nav: document.querySelectorAll('nav').length,
    h1: document.querySelectorAll('h1').length,
    unlabelled,
    unnamed,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
  };
}"""


def test_every_page_has_a_title_labels_landmarks_and_fits_the_width(
    tab: Any, console: Console, width: str
) -> None:
    page = tab
    page.goto(f"{console.url}/sign-in")
    pages = {"sign-in": page.evaluate(CHECK_PAGE)}
    sign_in_with_key(page, console, "admin")
    target = console.seeded.others[2]
    for name, path in {
        "inbox": "/inbox",
        "case": f"/anomalies/{target.id}",
        "transaction": f"/transactions/{target.transaction_hash}",
        "not-found": f"/anomalies/{MISSING}",
    }.items():
        page.goto(f"{console.url}{path}")
        pages[name] = page.evaluate(CHECK_PAGE)
        screenshot(page, f"check-{name}-{width}")
    for name, found in pages.items():
        assert found["title"].endswith("· chainwatch console"), name
        assert len(found["title"]) > len("· chainwatch console"), name
        assert found["lang"] == "en", name
        assert (found["main"], found["banner"], found["h1"]) == (1, 1, 1), name
        assert found["unlabelled"] == [], name
        assert found["unnamed"] == [], name
        assert found["overflow"] <= 1, (name, found["overflow"])
        if name != "sign-in":
            assert found["nav"] >= 1, name
