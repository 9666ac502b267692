"""``/api/v1/review-queue``: who may read it, what an item holds, what is left out."""

from __future__ import annotations

import pytest

from domain.model import LabelKind, Role
from tests.builders import T0, a_label
from tests.integration.api.conftest import Api
from tests.queue_data import active_calibrated_version, scored

URL = "/api/v1/review-queue"


async def test_analysts_get_unlabelled_transactions_with_their_prediction_and_reasons(
    api: Api,
) -> None:
    uow = api.container.services.uow
    version = await active_calibrated_version(uow)
    txs = await scored(uow, version, [0.99, 0.5, 0.999, 0.9], at=T0)
    async with uow() as work:
        await work.labels.add(a_label(txs[0], LabelKind.LEGITIMATE))
        await work.commit()

    response = await api.client.get(URL, params={"limit": 20}, headers=api.as_(Role.ANALYST))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["candidates"], body["labelled_in_window"], body["alert_share"]) == (3, 1, 0.01)
    assert body["feature_version"] == 3
    by_hash = {tx.hash: tx for tx in txs}
    assert {item["transaction"]["hash"] for item in body["items"]} == {
        tx.hash for tx in txs[1:]
    }  # the labelled one is left out
    assert [item["rank"] for item in body["items"]] == [1, 2, 3]
    first = body["items"][0]
    tx = by_hash[first["transaction"]["hash"]]
    assert first["transaction"]["value"] == str(tx.value)  # wei as an exact decimal string
    assert first["transaction"]["gas_price"] == str(tx.gas_price)
    assert first["prediction"]["model_version"].endswith(":1")
    assert first["prediction"]["score"] == first["reasons"]["score"]
    reasons = first["reasons"]
    assert reasons["reason"] == "informative"
    assert 0.0 <= reasons["uncertainty"] <= 1.0
    assert 0.0 <= reasons["informativeness"] <= 1.0
    assert reasons["gain"] > 0.0
    assert {"distance", "density"} <= reasons.keys()
    admin = await api.client.get(URL, headers=api.as_(Role.ADMIN))
    assert admin.status_code == 200


async def test_a_huge_wei_value_comes_back_exact(api: Api) -> None:
    uow = api.container.services.uow
    version = await active_calibrated_version(uow)
    (tx,) = await scored(uow, version, [0.99], at=T0, value=2**256 - 1)
    body = (await api.client.get(URL, headers=api.as_(Role.ANALYST))).json()
    assert body["items"][0]["transaction"]["value"] == str(2**256 - 1)
    assert body["items"][0]["transaction"]["hash"] == tx.hash


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SERVICE])
async def test_roles_without_review_are_refused(api: Api, role: Role) -> None:
    response = await api.client.get(URL, headers=api.as_(role))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_no_key_is_refused(api: Api) -> None:
    response = await api.client.get(URL)
    assert response.status_code == 401


@pytest.mark.parametrize("limit", ["0", "201", "many"])
async def test_the_limit_is_checked_and_named(api: Api, limit: str) -> None:
    response = await api.client.get(URL, params={"limit": limit}, headers=api.as_(Role.ANALYST))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == "limit"


async def test_an_empty_store_gives_an_empty_queue(api: Api) -> None:
    response = await api.client.get(URL, headers=api.as_(Role.ANALYST))
    assert response.status_code == 200
    body = response.json()
    assert body["items"] == []
    assert body["candidates"] == 0
    assert body["feature_version"] is None


async def test_the_endpoint_is_declared_in_the_openapi_document(api: Api) -> None:
    document = (await api.client.get("/schema/openapi.json")).json()
    operation = document["paths"][URL]["get"]
    assert {"200", "401", "403", "422"} <= operation["responses"].keys()
    (limit,) = [p for p in operation["parameters"] if p["name"] == "limit"]
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 200)
