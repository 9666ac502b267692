"""The analyst console over HTTP, in process, on the fakes and on PostgreSQL: sessions,
CSRF, roles, the inbox and the case view's actions (the browser tests in
``tests/browser`` drive the same pages in Chromium)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute

from domain.explanations import Contribution
from domain.model import LabelKind, Outcome, ReviewStatus, Role, Severity
from domain.rate_limits import Rate
from domain.services.auth import GRANTS, Permission
from domain.services.users import create_user, update_user
from entrypoints.bootstrap import bootstrap_in_memory
from entrypoints.http import create_app
from entrypoints.http.security import PERMISSION_OPT
from entrypoints.settings import RateLimitSettings
from entrypoints.web.console import CONSOLE_OPT
from ports import AuditFilter
from tests.builders import a_prediction, a_transaction, an_anomaly, at
from tests.clocks import ManualClock
from tests.integration.api.conftest import CHEAP_PASSWORDS, CLIENT_IP, Api, running
from tests.integration.api.data import Flagged, stored_flags, stored_version

PASSWORD = "correct horse battery staple"
MISSING_KEY = "00000000-0000-4000-8000-000000000000"
_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


class Browser:
    """One browser: its own cookie jar, signed in (or not) through the pages."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def sign_in(self, **fields: str) -> httpx.Response:
        form = await self.client.get("/sign-in")
        token = _CSRF.search(form.text)
        assert token is not None
        answer = await self.client.post("/sign-in", data={"_csrf": token.group(1), **fields})
        if answer.status_code == 303:
            await self.page("/inbox")
        return answer

    async def page(self, path: str, **kwargs: Any) -> httpx.Response:
        answer = await self.client.get(path, **kwargs)
        token = _CSRF.search(answer.text)
        if token is not None:
            self.csrf = token.group(1)
        return answer

    async def post(self, path: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        return await self.client.post(path, data={"_csrf": self.csrf, **data}, **kwargs)


@pytest.fixture
async def browsers(api: Api) -> AsyncIterator[Any]:
    async with AsyncExitStack() as stack:

        async def new(role: Role | None = None) -> Browser:
            transport = httpx.ASGITransport(app=api.app, client=(CLIENT_IP, 50001))  # type: ignore[arg-type]
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://testserver")
            )
            browser = Browser(client)
            if role is not None:
                answer = await browser.sign_in(method="api-key", api_key=api.keys[role])
                assert answer.status_code == 303, answer.text
            return browser

        yield new


async def _flags(api: Api, count: int, **fields: Any) -> list[Flagged]:
    return await stored_flags(api.container, await stored_version(api.container), count, **fields)


