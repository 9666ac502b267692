"""``/models``: register a model, train versions in the background and poll them, then
activate and shadow them - and predictions follow."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from adapters.synthetic import generate_stream
from domain.features import FEATURE_VERSION
from domain.model import Outcome, Role
from domain.pagination import PageRequest
from ports.repositories import AuditFilter, TimeRange
from tests.integration.api.conftest import Api

EVER = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
SMALL = {"n_estimators": 20}


async def stored_history(api: Api, count: int = 300) -> None:
    async with api.container.services.uow() as uow:
        await uow.transactions.add_many(generate_stream(count, seed=3).transactions)
        await uow.commit()


async def finished(api: Api, status_url: str) -> dict[str, Any]:
    """Poll ``status_url`` until the job has finished."""
    for _ in range(400):
        response = await api.client.get(status_url, headers=api.as_(Role.VIEWER))
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.025)
    raise AssertionError(f"the job at {status_url} did not finish")


async def trained(api: Api, name: str, **body: Any) -> dict[str, Any]:
    response = await api.client.post(
        f"/api/v1/models/{name}/versions",
        json={**EVER, "params": SMALL, **body},
        headers=api.as_(Role.ADMIN),
    )
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    assert accepted["version"] is None  # given when the version is stored, at the end
    assert accepted["status_url"].endswith(f"/jobs/{accepted['job_id']}")
    job = await finished(api, accepted["status_url"])
    assert job["id"] == accepted["job_id"]
    return job


async def create(api: Api, name: str, algorithm: str = "iforest") -> Any:
    return await api.client.post(
        "/api/v1/models", json={"name": name, "algorithm": algorithm}, headers=api.as_(Role.ADMIN)
    )


def predict_body() -> dict[str, Any]:
    return {
        "hash": "0x" + secrets.token_hex(32),
        "from": "0x" + "12" * 20,
        "value": "5",
        "gas": 21000,
        "gasPrice": "7",
        "timestamp": "2024-03-01T00:00:00Z",
    }


async def test_a_model_is_created_listed_and_looked_up(api: Api) -> None:
    created = await create(api, "Fraud-Forest")
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "fraud-forest"
    assert (await create(api, "fraud-forest")).status_code == 409
    listed = await api.client.get("/api/v1/models", headers=api.as_(Role.VIEWER))
    assert [m["name"] for m in listed.json()["models"]] == ["fraud-forest"]
    one = await api.client.get("/api/v1/models/fraud-forest", headers=api.as_(Role.ANALYST))
    assert one.json()["algorithm"] == "iforest"
    assert one.json()["versions"] == []
    missing = await api.client.get("/api/v1/models/nothing", headers=api.as_(Role.VIEWER))
    assert missing.status_code == 404
    async with api.container.services.uow() as uow:
        page = await uow.audit.query(AuditFilter(period=TimeRange()), PageRequest(100))
    (row,) = [e for e in page.items if e.action == "model.create" and e.outcome is Outcome.SUCCESS]
    assert row.user_id == api.users[Role.ADMIN].id
    assert row.ip


async def test_an_unknown_algorithm_is_refused_naming_it(api: Api) -> None:
    response = await create(api, "m", algorithm="crystal-ball")
    assert response.status_code == 422
    assert response.json()["field"] == "algorithm"


async def test_a_version_is_trained_in_the_background_activated_and_serves(api: Api) -> None:
    await stored_history(api)
    await create(api, "forest")
    job = await trained(api, "forest")
    assert job["status"] == "succeeded"
    assert job["version"] == 1
    assert job["error"] is None
    assert (job["progress"], job["attempts"]) == (1.0, 1)
    versions = await api.client.get("/api/v1/models/forest/versions", headers=api.as_(Role.VIEWER))
    (version,) = versions.json()["versions"]
    assert version["status"] == "staged"
    assert version["metrics"]["training_rows"] > 0
    reference = version["thresholds"]["reference"]  # its size, not a thousand quantiles
    assert reference["rows"] > 0
    assert reference["points"] >= 1001

    activated = await api.client.patch(
        "/api/v1/models/forest/versions/1",
        json={"status": "active", "traffic_weight": 100},
        headers=api.as_(Role.ADMIN),
    )
    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "active"
    assert activated.json()["traffic_weight"] == 100
    scored = await api.client.post(
        "/api/v1/predict", json=predict_body(), headers=api.as_(Role.SERVICE)
    )
    assert scored.status_code == 200, scored.text
    assert scored.json()["model_version"] == "forest:1"
    assert 0.0 <= scored.json()["anomaly_score"] <= 1.0


async def test_a_shadow_version_scores_every_transaction_without_serving(api: Api) -> None:
    await stored_history(api)
    await create(api, "forest")
    await trained(api, "forest")
    await trained(api, "forest", params={"n_estimators": 10})
    for number, status in ((1, "active"), (2, "shadow")):
        response = await api.client.patch(
            f"/api/v1/models/forest/versions/{number}",
            json={"status": status},
            headers=api.as_(Role.ADMIN),
        )
        assert response.status_code == 200, response.text
    body = predict_body()
    scored = await api.client.post("/api/v1/predict", json=body, headers=api.as_(Role.SERVICE))
    assert scored.json()["model_version"] == "forest:1"
    listed = await api.client.get(
        "/api/v1/predictions", params={"transaction": body["hash"]}, headers=api.as_(Role.VIEWER)
    )
    served = {p["model_version"]: p["served"] for p in listed.json()["predictions"]}
    assert served == {"forest:1": True, "forest:2": False}


async def test_training_on_an_empty_range_fails_with_the_reason(api: Api) -> None:
    await create(api, "forest")
    job = await trained(api, "forest")
    assert job["status"] == "failed"
    assert "no transactions" in job["error"]


async def test_training_refuses_another_algorithm_and_a_backwards_range(api: Api) -> None:
    await create(api, "forest")
    wrong = await api.client.post(
        "/api/v1/models/forest/versions",
        json={**EVER, "algorithm": "ecod"},
        headers=api.as_(Role.ADMIN),
    )
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "algorithm"
    backwards = await api.client.post(
        "/api/v1/models/forest/versions",
        json={"since": EVER["until"], "until": EVER["since"]},
        headers=api.as_(Role.ADMIN),
    )
    assert backwards.status_code == 422
    assert backwards.json()["field"] == "until"


async def test_a_version_trains_on_the_feature_set_asked_for(api: Api) -> None:
    await stored_history(api)
    await create(api, "forest")
    await trained(api, "forest")
    job = await trained(api, "forest", feature_version=4)
    assert job["status"] == "succeeded", job
    versions = await api.client.get("/api/v1/models/forest/versions", headers=api.as_(Role.VIEWER))
    sets = {v["version"]: v["feature_version"] for v in versions.json()["versions"]}
    assert sets == {1: FEATURE_VERSION, 2: 4}


async def test_an_unknown_feature_set_is_refused_before_any_job(api: Api) -> None:
    await create(api, "forest")
    response = await api.client.post(
        "/api/v1/models/forest/versions",
        json={**EVER, "feature_version": 99},
        headers=api.as_(Role.ADMIN),
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "feature_version"
    assert "99" in response.json()["detail"]


async def test_a_weight_alone_is_refused_for_a_version_that_is_not_active(api: Api) -> None:
    await stored_history(api)
    await create(api, "forest")
    await trained(api, "forest")
    response = await api.client.patch(
        "/api/v1/models/forest/versions/1",
        json={"traffic_weight": 50},
        headers=api.as_(Role.ADMIN),
    )
    assert response.status_code == 409
    empty = await api.client.patch(
        "/api/v1/models/forest/versions/1", json={}, headers=api.as_(Role.ADMIN)
    )
    assert empty.status_code == 422


async def test_an_unknown_job_is_404(api: Api) -> None:
    await create(api, "forest")
    response = await api.client.get(
        "/api/v1/models/forest/jobs/00000000-0000-4000-8000-000000000000",
        headers=api.as_(Role.VIEWER),
    )
    assert response.status_code == 404
