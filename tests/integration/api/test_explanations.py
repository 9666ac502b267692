"""Why it was flagged: predictions carry their top feature contributions through
``/predict``, ``GET /transactions/{hash}``, ``/predictions`` and the anomaly endpoints."""

from __future__ import annotations

from typing import Any

from domain.explanations import Contribution
from domain.features import feature_names
from domain.model import Role
from tests.builders import a_prediction, a_transaction, an_anomaly, at
from tests.integration.api.conftest import Api
from tests.integration.api.data import stored_version
from tests.integration.api.serving import serving_model
from tests.integration.api.test_predict import old_shape

WHY = (Contribution("log_value_ether", 7.5), Contribution("log_gas_price_gwei", -1.25))


def _sorted_by_size(contributions: list[dict[str, Any]]) -> bool:
    sizes = [abs(item["contribution"]) for item in contributions]
    return sizes == sorted(sizes, reverse=True)


async def test_a_scored_transaction_answers_and_stores_why_it_scored_so(api: Api) -> None:
    version = await serving_model(api.container)
    outsized = old_shape(value=str(50_000 * 10**18))

    answer = (
        await api.client.post("/api/v1/predict", json=outsized, headers=api.as_(Role.SERVICE))
    ).json()
    detail = (
        await api.client.get(
            f"/api/v1/transactions/{outsized['hash']}", headers=api.as_(Role.VIEWER)
        )
    ).json()
    replayed = (
        await api.client.post("/api/v1/predict", json=outsized, headers=api.as_(Role.SERVICE))
    ).json()
    listed = (
        await api.client.get(
            f"/api/v1/predictions?transaction={outsized['hash']}", headers=api.as_(Role.VIEWER)
        )
    ).json()

    why = answer["contributions"]
    assert 1 <= len(why) <= 5
    assert {item["feature"] for item in why} <= set(feature_names(version.feature_version))
    assert _sorted_by_size(why)
    (prediction,) = detail["predictions"]
    assert prediction["id"] == answer["prediction_id"]
    assert prediction["model_version"] == "forest:1"
    assert prediction["contributions"] == why
    assert listed["predictions"][0]["contributions"] == why
    assert replayed["replayed"] is True
    assert replayed["contributions"] == why


async def test_anomalies_show_their_flagging_predictions_contributions(api: Api) -> None:
    version = await stored_version(api.container)
    explained_tx, older_tx = a_transaction(timestamp=at(2)), a_transaction(timestamp=at(1))
    explained = a_prediction(explained_tx, version, contributions=WHY, created_at=at(2))
    older = a_prediction(older_tx, version, created_at=at(1))  # stored before they were kept
    flags = [an_anomaly(explained, detected_at=at(2)), an_anomaly(older, detected_at=at(1))]
    async with api.container.services.uow() as uow:
        await uow.transactions.add_many([explained_tx, older_tx])
        await uow.predictions.add_many([explained, older])
        await uow.anomalies.add_many(flags)
        await uow.commit()

    page = (await api.client.get("/api/v1/anomalies", headers=api.as_(Role.VIEWER))).json()
    single = (
        await api.client.get(f"/api/v1/anomalies/{flags[0].id}", headers=api.as_(Role.VIEWER))
    ).json()

    expected = [
        {"feature": "log_value_ether", "contribution": 7.5},
        {"feature": "log_gas_price_gwei", "contribution": -1.25},
    ]
    assert [item["contributions"] for item in page["anomalies"]] == [expected, None]
    assert single["contributions"] == expected


async def test_a_transaction_without_predictions_lists_none(api: Api) -> None:
    tx = a_transaction()
    async with api.container.services.uow() as uow:
        await uow.transactions.add_many([tx])
        await uow.commit()

    body = (
        await api.client.get(f"/api/v1/transactions/{tx.hash}", headers=api.as_(Role.VIEWER))
    ).json()

    assert body["predictions"] == []


async def test_the_openapi_document_declares_contributions(api: Api) -> None:
    schema = (await api.client.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]

    declared = {
        name
        for name, component in components.items()
        if "contributions" in component.get("properties", {})
    }
    contribution = next(c for n, c in components.items() if n.endswith("ContributionOut"))

    assert len(declared) >= 3  # anomalies, stored predictions, /predict answers
    assert set(contribution["required"]) == {"feature", "contribution"}