async def test_an_api_key_signs_in_to_a_session_cookie_that_scripts_cannot_read(
    api: Api, browsers: Any
) -> None:
    browser = await browsers()
    answer = await browser.sign_in(method="api-key", api_key=api.keys[Role.ANALYST])
    assert answer.status_code == 303
    assert answer.headers["location"] == "/inbox"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("cw_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP, no trusted proxy
    assert api.keys[Role.ANALYST] not in cookie
    inbox = await browser.page("/inbox")
    assert inbox.status_code == 200
    assert "analyst-user" in inbox.text
    assert inbox.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in inbox.headers["content-security-policy"]


async def test_a_username_and_password_sign_in_and_a_wrong_one_is_refused(
    api: Api, browsers: Any
) -> None:
    await create_user(api.container.services, "casey", Role.ANALYST, password=PASSWORD, actor=None)
    wrong = await browsers()
    refused = await wrong.sign_in(method="password", username="casey", password="not it at all")
    assert refused.status_code == 401
    assert "username or password is not right" in refused.text
    assert "cw_session=" not in refused.headers.get("set-cookie", "")
    nobody = await (await browsers()).sign_in(
        method="password", username="nobody", password=PASSWORD
    )
    assert nobody.status_code == 401
    right = await browsers()
    assert (
        await right.sign_in(method="password", username="casey", password=PASSWORD)
    ).status_code == 303
    assert "casey" in (await right.page("/inbox")).text
    async with api.container.services.uow() as uow:
        rows = (await uow.audit.query(AuditFilter(action="session.sign_in"), _page())).items
    assert {row.details["method"] for row in rows} == {"password"}


async def test_a_service_account_cannot_sign_in(api: Api, browsers: Any) -> None:
    browser = await browsers()
    answer = await browser.sign_in(method="api-key", api_key=api.keys[Role.SERVICE])
    assert answer.status_code == 401
    assert "cannot sign in to the console" in answer.text


async def test_pages_without_a_session_send_the_browser_to_sign_in(api: Api, browsers: Any) -> None:
    (flag,) = await _flags(api, 1)
    stranger = await browsers()
    page = await stranger.client.get(f"/anomalies/{flag.anomaly.id}")
    assert page.status_code == 303
    assert page.headers["location"] == f"/sign-in?next=/anomalies/{flag.anomaly.id}"
    partial = await stranger.client.get("/inbox", headers={"HX-Request": "true"})
    assert (partial.status_code, partial.headers["HX-Redirect"]) == (401, "/sign-in?next=/inbox")
    posted = await stranger.client.post(
        f"/anomalies/{flag.anomaly.id}/review", data={"status": "confirmed"}
    )
    assert posted.status_code == 401
    # Signing in from the redirect comes back to the page that was asked for.
    form = await stranger.client.get(page.headers["location"])
    token = _CSRF.search(form.text)
    assert token is not None
    back = await stranger.client.post(
        "/sign-in",
        data={
            "_csrf": token.group(1),
            "method": "api-key",
            "api_key": api.keys[Role.VIEWER],
            "next": f"/anomalies/{flag.anomaly.id}",
        },
    )
    assert back.headers["location"] == f"/anomalies/{flag.anomaly.id}"


async def test_sign_in_never_redirects_to_another_site(api: Api, browsers: Any) -> None:
    browser = await browsers()
    form = await browser.client.get("/sign-in?next=//evil.example/x")
    assert "evil.example" not in form.text
    token = _CSRF.search(form.text)
    assert token is not None
    answer = await browser.client.post(
        "/sign-in",
        data={
            "_csrf": token.group(1),
            "method": "api-key",
            "api_key": api.keys[Role.ANALYST],
            "next": "//evil.example/x",
        },
    )
    assert answer.headers["location"] == "/inbox"


async def test_posts_without_the_sessions_csrf_token_are_refused_and_change_nothing(
    api: Api, browsers: Any
) -> None:
    (flag,) = await _flags(api, 1)
    analyst = await browsers(Role.ANALYST)
    other = await browsers(Role.ADMIN)
    await analyst.page(f"/anomalies/{flag.anomaly.id}")
    review = f"/anomalies/{flag.anomaly.id}/review"
    missing = await analyst.client.post(review, data={"status": "confirmed"})
    wrong = await analyst.client.post(review, data={"status": "confirmed", "_csrf": "0" * 64})
    foreign = await analyst.client.post(review, data={"status": "confirmed", "_csrf": other.csrf})
    as_json = await analyst.client.post(review, json={"status": "confirmed"})
    assert [r.status_code for r in (missing, wrong, foreign, as_json)] == [403] * 4
    assert "CSRF token" in missing.text
    async with api.container.services.uow() as uow:
        assert (await uow.anomalies.get(flag.anomaly.id)).status is ReviewStatus.OPEN
        denied = await uow.audit.query(AuditFilter(action="auth.authorise"), _page())
    assert len(denied.items) == 4
    # The same form with the token (form field or htmx header) goes through.
    header = await analyst.client.post(
        review, data={"status": "escalated"}, headers={"X-CSRF-Token": analyst.csrf}
    )
    assert header.status_code == 303


async def test_the_sign_in_form_needs_its_own_token(api: Api, browsers: Any) -> None:
    browser = await browsers()
    await browser.client.get("/sign-in")
    answer = await browser.client.post(
        "/sign-in", data={"method": "api-key", "api_key": api.keys[Role.ADMIN]}
    )
    assert answer.status_code == 403
    assert "cw_session=" not in answer.headers.get("set-cookie", "")


async def test_a_viewer_reads_the_case_but_cannot_review_assign_or_comment(
    api: Api, browsers: Any
) -> None:
    (flag,) = await _flags(api, 1)
    viewer = await browsers(Role.VIEWER)
    case = await viewer.page(f"/anomalies/{flag.anomaly.id}")
    assert case.status_code == 200
    assert 'id="review-form"' not in case.text
    assert "can read this case but not review it" in case.text
    base = f"/anomalies/{flag.anomaly.id}"
    answers = [
        await viewer.post(f"{base}/review", {"status": "confirmed"}),
        await viewer.post(f"{base}/assign", {"assignee": "me"}),
        await viewer.post(f"{base}/comments", {"body": "hello"}),
    ]
    assert [a.status_code for a in answers] == [403, 403, 403]
    assert "review is needed" in answers[0].text
    async with api.container.services.uow() as uow:
        stored = await uow.anomalies.get(flag.anomaly.id)
        assert (stored.status, stored.assigned_to) == (ReviewStatus.OPEN, None)
        assert await uow.comments.list_for(flag.anomaly.id, 10) == []


async def test_confirming_with_a_note_labels_the_transaction_and_is_audited_as_console_work(
    api: Api, browsers: Any
) -> None:
    flags = await _flags(api, 2)
    analyst = await browsers(Role.ANALYST)
    target = flags[0].anomaly
    await analyst.page(f"/anomalies/{target.id}")
    answer = await analyst.post(
        f"/anomalies/{target.id}/review",
        {"status": "confirmed", "note": "mixer hop", "next": "/inbox"},
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/inbox")
    inbox = await analyst.page("/inbox")
    assert str(target.id) not in inbox.text
    assert str(flags[1].anomaly.id) in inbox.text
    tx = await analyst.page(f"/transactions/{target.transaction_hash}")
    assert "Labelled <strong>fraud</strong>" in tx.text
    assert "mixer hop" in tx.text
    async with api.container.services.uow() as uow:
        labels = await uow.labels.latest_for([target.transaction_hash])
        rows = (await uow.audit.query(AuditFilter(action="anomaly.review"), _page())).items
    assert labels[target.transaction_hash].kind is LabelKind.FRAUD
    assert [(r.resource, r.user_id, r.details["via"]) for r in rows] == [
        (f"anomalies/{target.id}", api.users[Role.ANALYST].id, "console")
    ]


async def test_the_inbox_filters_counts_and_pages_newest_first(api: Api, browsers: Any) -> None:
    version = await stored_version(api.container)
    high = await stored_flags(api.container, version, 55, severity=Severity.HIGH)
    low = await stored_flags(api.container, version, 3, severity=Severity.LOW)
    done = await stored_flags(
        api.container, version, 2, severity=Severity.CRITICAL, status=ReviewStatus.DISMISSED
    )
    analyst = await browsers(Role.ANALYST)
    first = await analyst.page("/inbox")  # open ones by default
    ids = re.findall(r'data-anomaly="([^"]+)"', first.text)
    assert len(ids) == 50
    assert str(done[0].anomaly.id) not in first.text
    newest = sorted(high + low, key=lambda f: (f.anomaly.detected_at, str(f.anomaly.id)))
    assert ids == [str(f.anomaly.id) for f in reversed(newest)][:50]
    counts = dict(
        re.findall(r'class="sev sev-(\w+)"><span>\w+</span> <strong>([\d,+]+)', first.text)
    )
    assert counts == {"low": "3", "medium": "0", "high": "55", "critical": "0"}
    older = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert older is not None
    second = await analyst.page(older.group(1).replace("&amp;", "&"))
    assert len(re.findall(r'data-anomaly="', second.text)) == 8
    assert 'rel="next"' not in second.text
    only_low = await analyst.page("/inbox?filtered=1&severity=low&status=open")
    assert sorted(re.findall(r'data-anomaly="([^"]+)"', only_low.text)) == sorted(
        str(f.anomaly.id) for f in low
    )
    dismissed = await analyst.page("/inbox?filtered=1&status=dismissed")
    assert len(re.findall(r'data-anomaly="', dismissed.text)) == 2
    window = await analyst.page(
        f"/inbox?filtered=1&since={at(50).strftime('%Y-%m-%dT%H:%M:%S')}&until="
        f"{at(53).strftime('%Y-%m-%dT%H:%M:%S')}"
    )
    assert len(re.findall(r'data-anomaly="', window.text)) == 3  # high ones at 50-52
    partial = await analyst.page("/inbox", headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<section id="results"')
    bad = await analyst.page("/inbox?filtered=1&since=yesterday")
    assert bad.status_code == 422
    assert "since must be a date and time" in bad.text


async def test_assigning_to_me_and_to_another_analyst_filters_my_inbox(
    api: Api, browsers: Any
) -> None:
    mine, theirs = await _flags(api, 2)
    analyst = await browsers(Role.ANALYST)
    await analyst.page(f"/anomalies/{mine.anomaly.id}")
    assert (
        await analyst.post(f"/anomalies/{mine.anomaly.id}/assign", {"assignee": "me"})
    ).status_code == 303
    admin_id = str(api.users[Role.ADMIN].id)
    to_admin = await analyst.post(f"/anomalies/{theirs.anomaly.id}/assign", {"assignee": admin_id})
    assert to_admin.status_code == 303
    to_viewer = await analyst.post(
        f"/anomalies/{theirs.anomaly.id}/assign", {"assignee": str(api.users[Role.VIEWER].id)}
    )
    assert to_viewer.status_code == 422
    assert "cannot review anomalies" in to_viewer.text
    my_inbox = await analyst.page("/inbox?filtered=1&status=open&mine=1")
    assert re.findall(r'data-anomaly="([^"]+)"', my_inbox.text) == [str(mine.anomaly.id)]
    case = await analyst.page(f"/anomalies/{theirs.anomaly.id}")
    assert "Assigned to <strong>admin-user</strong>" in case.text
    async with api.container.services.uow() as uow:
        rows = (await uow.audit.query(AuditFilter(action="anomaly.assign"), _page())).items
    done = {r.details["assigned_to"] for r in rows if r.outcome is Outcome.SUCCESS}
    assert done == {str(api.users[Role.ANALYST].id), admin_id}
    assert [r.details["field"] for r in rows if r.outcome is Outcome.FAILURE] == ["assignee"]


async def test_comments_form_a_thread_htmx_gets_the_panel_and_html_is_escaped(
    api: Api, browsers: Any
) -> None:
    (flag,) = await _flags(api, 1)
    analyst = await browsers(Role.ANALYST)
    admin = await browsers(Role.ADMIN)
    await analyst.page(f"/anomalies/{flag.anomaly.id}")
    await admin.page(f"/anomalies/{flag.anomaly.id}")
    first = await analyst.post(
        f"/anomalies/{flag.anomaly.id}/comments", {"body": "looks like a peel chain"}
    )
    assert first.status_code == 303
    partial = await admin.post(
        f"/anomalies/{flag.anomaly.id}/comments",
        {"body": "<script>alert(1)</script> agreed"},
        headers={"HX-Request": "true"},
    )
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<section id="comments"')
    assert "<script>alert" not in partial.text
    assert "&lt;script&gt;" in partial.text
    case = await analyst.page(f"/anomalies/{flag.anomaly.id}")
    assert case.text.index("looks like a peel chain") < case.text.index("agreed")
    empty = await analyst.post(f"/anomalies/{flag.anomaly.id}/comments", {"body": "   "})
    assert empty.status_code == 422
    async with api.container.services.uow() as uow:
        rows = (await uow.audit.query(AuditFilter(action="anomaly.comment"), _page())).items
    assert sorted(r.outcome.value for r in rows) == ["failure", "success", "success"]


async def test_the_case_view_shows_exact_wei_beside_eth_and_the_senders_history(
    api: Api, browsers: Any
) -> None:
    version = await stored_version(api.container)
    sender = "0x" + "ab" * 20
    huge = a_transaction(value=2**256 - 1, from_address=sender, timestamp=at(10))
    earlier = a_transaction(value=15 * 10**17, from_address=sender, timestamp=at(5))
    why = (Contribution("value_log", 3.25), Contribution("gas_price_log", -0.5))
    prediction = a_prediction(huge, version, created_at=at(10), contributions=why)
    anomaly = an_anomaly(prediction, detected_at=at(10))
    async with api.container.services.uow() as uow:
        await uow.transactions.add_many([huge, earlier])
        await uow.predictions.add_many([prediction])
        await uow.anomalies.add_many([anomaly])
        await uow.commit()
    viewer = await browsers(Role.VIEWER)
    case = await viewer.page(f"/anomalies/{anomaly.id}")
    assert f"{2**256 - 1} wei" in case.text
    assert (
        "= 115792089237316195423570985008687907853269984665640564039457.584007913129639935 ETH"
        in case.text
    )
    assert "1.5 ETH" in case.text  # the sender's earlier transaction
    assert re.search(r"<code>value_log</code></th><td class=\"num\">\+3\.2500</td>", case.text)
    assert '<meter min="0" max="3.25" value="0.5"' in case.text
    assert case.text.index(huge.hash[:10]) < case.text.rindex(earlier.hash[:10])


async def test_signing_out_revokes_the_session_even_for_a_copied_cookie(
    api: Api, browsers: Any
) -> None:
    analyst = await browsers(Role.ANALYST)
    copied = analyst.client.cookies.get("cw_session")
    assert (await analyst.post("/sign-out", {})).status_code == 303
    thief = await browsers()
    thief.client.cookies.set("cw_session", copied or "")
    assert (await thief.client.get("/inbox")).status_code == 303


async def test_sessions_end_after_idle_time_and_at_their_absolute_expiry(
    api: Api, browsers: Any
) -> None:
    idle = await browsers(Role.ANALYST)
    api.clock.advance(timedelta(minutes=31))
    assert (await idle.client.get("/inbox")).status_code == 303
    busy = await browsers(Role.ANALYST)
    for _ in range(25):  # 12.5 hours of use, every 30 minutes
        api.clock.advance(timedelta(minutes=29, seconds=59))
        if (await busy.client.get("/inbox")).status_code != 200:
            break
    assert (await busy.client.get("/inbox")).status_code == 303


async def test_deactivating_a_user_ends_their_sessions(api: Api, browsers: Any) -> None:
    analyst = await browsers(Role.ANALYST)
    await update_user(api.container.services, api.users[Role.ANALYST].id, active=False, actor=None)
    assert (await analyst.client.get("/inbox")).status_code == 303


async def test_the_api_assigns_and_filters_by_assignee(api: Api) -> None:
    mine, other = await _flags(api, 2)
    analyst = api.users[Role.ANALYST]
    answer = await api.client.put(
        f"/api/v1/anomalies/{mine.anomaly.id}/assignee",
        json={"assignee": str(analyst.id)},
        headers=api.as_(Role.ANALYST),
    )
    assert answer.status_code == 200
    assert answer.json()["assigned_to"] == str(analyst.id)
    listing = await api.client.get(
        f"/api/v1/anomalies?assigned_to={analyst.id}", headers=api.as_(Role.VIEWER)
    )
    assert [a["id"] for a in listing.json()["anomalies"]] == [str(mine.anomaly.id)]
    refused = await api.client.put(
        f"/api/v1/anomalies/{other.anomaly.id}/assignee",
        json={"assignee": None},
        headers=api.as_(Role.VIEWER),
    )
    assert refused.status_code == 403


async def test_failed_sign_ins_are_limited_per_address_like_api_keys() -> None:
    container = bootstrap_in_memory(
        clock=ManualClock(), passwords=CHEAP_PASSWORDS, bootstrap_model=False
    )
    app = create_app(
        container, rate_limits=RateLimitSettings(auth_failures_per_address=Rate(3, 60))
    )
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))  # type: ignore[arg-type]
    async with running(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        browser = Browser(client)
        statuses = [
            (await browser.sign_in(method="password", username="x", password="guess")).status_code
            for _ in range(5)
        ]
    assert statuses == [401, 401, 401, 429, 429]


async def test_cookies_are_secure_behind_a_trusted_tls_proxy_only() -> None:
    container = bootstrap_in_memory(
        clock=ManualClock(), passwords=CHEAP_PASSWORDS, bootstrap_model=False
    )
    trusted = RateLimitSettings(trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),))
    app = create_app(container, rate_limits=trusted)
    cookies = {}
    async with running(app):
        # The proxy, then a client claiming TLS itself.
        for peer in ("10.1.2.3", "192.0.2.1"):
            transport = httpx.ASGITransport(app=app, client=(peer, 1234))  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                form = await client.get("/sign-in", headers={"X-Forwarded-Proto": "https"})
                cookies[peer] = form.headers["set-cookie"]
    assert "Secure" in cookies["10.1.2.3"]
    assert "Secure" not in cookies["192.0.2.1"]


