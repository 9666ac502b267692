"""Who may call what: 401 without a valid key, 403 for the wrong role, every refusal
audited - on every endpoint of the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from domain.model import Outcome, Role
from domain.pagination import PageRequest
from ports.repositories import AuditFilter, TimeRange
from tests.integration.api.conftest import CLIENT_IP, Api

HASH = "0x" + "ab" * 32
SOME_ID = str(uuid.uuid4())
READERS = {Role.ADMIN, Role.ANALYST, Role.VIEWER}
ADMIN = {Role.ADMIN}
ANALYSTS = {Role.ADMIN, Role.ANALYST}
PREDICTORS = {Role.ADMIN, Role.SERVICE}
T0, T1 = "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"
TX = {
    "hash": HASH,
    "from": "0x" + "12" * 20,
    "to": "0x" + "34" * 20,
    "value": "1000",
    "gas": 21000,
    "gasPrice": "1",
    "timestamp": T0,
}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    allowed: set[Role]
    body: dict[str, Any] | None = None


CALLS = [
    Call("GET", f"/api/v1/transactions/{HASH}", READERS),
    Call("GET", "/api/v1/transactions", READERS),
    Call("PUT", f"/api/v1/transactions/{HASH}/label", ANALYSTS, {"label": "fraud", "source": "t"}),
    Call("GET", "/api/v1/anomalies", READERS),
    Call("GET", f"/api/v1/anomalies/{SOME_ID}", READERS),
    Call("PATCH", f"/api/v1/anomalies/{SOME_ID}", ANALYSTS, {"status": "confirmed"}),
    Call("GET", "/api/v1/predictions", READERS),
    Call("POST", "/api/v1/users", ADMIN, {"username": "someone", "role": "viewer"}),
    Call("GET", "/api/v1/users", ADMIN),
    Call("PATCH", f"/api/v1/users/{SOME_ID}", ADMIN, {"active": True}),
    Call("POST", "/api/v1/api-keys", READERS, {"name": "laptop"}),
    Call("GET", "/api/v1/api-keys", READERS),
    Call("DELETE", f"/api/v1/api-keys/{SOME_ID}", READERS),
    Call("GET", "/api/v1/audit-logs", ADMIN),
    Call("GET", "/api/v1/metrics/system", READERS),
    Call("POST", "/api/v1/predict", PREDICTORS, TX),
    Call("POST", "/api/v1/predict/batch", PREDICTORS, {"transactions": [TX]}),
    Call("POST", "/api/v1/models", ADMIN, {"name": "m", "algorithm": "iforest"}),
    Call("GET", "/api/v1/models", READERS),
    Call("GET", "/api/v1/models/m", READERS),
    Call("GET", "/api/v1/models/m/versions", READERS),
    Call("POST", "/api/v1/models/m/versions", ADMIN, {"since": T0, "until": T1}),
    Call("GET", f"/api/v1/models/m/jobs/{SOME_ID}", READERS),
    Call("PATCH", "/api/v1/models/m/versions/1", ADMIN, {"status": "retired"}),
]
WRONG_KEYS = ["", "not-a-key", "cw_0123456789ab_" + "x" * 43, "Bearer something"]


async def send(api: Api, call: Call, headers: dict[str, str]) -> int:
    response = await api.client.request(call.method, call.path, json=call.body, headers=headers)
    if response.status_code in (401, 403):
        assert response.headers["content-type"].startswith("application/problem+json")
    return response.status_code


async def test_each_role_reaches_exactly_the_endpoints_it_is_granted(api: Api) -> None:
    wrong = []
    for call in CALLS:
        for role in Role:
            status = await send(api, call, api.as_(role))
            refused = status == 403
            if refused == (role in call.allowed) or status == 401:
                wrong.append(f"{role.value} {call.method} {call.path}: {status}")
    assert not wrong, "\n".join(wrong)


async def test_every_endpoint_answers_401_without_a_valid_key(api: Api) -> None:
    wrong = []
    for call in CALLS:
        statuses = [await send(api, call, {})]
        statuses += [await send(api, call, {"X-API-Key": key}) for key in WRONG_KEYS[1:]]
        if set(statuses) != {401}:
            wrong.append(f"{call.method} {call.path}: {statuses}")
    assert not wrong, "\n".join(wrong)


async def test_refusals_are_audited_as_denied_with_the_callers_address(api: Api) -> None:
    await api.client.get("/api/v1/users")
    await api.client.get("/api/v1/users", headers={"X-API-Key": WRONG_KEYS[2]})
    await api.client.get("/api/v1/users", headers=api.as_(Role.VIEWER))
    async with api.container.services.uow() as uow:
        page = await uow.audit.query(AuditFilter(period=TimeRange()), PageRequest(100))
    denied = [entry for entry in page.items if entry.outcome is Outcome.DENIED]
    # Failed authentications: one row per address and minute, with their count.
    assert sorted(entry.action for entry in denied) == ["auth.authenticate", "auth.authorise"]
    assert all(entry.resource == "users" and entry.ip == CLIENT_IP for entry in denied)
    forbidden = next(entry for entry in denied if entry.action == "auth.authorise")
    assert forbidden.user_id == api.users[Role.VIEWER].id
    assert forbidden.details["permission"] == "manage-users"
    failed = next(entry for entry in denied if entry.action == "auth.authenticate")
    assert failed.details["count"] == 2
    assert failed.details["key_prefixes"] == ["cw_0123456789ab"]
    assert failed.details["reasons"] == {
        "an API key is required in the X-API-Key header": 1,
        "the API key is not valid": 1,
    }
    assert all("x" * 43 not in str(entry.details) for entry in page.items)


async def test_a_revoked_key_stops_working_at_once(api: Api) -> None:
    headers = api.as_(Role.VIEWER)
    keys = (await api.client.get("/api/v1/api-keys", headers=headers)).json()["api_keys"]
    (own,) = keys
    response = await api.client.delete(f"/api/v1/api-keys/{own['id']}", headers=headers)
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    refused = await api.client.get("/api/v1/transactions", headers=headers)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


async def test_deactivating_a_user_locks_out_all_their_keys(api: Api) -> None:
    viewer = api.users[Role.VIEWER]
    response = await api.client.patch(
        f"/api/v1/users/{viewer.id}", json={"active": False}, headers=api.as_(Role.ADMIN)
    )
    assert response.status_code == 200
    assert response.json()["active"] is False
    refused = await api.client.get("/api/v1/transactions", headers=api.as_(Role.VIEWER))
    assert refused.status_code == 401
    assert "deactivated" in refused.json()["detail"]


async def test_an_expired_key_is_refused(api: Api) -> None:
    expiry = api.clock.now() + timedelta(hours=1)
    issued = await api.client.post(
        "/api/v1/api-keys", json={"expires_at": expiry.isoformat()}, headers=api.as_(Role.ANALYST)
    )
    assert issued.status_code == 201
    headers = {"X-API-Key": issued.json()["key"]}
    assert (await api.client.get("/api/v1/anomalies", headers=headers)).status_code == 200
    api.clock.advance(timedelta(hours=2))
    refused = await api.client.get("/api/v1/anomalies", headers=headers)
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
