"""``/predict`` and ``/predict/batch``: scored, stored, answered after commit; resubmitting
is idempotent; bad input is refused naming the field, and a refused batch writes nothing;
each successful request leaves one success audit row (who, what, from where), replays too."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from domain.model import AuditLog, Outcome, Role
from domain.pagination import PageRequest
from ports import AuditFilter
from tests.integration.api.conftest import CLIENT_IP, Api
from tests.integration.api.serving import serving_model

SENDER, RECIPIENT = "0x" + "12" * 20, "0x" + "34" * 20


def old_shape(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hash": "0x" + secrets.token_hex(32),
        "from": SENDER,
        "to": RECIPIENT,
        "value": str(2**200 + 1),
        "gas": 21000,
        "gasPrice": "30000000000",
        "blockNumber": 18000000,
        "timestamp": "2024-01-01T00:00:00Z",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def served(api: Api) -> Api:
    await serving_model(api.container)
    return api


async def stored(api: Api, hashes: list[str]) -> tuple[int, int]:
    """How many of ``hashes`` are stored, and how many served predictions they have."""
    async with api.container.services.uow() as uow:
        transactions = await uow.transactions.get_many(hashes)
        predictions = await uow.predictions.served_for(hashes)
    return len(transactions), len(predictions)


async def test_one_transaction_is_scored_stored_and_answered_with_the_old_fields(
    served: Api,
) -> None:
    body = old_shape()
    response = await served.client.post(
        "/api/v1/predict", json=body, headers=served.as_(Role.SERVICE)
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["hash"] == body["hash"]
    assert answer["model_version"] == "forest:1"
    assert isinstance(answer["anomaly_score"], float)
    assert answer["severity"] is None or answer["is_anomaly"]
    assert answer["timestamp"].startswith("2024-01-01T00:00:00")
    assert answer["replayed"] is False
    async with served.container.services.uow() as uow:
        tx = (await uow.transactions.get_many([body["hash"]]))[body["hash"]]
        prediction = (await uow.predictions.served_for([body["hash"]]))[body["hash"]]
    assert tx.value == 2**200 + 1
    assert str(prediction.id) == answer["prediction_id"]


async def test_etherscan_rows_and_json_rpc_objects_are_accepted_too(served: Api) -> None:
    etherscan: dict[str, Any] = {
        "hash": "0x" + secrets.token_hex(32),
        "from": SENDER,
        "to": "",
        "value": "1000000000000000000",
        "gas": "90000",
        "gasPrice": "20000000000",
        "gasUsed": "21000",
        "timeStamp": "1704067200",
        "blockNumber": "18000000",
        "input": "0xabcd",
    }
    rpc: dict[str, Any] = {
        "hash": "0x" + secrets.token_hex(32),
        "from": SENDER,
        "to": None,
        "value": "0xde0b6b3a7640000",
        "gas": "0x5208",
        "gasPrice": "0x4a817c800",
        "blockNumber": None,
        "input": "0x",
    }
    for body in (etherscan, rpc):
        response = await served.client.post(
            "/api/v1/predict", json=body, headers=served.as_(Role.ADMIN)
        )
        assert response.status_code == 200, response.text
    async with served.container.services.uow() as uow:
        found = await uow.transactions.get_many([etherscan["hash"], rpc["hash"]])
    assert found[etherscan["hash"]].value == 10**18
    assert found[etherscan["hash"]].to_address is None
    assert found[rpc["hash"]].gas == 21000
    assert found[rpc["hash"]].gas_price == 20 * 10**9


async def test_resubmitting_a_transaction_answers_the_stored_prediction_without_duplicates(
    served: Api,
) -> None:
    body = old_shape()
    first = await served.client.post("/api/v1/predict", json=body, headers=served.as_(Role.SERVICE))
    again = await served.client.post("/api/v1/predict", json=body, headers=served.as_(Role.SERVICE))
    batch = await served.client.post(
        "/api/v1/predict/batch",
        json={"transactions": [body, body]},
        headers=served.as_(Role.SERVICE),
    )
    assert again.json()["prediction_id"] == first.json()["prediction_id"]
    assert again.json()["replayed"] is True
    assert {p["prediction_id"] for p in batch.json()["predictions"]} == {
        first.json()["prediction_id"]
    }
    assert await stored(served, [body["hash"]]) == (1, 1)


async def test_a_batch_is_scored_in_one_go_with_totals(served: Api) -> None:
    bodies = [old_shape() for _ in range(5)]
    response = await served.client.post(
        "/api/v1/predict/batch", json={"transactions": bodies}, headers=served.as_(Role.SERVICE)
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["total_processed"] == 5
    assert [p["hash"] for p in answer["predictions"]] == [b["hash"] for b in bodies]
    assert answer["anomalies_detected"] == sum(p["is_anomaly"] for p in answer["predictions"])
    assert answer["processing_time_ms"] >= 0
    assert await stored(served, [b["hash"] for b in bodies]) == (5, 5)


async def audit_rows(api: Api, role: Role) -> list[AuditLog]:
    """The audit trail of the user with ``role``, oldest first."""
    async with api.container.services.uow() as uow:
        page = await uow.audit.query(AuditFilter(user_id=api.users[role].id), PageRequest())
    return page.items[::-1]


async def test_each_single_prediction_is_audited_with_caller_ip_and_request_id_replays_too(
    served: Api,
) -> None:
    body = old_shape()
    answers = []
    for request_id in ("first-call", "second-call"):
        response = await served.client.post(
            "/api/v1/predict",
            json=body,
            headers={**served.as_(Role.SERVICE), "X-Request-ID": request_id},
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    rows = await audit_rows(served, Role.SERVICE)
    assert [(r.action, r.resource, r.outcome, r.ip) for r in rows] == [
        ("transaction.predict", f"transactions/{body['hash']}", Outcome.SUCCESS, CLIENT_IP)
    ] * 2
    assert [r.details for r in rows] == [
        {
            "via": "api",
            "request_id": "first-call",
            "replayed": False,
            "prediction_id": answers[0]["prediction_id"],
        },
        {
            "via": "api",
            "request_id": "second-call",
            "replayed": True,
            "prediction_id": answers[0]["prediction_id"],
        },
    ]


async def test_a_batch_is_audited_once_with_its_counts(served: Api) -> None:
    bodies = [old_shape() for _ in range(3)]
    response = await served.client.post(
        "/api/v1/predict/batch",
        json={"transactions": [*bodies, bodies[0]]},
        headers={**served.as_(Role.SERVICE), "X-Request-ID": "batch-call"},
    )
    assert response.status_code == 200, response.text
    (row,) = await audit_rows(served, Role.SERVICE)
    assert (row.action, row.resource, row.outcome, row.ip) == (
        "transaction.predict_batch",
        "transactions",
        Outcome.SUCCESS,
        CLIENT_IP,
    )
    assert row.details == {
        "via": "api",
        "request_id": "batch-call",
        "count": 4,
        "anomalies": response.json()["anomalies_detected"],
        "replayed": 1,
    }


async def test_an_invalid_transaction_refuses_the_whole_batch_naming_it(served: Api) -> None:
    bodies = [old_shape() for _ in range(4)]
    bodies[3]["gasPrice"] = "12.5"
    response = await served.client.post(
        "/api/v1/predict/batch", json={"transactions": bodies}, headers=served.as_(Role.SERVICE)
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == "transactions[3].gasPrice"
    assert await stored(served, [b["hash"] for b in bodies]) == (0, 0)
    (row,) = await audit_rows(served, Role.SERVICE)
    assert (row.action, row.outcome, row.ip) == (
        "transaction.predict_batch",
        Outcome.FAILURE,
        CLIENT_IP,
    )
    assert row.details["status"] == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"transactions": []}, "transactions"),
        ({"transactions": [old_shape(hash="0x12")]}, "transactions[0].hash"),
        ({"items": []}, "items"),
    ],
)
async def test_an_empty_or_malformed_batch_is_refused(
    served: Api, body: dict[str, Any], field: str
) -> None:
    response = await served.client.post(
        "/api/v1/predict/batch", json=body, headers=served.as_(Role.SERVICE)
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"value": 1.5}, "value"),
        ({"hash": "0xnothex"}, "hash"),
        ({"timestamp": "2024-01-01T00:00:00"}, "timestamp"),
        ({"gas": -1}, "gas"),
    ],
)
async def test_an_invalid_transaction_is_refused_naming_the_field_and_nothing_is_stored(
    served: Api, change: dict[str, Any], field: str
) -> None:
    body = old_shape(**change)
    response = await served.client.post(
        "/api/v1/predict", json=body, headers=served.as_(Role.SERVICE)
    )
    assert response.status_code == 422
    assert response.json()["field"] == field
    async with served.container.services.uow() as uow:
        assert await uow.predictions.served_for([str(body["hash"])]) == {}


async def test_malformed_json_is_a_400(served: Api) -> None:
    response = await served.client.post(
        "/api/v1/predict",
        content=b'{"hash": ',
        headers={**served.as_(Role.SERVICE), "content-type": "application/json"},
    )
    assert response.status_code == 400


async def test_without_an_active_model_predict_answers_503_with_retry_after(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/predict", json=old_shape(), headers=api.as_(Role.SERVICE)
    )
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert "active model" in response.json()["detail"]