def _url_of(route: HTTPRoute, api: Api, flag: Any) -> str:
    """``route``'s path with a value for each of its parameters (an anomaly and its
    transaction, a model, a user, a key that does not exist)."""
    return route.path_format.format(
        anomaly_id=flag.anomaly.id,
        tx_hash=flag.transaction.hash,
        name="m",
        version=1,
        user_id=api.users[Role.VIEWER].id,
        key_id=MISSING_KEY,
    )


async def test_every_console_route_declares_who_may_use_it_and_holds_to_it(
    api: Api, browsers: Any
) -> None:
    """Generated from the route table, like the API's matrix: every console page is public
    or declares a permission; without a session it sends the browser to sign in (a GET) or
    refuses (a POST); with a session, a role without the permission gets 403 and one with
    it gets past the guard."""
    (flag,) = await _flags(api, 1)
    sessions = {role: await browsers(role) for role in (Role.ADMIN, Role.ANALYST, Role.VIEWER)}
    stranger = await browsers()
    wrong: list[str] = []
    checked = 0
    for route in api.app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/static"):
            continue
        for handler in route.route_handlers:
            if not handler.opt.get(CONSOLE_OPT) or handler.http_methods == {"OPTIONS"}:
                continue
            permission = handler.opt.get(PERMISSION_OPT)
            if handler.opt.get("public"):
                continue
            if not isinstance(permission, Permission):
                wrong.append(f"{route.path}: neither public nor a permission")
                continue
            url = _url_of(route, api, flag)
            for method in handler.http_methods:
                checked += 1
                anonymous = await stranger.client.request(method, url)
                if anonymous.status_code != (303 if method == "GET" else 401):
                    wrong.append(f"no session: {method} {url} -> {anonymous.status_code}")
                for role, browser in sessions.items():
                    await browser.page("/inbox")
                    answer = await (
                        browser.page(url)
                        if method == "GET"
                        else browser.post(url, {"status": "escalated", "body": "x"})
                    )
                    granted = permission in GRANTS[role]
                    if granted == (answer.status_code in (401, 403)):
                        wrong.append(f"{role.value}: {method} {url} -> {answer.status_code}")
                    if method == "POST" and url.endswith("sign-out"):
                        sessions[role] = await browsers(role)
    assert not wrong, "\n".join(wrong)
    assert checked >= 15


