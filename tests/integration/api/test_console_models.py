"""The console's Models pages over HTTP, in process, on the fakes and on PostgreSQL: what
each role sees, the weight change with its confirmation step, refused changes shown on the
page (never a 500), CSRF, training jobs (the browser tests in ``tests/browser`` drive the
same pages in Chromium)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from adapters.synthetic import generate_stream
from domain.model import Outcome, Role
from domain.pagination import PageRequest
from domain.services import lifecycle
from domain.services.registry import train_version
from domain.services.training_data import GivenTransactions
from ports import AuditFilter
from tests.integration.api.conftest import CLIENT_IP, Api
from tests.integration.api.serving import SMALL_FOREST, serving_model
from tests.integration.api.test_console import Browser

_WEIGHT_FORM = re.compile(r'action="/models/forest/versions/(\d+)/weight"')


@pytest.fixture
async def browsers(api: Api) -> AsyncIterator[Any]:
    async with AsyncExitStack() as stack:

        async def new(role: Role) -> Browser:
            transport = httpx.ASGITransport(app=api.app, client=(CLIENT_IP, 50002))  # type: ignore[arg-type]
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://testserver")
            )
            browser = Browser(client)
            answer = await browser.sign_in(method="api-key", api_key=api.keys[role])
            assert answer.status_code == 303, answer.text
            return browser

        yield new


async def two_active_versions(api: Api) -> None:
    """forest:1 at 60% and forest:2 at 40% of traffic."""
    await serving_model(api.container)
    rows = generate_stream(300, seed=6).transactions
    services = api.container.services
    second = await train_version(
        services, "forest", GivenTransactions(rows), SMALL_FOREST, actor=None
    )
    await lifecycle.activate(services, "forest", second.version, 40, actor=None)


async def weights(api: Api) -> dict[int, int]:
    listed = await api.client.get("/api/v1/models/forest/versions", headers=api.as_(Role.VIEWER))
    return {
        v["version"]: v["traffic_weight"]
        for v in listed.json()["versions"]
        if v["status"] == "active"
    }


async def test_a_viewer_reads_models_versions_and_pictures_without_any_control(
    api: Api, browsers: Any
) -> None:
    await two_active_versions(api)
    viewer = await browsers(Role.VIEWER)
    inbox = await viewer.page("/inbox")
    assert 'href="/models"' in inbox.text
    listing = await viewer.page("/models")
    assert listing.status_code == 200
    assert "<title>Models" in listing.text
    assert 'href="/models/forest/versions/2"' in listing.text
    assert "60%" in listing.text
    assert "40%" in listing.text
    model = await viewer.page("/models/forest")
    assert model.status_code == 200
    assert "Training jobs" in model.text
    assert not _WEIGHT_FORM.search(model.text)
    assert "Start training" not in model.text
    version = await viewer.page("/models/forest/versions/1")
    assert version.status_code == 200
    assert version.text.count('role="img"') == 2
    assert "ROC curve of forest:1" in version.text
    assert "Score histogram of forest:1" in version.text
    confirm = await viewer.page("/models/forest/versions/1/weight?weight=30")
    assert confirm.status_code == 403


async def test_an_admin_changes_a_weight_after_seeing_old_and_new_weights(
    api: Api, browsers: Any
) -> None:
    await two_active_versions(api)
    admin = await browsers(Role.ADMIN)
    model = await admin.page("/models/forest")
    assert sorted(_WEIGHT_FORM.findall(model.text)) == ["1", "2"]
    confirm = await admin.page("/models/forest/versions/2/weight?weight=70")
    assert confirm.status_code == 200
    assert "Confirm the traffic weights" in confirm.text
    assert "60% → 30%" in confirm.text
    assert "40% → 70%" in confirm.text
    assert await weights(api) == {1: 60, 2: 40}  # nothing changes before the POST

    done = await admin.post("/models/forest/versions/2/weight", {"weight": "70"})
    assert done.status_code == 303
    assert done.headers["location"] == "/models/forest?done=weight&version=2"
    assert await weights(api) == {1: 30, 2: 70}
    after = await admin.page(done.headers["location"])
    assert "Traffic weights saved." in after.text
    async with api.container.services.uow() as uow:
        rows = await uow.audit.query(
            AuditFilter(action="model_version.set_weight"), PageRequest(10)
        )
    (row,) = rows.items
    assert row.user_id == api.users[Role.ADMIN].id
    assert row.details["weight"] == 70
    assert row.details["via"] == "console"


@pytest.mark.parametrize(
    ("weight", "status", "message"),
    [
        ("150", 422, "traffic_weight must be an integer from 0 to 100"),
        ("-5", 422, "traffic_weight must be an integer from 0 to 100"),
        ("lots", 422, "traffic_weight must be a whole number"),
        ("", 422, "traffic_weight must be a whole number"),
    ],
)
async def test_a_bad_weight_is_refused_with_the_reason_on_the_page(
    api: Api, browsers: Any, weight: str, status: int, message: str
) -> None:
    await two_active_versions(api)
    admin = await browsers(Role.ADMIN)
    await admin.page("/models/forest")
    previewed = await admin.page(f"/models/forest/versions/2/weight?weight={weight}")
    posted = await admin.post("/models/forest/versions/2/weight", {"weight": weight})
    for answer in (previewed, posted):
        assert answer.status_code == status
        assert answer.headers["content-type"].startswith("text/html")
        assert 'role="alert"' in answer.text
        assert message in answer.text
        assert "traffic_weight" in answer.text
    assert await weights(api) == {1: 60, 2: 40}
    async with api.container.services.uow() as uow:
        rows = await uow.audit.query(AuditFilter(action="model_version.change"), PageRequest(10))
    (row,) = rows.items  # the POST's, as the API's PATCH writes it; the preview wrote none
    assert row.outcome is Outcome.FAILURE
    assert (row.details["status"], row.details["field"]) == (422, "traffic_weight")
    assert row.user_id == api.users[Role.ADMIN].id


async def test_a_change_the_lifecycle_refuses_is_shown_as_a_conflict(
    api: Api, browsers: Any
) -> None:
    await serving_model(api.container)  # forest:1 alone, at 100%
    admin = await browsers(Role.ADMIN)
    await admin.page("/models/forest")
    previewed = await admin.page("/models/forest/versions/1/weight?weight=50")
    posted = await admin.post("/models/forest/versions/1/weight", {"weight": "50"})
    for answer in (previewed, posted):
        assert answer.status_code == 409
        assert "no other active version can take the remaining 50%" in answer.text
    assert await weights(api) == {1: 100}
    missing = await admin.page("/models/forest/versions/9/weight?weight=50")
    assert missing.status_code == 404


async def test_weight_posts_without_csrf_or_from_other_roles_are_refused(
    api: Api, browsers: Any
) -> None:
    await two_active_versions(api)
    admin = await browsers(Role.ADMIN)
    await admin.page("/models/forest")
    without = await admin.client.post("/models/forest/versions/2/weight", data={"weight": "70"})
    assert without.status_code == 403
    assert "CSRF token" in without.text
    for role in (Role.VIEWER, Role.ANALYST):
        other = await browsers(role)
        await other.page("/models/forest")
        refused = await other.post("/models/forest/versions/2/weight", {"weight": "70"})
        assert refused.status_code == 403
        trained = await other.post("/models/forest/train", {})
        assert trained.status_code == 403
    assert await weights(api) == {1: 60, 2: 40}


async def test_an_admin_starts_training_and_the_job_shows_with_its_progress(
    api: Api, browsers: Any
) -> None:
    await serving_model(api.container)
    admin = await browsers(Role.ADMIN)
    await admin.page("/models/forest")
    backwards = await admin.post(
        "/models/forest/train", {"since": "2026-02-01T00:00", "until": "2026-01-01T00:00"}
    )
    assert backwards.status_code == 422
    assert "until must be after since" in backwards.text
    started = await admin.post("/models/forest/train", {"since": "", "until": ""})
    assert started.status_code == 303
    assert started.headers["location"] == "/models/forest?done=training#jobs"
    page = await admin.page("/models/forest?done=training")
    assert "Training job queued." in page.text
    assert 'class="job-status"' in page.text
    panel = await admin.page("/models/forest/jobs", headers={"HX-Request": "true"})
    assert panel.status_code == 200
    assert panel.text.lstrip().startswith('<section id="jobs"')
    assert "<progress" in panel.text
    async with api.container.services.uow() as uow:
        rows = await uow.audit.query(AuditFilter(action="model_version.train"), PageRequest(10))
    (refused,) = [r for r in rows.items if r.outcome is Outcome.FAILURE]  # the backwards one
    assert refused.details["field"] == "until"


async def test_unknown_models_and_versions_are_not_found_pages(api: Api, browsers: Any) -> None:
    await serving_model(api.container)
    viewer = await browsers(Role.VIEWER)
    for path in ("/models/nothing", "/models/forest/versions/7", "/models/nothing/jobs"):
        answer = await viewer.page(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
