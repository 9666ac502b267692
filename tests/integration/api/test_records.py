"""``/api/v1/predictions``, ``/api/v1/audit-logs`` and ``/api/v1/metrics/system``."""

from __future__ import annotations

from domain.model import Role
from tests.builders import a_metric, at, stored_predictions
from tests.integration.api.conftest import Api
from tests.integration.api.data import stored_version


async def test_predictions_are_listed_newest_first_and_by_transaction(api: Api) -> None:
    version = await stored_version(api.container)
    predictions = await stored_predictions(api.container.services.uow, version, 3)
    everything = await api.client.get("/api/v1/predictions?limit=2", headers=api.as_(Role.VIEWER))
    body = everything.json()
    assert len(body["predictions"]) == 2
    assert body["next_cursor"] is not None
    target = predictions[1]
    one = await api.client.get(
        f"/api/v1/predictions?transaction={target.transaction_hash}", headers=api.as_(Role.VIEWER)
    )
    (item,) = one.json()["predictions"]
    assert (item["id"], item["score"], item["is_anomaly"]) == (str(target.id), 0.75, True)
    assert item["model_version_id"] == str(version.id)


async def test_the_audit_log_is_filtered_by_user_action_and_outcome(api: Api) -> None:
    admin = api.as_(Role.ADMIN)
    await api.client.post(
        "/api/v1/users", json={"username": "fay", "role": "viewer"}, headers=admin
    )
    await api.client.post(
        "/api/v1/users", json={"username": "fay", "role": "viewer"}, headers=admin
    )
    by_action = await api.client.get("/api/v1/audit-logs?action=user.create", headers=admin)
    outcomes = [
        (row["outcome"], row["details"].get("status")) for row in by_action.json()["audit_logs"]
    ]
    assert outcomes[:2] == [("failure", 409), ("success", None)]  # then the fixture's users
    failed = await api.client.get("/api/v1/audit-logs?outcome=failure", headers=admin)
    assert [row["action"] for row in failed.json()["audit_logs"]] == ["user.create"]
    bad = await api.client.get("/api/v1/audit-logs?outcome=maybe", headers=admin)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "outcome" in bad.text
    admin_id = str(api.users[Role.ADMIN].id)
    for user in (admin_id, "admin-user"):
        rows = (await api.client.get(f"/api/v1/audit-logs?user={user}", headers=admin)).json()
        assert {row["user_id"] for row in rows["audit_logs"]} == {admin_id}
    nobody = await api.client.get("/api/v1/audit-logs?user=nobody", headers=admin)
    assert nobody.json()["audit_logs"] == []


async def test_system_metrics_are_listed_by_name_and_time(api: Api) -> None:
    metrics = [a_metric(name="ingest.rows", recorded_at=at(i), value=float(i)) for i in range(3)]
    async with api.container.services.uow() as uow:
        await uow.metrics.append_many([*metrics, a_metric(name="other")])
        await uow.commit()
    since = at(1).isoformat().replace("+", "%2B")
    response = await api.client.get(
        f"/api/v1/metrics/system?name=ingest.rows&since={since}", headers=api.as_(Role.VIEWER)
    )
    assert [m["value"] for m in response.json()["metrics"]] == [2.0, 1.0]