def _page() -> Any:
    from domain.pagination import PageRequest

    return PageRequest(100)


async def test_an_error_page_keeps_the_navigation_and_a_working_sign_out(
    api: Api, browsers: Any
) -> None:
    analyst = await browsers(Role.ANALYST)
    missing = await analyst.page("/anomalies/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert 'href="/inbox"' in missing.text
    assert 'aria-label="Main"' in missing.text
    assert _CSRF.search(missing.text) is not None  # the page's own token, as on any page
    assert (await analyst.post("/sign-out", {})).status_code == 303
    assert (await analyst.client.get("/inbox")).status_code == 303


async def test_every_unsafe_console_route_refuses_a_post_without_the_csrf_token(
    api: Api, browsers: Any
) -> None:
    """Generated from the route table, so pages added later are held to it too: with an
    admin's live session (every permission) but no token, every POST, PUT, PATCH and
    DELETE of the console answers 403 naming the CSRF token; public ones (sign-in) too."""
    (flag,) = await _flags(api, 1)
    admin = await browsers(Role.ADMIN)
    stranger = await browsers()
    await stranger.client.get("/sign-in")  # holds a sign-in cookie, but sends no token
    wrong: list[str] = []
    checked = 0
    for route in api.app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            unsafe = handler.http_methods & {"POST", "PUT", "PATCH", "DELETE"}
            if not handler.opt.get(CONSOLE_OPT) or not unsafe:
                continue
            url = _url_of(route, api, flag)
            browser = stranger if handler.opt.get("public") else admin
            for method in unsafe:
                checked += 1
                answer = await browser.client.request(
                    method, url, data={"status": "escalated", "body": "x"}
                )
                if answer.status_code != 403 or "CSRF token" not in answer.text:
                    wrong.append(f"{method} {url} -> {answer.status_code}")
    assert not wrong, "\n".join(wrong)
    assert checked >= 5
    async with api.container.services.uow() as uow:
        assert (await uow.anomalies.get(flag.anomaly.id)).status is ReviewStatus.OPEN
