"""``/api/v1/anomalies``: the old record fields, filters, keyset pages, reviews."""

from __future__ import annotations

import uuid

from domain.model import Outcome, Role, Severity
from domain.pagination import PageRequest
from domain.services import queries
from ports.repositories import AnomalyFilter, AuditFilter
from tests.builders import at
from tests.integration.api.conftest import Api
from tests.integration.api.data import stored_flags, stored_version

OLD_RECORD_FIELDS = {
    "hash", "value", "gas", "gasPrice", "from_address", "to_address", "timestamp",
    "detected_at", "severity",
}  # fmt: skip


async def test_anomalies_carry_the_old_record_fields_and_their_transactions_values(
    api: Api,
) -> None:
    version = await stored_version(api.container)
    (flag,) = await stored_flags(api.container, version, 1)
    response = await api.client.get("/api/v1/anomalies", headers=api.as_(Role.VIEWER))
    assert response.status_code == 200
    body = response.json()
    assert body["total_count"] == 1
    assert body["next_cursor"] is None
    (item,) = body["anomalies"]
    assert item.keys() >= OLD_RECORD_FIELDS
    tx = flag.transaction
    assert (item["hash"], item["value"], item["gas"], item["gasPrice"]) == (
        tx.hash,
        str(tx.value),
        tx.gas,
        str(tx.gas_price),
    )
    assert item["id"] == str(flag.anomaly.id)
    assert item["status"] == "open"
    assert item["model_version"].endswith(":1")
    single = await api.client.get(f"/api/v1/anomalies/{item['id']}", headers=api.as_(Role.VIEWER))
    assert single.json() == item


async def test_filters_combine_and_pages_follow_the_cursor_with_a_stable_total(api: Api) -> None:
    version = await stored_version(api.container)
    high = await stored_flags(api.container, version, 3, severity=Severity.HIGH)
    await stored_flags(api.container, version, 2, severity=Severity.LOW)
    critical = await stored_flags(api.container, version, 2, severity=Severity.CRITICAL)
    url = "/api/v1/anomalies?severity=high&severity=critical&limit=2"
    ids: list[str] = []
    cursor = None
    for _ in range(5):
        page = (
            await api.client.get(
                url + (f"&cursor={cursor}" if cursor else ""), headers=api.as_(Role.VIEWER)
            )
        ).json()
        assert page["total_count"] == 5
        ids += [item["id"] for item in page["anomalies"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert set(ids) == {str(f.anomaly.id) for f in high + critical}
    assert len(ids) == 5


async def test_the_total_stops_at_the_bound_unless_an_exact_count_is_asked_for(
    api: Api,
) -> None:
    version = await stored_version(api.container)
    await stored_flags(api.container, version, 4)
    everything = AnomalyFilter()
    page = PageRequest(2)
    services = api.container.services
    for bound, total, exact in ((3, 3, False), (4, 4, True), (10, 4, True)):
        listing = await queries.list_anomalies(services, everything, page, count_bound=bound)
        assert (listing.total_count, listing.total_exact) == (total, exact), bound
    asked = await queries.list_anomalies(
        services, everything, page, exact_count=True, count_bound=3
    )
    assert (asked.total_count, asked.total_exact) == (4, True)

    for query in ("", "&count=bounded", "&count=exact"):
        body = (
            await api.client.get(f"/api/v1/anomalies?limit=2{query}", headers=api.as_(Role.VIEWER))
        ).json()
        assert (body["total_count"], body["total_count_exact"]) == (4, True), query
    wrong = await api.client.get("/api/v1/anomalies?count=all", headers=api.as_(Role.VIEWER))
    assert wrong.status_code == 422, wrong.text
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["field"] == "count"


async def test_status_time_and_model_version_filters(api: Api) -> None:
    version = await stored_version(api.container)
    flags = await stored_flags(api.container, version, 4)
    window = f"since={at(1).isoformat()}&until={at(3).isoformat()}".replace("+", "%2B")
    in_window = await api.client.get(f"/api/v1/anomalies?{window}", headers=api.as_(Role.VIEWER))
    assert {item["id"] for item in in_window.json()["anomalies"]} == {
        str(flags[1].anomaly.id),
        str(flags[2].anomaly.id),
    }
    for reference in (str(version.id), (await _tag(api, version.id))):
        by_version = await api.client.get(
            f"/api/v1/anomalies?model_version={reference}&status=open", headers=api.as_(Role.VIEWER)
        )
        assert by_version.json()["total_count"] == 4
    reviewed = await api.client.get(
        "/api/v1/anomalies?status=confirmed", headers=api.as_(Role.VIEWER)
    )
    assert reviewed.json()["total_count"] == 0


async def _tag(api: Api, version_id: uuid.UUID) -> str:
    async with api.container.services.uow() as uow:
        version = await uow.models.get_version_by_id(version_id)
        model = next(m for m in await uow.models.list_models() if m.id == version.model_id)
    return f"{model.name}:{version.version}"


async def test_bad_filters_are_422s_naming_the_parameter(api: Api) -> None:
    for query, field in [
        ("severity=extreme", "severity"),
        ("status=closed", "status"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("model_version=nonsense", "model_version"),
    ]:
        response = await api.client.get(f"/api/v1/anomalies?{query}", headers=api.as_(Role.VIEWER))
        assert response.status_code == 422, query
        assert response.json()["field"] == field, query
    unknown_tag = await api.client.get(
        "/api/v1/anomalies?model_version=nothing:1", headers=api.as_(Role.VIEWER)
    )
    assert unknown_tag.status_code == 404


async def test_an_unknown_anomaly_is_a_404_and_a_malformed_id_a_422(api: Api) -> None:
    unknown = await api.client.get(
        f"/api/v1/anomalies/{uuid.uuid4()}", headers=api.as_(Role.VIEWER)
    )
    assert unknown.status_code == 404
    malformed = await api.client.get("/api/v1/anomalies/42", headers=api.as_(Role.VIEWER))
    assert malformed.status_code == 422
    assert malformed.json()["field"] == "anomaly_id"


async def test_a_review_updates_the_anomaly_labels_the_transaction_and_is_audited(
    api: Api,
) -> None:
    version = await stored_version(api.container)
    (flag,) = await stored_flags(api.container, version, 1)
    response = await api.client.patch(
        f"/api/v1/anomalies/{flag.anomaly.id}",
        json={"status": "confirmed", "note": "drainer"},
        headers=api.as_(Role.ANALYST),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["note"]) == ("confirmed", "drainer")
    assert body["reviewed_by"] == str(api.users[Role.ANALYST].id)
    tx = await api.client.get(
        f"/api/v1/transactions/{flag.transaction.hash}", headers=api.as_(Role.VIEWER)
    )
    assert tx.json()["label"]["label"] == "fraud"
    async with api.container.services.uow() as uow:
        rows = (await uow.audit.query(AuditFilter(action="anomaly.review"), PageRequest())).items
    assert [(row.outcome, row.ip) for row in rows] == [(Outcome.SUCCESS, "203.0.113.7")]


async def test_a_review_cannot_reopen_and_names_the_field(api: Api) -> None:
    version = await stored_version(api.container)
    (flag,) = await stored_flags(api.container, version, 1)
    for body, field in [({"status": "open"}, "status"), ({"status": "confirmed", "x": 1}, "x")]:
        response = await api.client.patch(
            f"/api/v1/anomalies/{flag.anomaly.id}", json=body, headers=api.as_(Role.ANALYST)
        )
        assert response.status_code == 422
        assert response.json()["field"] == field
