"""Problem documents for every failure, request ids, access logs, metrics and the schema."""

from __future__ import annotations

import logging

import httpx
import pytest
from litestar import Controller, get

from domain.model import Role
from domain.services.auth import Permission
from entrypoints.bootstrap import bootstrap_in_memory
from entrypoints.http import create_app
from entrypoints.http.security import requires
from tests.integration.api.conftest import CHEAP_PASSWORDS, Api, running, user_with_key

PROBLEM = "application/problem+json"


async def test_malformed_json_is_a_400_and_a_missing_body_too(api: Api) -> None:
    for content in (b'{"username": "x",', b"", b"\xff"):
        response = await api.client.post(
            "/api/v1/users",
            content=content,
            headers={**api.as_(Role.ADMIN), "content-type": "application/json"},
        )
        assert response.status_code == 400, content
        assert response.headers["content-type"].startswith(PROBLEM)
        body = response.json()
        assert (body["status"], body["title"]) == (400, "Malformed request")


async def test_well_formed_json_with_wrong_types_is_a_422_naming_the_field(api: Api) -> None:
    for body, field in [
        ({"username": 7, "role": "viewer"}, "username"),
        ([1, 2], "body"),
        ({"username": "ok", "role": "viewer", "active": True}, "active"),
    ]:
        response = await api.client.post("/api/v1/users", json=body, headers=api.as_(Role.ADMIN))
        assert response.status_code == 422, body
        problem = response.json()
        assert problem["field"] == field, body
        assert problem["errors"][0]["field"] == field
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_an_unknown_path_is_a_404_problem_with_a_request_id(api: Api) -> None:
    response = await api.client.get("/api/v1/nothing-here", headers=api.as_(Role.ADMIN))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["x-request-id"]


async def test_the_request_id_is_echoed_when_sane_and_generated_otherwise(api: Api) -> None:
    echoed = await api.client.get("/health", headers={"X-Request-ID": "trace-42.a:b"})
    assert echoed.headers["x-request-id"] == "trace-42.a:b"
    replaced = await api.client.get("/health", headers={"X-Request-ID": "no spaces <allowed>"})
    assert replaced.headers["x-request-id"] != "no spaces <allowed>"
    assert len(replaced.headers["x-request-id"]) == 32


class Broken(Controller):
    path = "/broken"

    @get("/", opt=requires(Permission.READ))
    async def explode(self) -> None:
        raise RuntimeError("secret internals /etc/passwd")


class Unprotected(Controller):
    path = "/unprotected"

    @get("/")
    async def anyone(self) -> None:
        return None


def test_an_api_route_that_names_no_permission_is_refused_at_start_up() -> None:
    container = bootstrap_in_memory(passwords=CHEAP_PASSWORDS, bootstrap_model=False)
    with pytest.raises(RuntimeError, match="declares no permission"):
        create_app(container, extra_api_handlers=[Unprotected])


async def test_a_bug_is_a_500_with_the_request_id_and_no_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    container = bootstrap_in_memory(passwords=CHEAP_PASSWORDS, bootstrap_model=False)
    _, key = await user_with_key(container, Role.VIEWER)
    app = create_app(container, extra_api_handlers=[Broken])
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="chainwatch.http"):
        async with (
            running(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            response = await client.get("/api/v1/broken", headers={"X-API-Key": key})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert "internals" not in response.text
    assert "Traceback" not in response.text
    assert body["request_id"] in caplog.text


async def test_each_request_is_logged_once_without_its_api_key(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="chainwatch.http.access"):
        await api.client.get("/api/v1/anomalies/42", headers=api.as_(Role.VIEWER))
    (record,) = [r for r in caplog.records if r.name == "chainwatch.http.access"]
    fields = record.__dict__
    assert (fields["method"], fields["route"], fields["status"]) == (
        "GET",
        "/api/v1/anomalies/{anomaly_id}",
        422,
    )
    assert fields["duration_ms"] >= 0
    assert fields["user_id"] == str(api.users[Role.VIEWER].id)
    assert api.keys[Role.VIEWER] not in caplog.text


async def test_metrics_group_by_route_template_count_refusals_and_expose_gauges(api: Api) -> None:
    await api.client.get("/api/v1/anomalies/42", headers=api.as_(Role.VIEWER))
    await api.client.get("/api/v1/users")
    text = (await api.client.get("/metrics")).text
    assert 'path="/api/v1/anomalies/{anomaly_id}",status_code="422"' in text
    assert 'path="/api/v1/users",status_code="401"' in text
    assert "/api/v1/anomalies/42" not in text
    for gauge in (
        "chainwatch_db_pool_in_use_connections",
        "chainwatch_db_pool_idle_connections",
        "chainwatch_scoring_queue_depth 0.0",
    ):
        assert gauge in text


@pytest.mark.postgres
async def test_on_postgres_the_pool_gauges_count_connections(api: Api) -> None:
    if api.container.database.__class__.__name__ != "LentDatabase":
        pytest.skip("PostgreSQL only")
    text = (await api.client.get("/metrics")).text
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("chainwatch_db_pool")
    )
    # At least the pool's one minimum connection is open; a background task (the job
    # worker's poll, say) may hold it at the moment of the scrape.
    in_use = float(samples['chainwatch_db_pool_in_use_connections{node="primary"}'])
    idle = float(samples['chainwatch_db_pool_idle_connections{node="primary"}'])
    assert in_use + idle >= 1
    assert float(samples['chainwatch_db_pool_max_connections{node="primary"}']) == 10


async def test_the_openapi_document_declares_the_api_key_and_every_error(api: Api) -> None:
    schema = (await api.client.get("/schema/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "name": "X-API-Key",
        "in": "header",
        "description": schema["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1")
        for method, operation in item.items()
    ]
    assert len(operations) >= 15
    for path, method, operation in operations:
        assert operation["security"] == [{"ApiKey": []}], (path, method)
        for status in ("400", "401", "403", "500", "503"):
            declared = operation["responses"][status]["content"]
            assert list(declared) == [PROBLEM], (path, method, status)
    docs = await api.client.get("/schema")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")


async def test_key_use_is_recorded_at_shutdown_without_a_write_per_request() -> None:
    container = bootstrap_in_memory(passwords=CHEAP_PASSWORDS, bootstrap_model=False)
    user, key = await user_with_key(container, Role.VIEWER)
    app = create_app(container, key_use_flush_s=3600)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with running(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for _ in range(3):
            assert (await client.get("/api/v1/transactions", headers={"X-API-Key": key})).is_success
        async with container.services.uow() as uow:
            (stored,) = await uow.api_keys.list(user.id)
        assert stored.last_used_at is None
    async with container.services.uow() as uow:
        (stored,) = await uow.api_keys.list(user.id)
    assert stored.last_used_at is not None
