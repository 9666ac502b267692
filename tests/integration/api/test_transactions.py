"""``/api/v1/transactions``: exact amounts, listings by address and time, labels."""

from __future__ import annotations

from domain.model import Outcome, Role
from domain.pagination import PageRequest
from domain.values import UINT256_MAX
from ports.repositories import AuditFilter
from tests.builders import a_transaction, at, random_address, stored_transactions
from tests.integration.api.conftest import Api


async def test_a_transaction_comes_back_with_exact_wei_amounts_as_decimal_strings(api: Api) -> None:
    (tx,) = await stored_transactions(
        api.container.services.uow, a_transaction(value=UINT256_MAX, gas_price=UINT256_MAX - 1)
    )
    response = await api.client.get(
        f"/api/v1/transactions/{tx.hash.upper().replace('0X', '0x')}", headers=api.as_(Role.VIEWER)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["value"] == str(UINT256_MAX)
    assert body["gas_price"] == str(UINT256_MAX - 1)
    assert (body["hash"], body["from_address"], body["gas"]) == (tx.hash, tx.from_address, tx.gas)
    assert body["timestamp"] == "2024-05-01T12:00:00Z"
    assert body["label"] is None


async def test_an_unknown_transaction_is_a_404_and_a_malformed_hash_a_422(api: Api) -> None:
    unknown = await api.client.get(
        "/api/v1/transactions/0x" + "0" * 64, headers=api.as_(Role.VIEWER)
    )
    assert unknown.status_code == 404
    malformed = await api.client.get("/api/v1/transactions/0x1234", headers=api.as_(Role.VIEWER))
    assert malformed.status_code == 422
    assert malformed.json()["field"] == "tx_hash"


async def test_transactions_of_an_address_come_newest_first_in_keyset_pages(api: Api) -> None:
    address = random_address()
    mine = [a_transaction(from_address=address, timestamp=at(i)) for i in range(3)]
    mine.append(a_transaction(to_address=address, timestamp=at(3)))
    await stored_transactions(api.container.services.uow, *mine, a_transaction(timestamp=at(10)))
    seen: list[str] = []
    url = f"/api/v1/transactions?address={address}&limit=3"
    first = (await api.client.get(url, headers=api.as_(Role.ANALYST))).json()
    seen += [tx["hash"] for tx in first["transactions"]]
    second = (
        await api.client.get(url + f"&cursor={first['next_cursor']}", headers=api.as_(Role.ANALYST))
    ).json()
    seen += [tx["hash"] for tx in second["transactions"]]
    assert second["next_cursor"] is None
    assert seen == [tx.hash for tx in reversed(mine)]


async def test_a_time_window_without_a_zone_is_refused_naming_the_parameter(api: Api) -> None:
    response = await api.client.get(
        "/api/v1/transactions?since=2024-05-01T00:00:00", headers=api.as_(Role.VIEWER)
    )
    assert response.status_code == 422
    assert response.json()["field"] == "since"


async def test_labelling_stores_the_label_and_its_audit_row_together(api: Api) -> None:
    (tx,) = await stored_transactions(api.container.services.uow, a_transaction())
    response = await api.client.put(
        f"/api/v1/transactions/{tx.hash}/label",
        json={"label": "fraud", "source": "chainalysis", "note": "reported"},
        headers=api.as_(Role.ANALYST),
    )
    assert response.status_code == 200
    assert response.json()["label"] == "fraud"
    assert response.json()["created_by"] == str(api.users[Role.ANALYST].id)
    shown = await api.client.get(f"/api/v1/transactions/{tx.hash}", headers=api.as_(Role.VIEWER))
    assert shown.json()["label"]["label"] == "fraud"
    async with api.container.services.uow() as uow:
        rows = (await uow.audit.query(AuditFilter(action="transaction.label"), PageRequest())).items
    (row,) = rows
    assert (row.outcome, row.user_id, row.ip) == (
        Outcome.SUCCESS,
        api.users[Role.ANALYST].id,
        "203.0.113.7",
    )


async def test_a_label_for_an_unknown_transaction_is_a_404_and_is_audited_as_failed(
    api: Api,
) -> None:
    response = await api.client.put(
        "/api/v1/transactions/0x" + "1" * 64 + "/label",
        json={"label": "legitimate", "source": "analyst"},
        headers=api.as_(Role.ANALYST),
    )
    assert response.status_code == 404
    async with api.container.services.uow() as uow:
        rows = (await uow.audit.query(AuditFilter(action="transaction.label"), PageRequest())).items
    assert [(row.outcome, row.details["status"]) for row in rows] == [(Outcome.FAILURE, 404)]


async def test_an_unknown_label_value_is_a_422_naming_the_field(api: Api) -> None:
    response = await api.client.put(
        "/api/v1/transactions/0x" + "1" * 64 + "/label",
        json={"label": "suspicious", "source": "analyst"},
        headers=api.as_(Role.ANALYST),
    )
    assert response.status_code == 422
    assert response.json()["field"] == "label"
