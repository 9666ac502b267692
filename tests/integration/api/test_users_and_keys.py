"""``/api/v1/users`` and ``/api/v1/api-keys``: the secret is shown once, keys are owned."""

from __future__ import annotations

import uuid

from domain.model import Role
from domain.pagination import PageRequest
from domain.services.api_key_format import split_key
from domain.services.auth import authenticate
from ports.repositories import AuditFilter
from tests.integration.api.conftest import Api


async def test_an_admin_creates_a_user_and_issues_it_a_working_key(api: Api) -> None:
    created = await api.client.post(
        "/api/v1/users",
        json={"username": "Dora", "role": "analyst", "email": "dora@example.org"},
        headers=api.as_(Role.ADMIN),
    )
    assert created.status_code == 201
    user = created.json()
    assert (user["username"], user["role"], user["active"]) == ("dora", "analyst", True)
    issued = await api.client.post(
        "/api/v1/api-keys",
        json={"name": "dora's laptop", "user_id": user["id"]},
        headers=api.as_(Role.ADMIN),
    )
    assert issued.status_code == 201
    key = issued.json()["key"]
    assert key.startswith(issued.json()["prefix"] + "_")
    principal = await authenticate(api.container.services, key)
    assert (principal.username, principal.role) == ("dora", Role.ANALYST)
    listed = await api.client.get(
        f"/api/v1/api-keys?user={user['id']}", headers=api.as_(Role.ADMIN)
    )
    assert key not in listed.text
    assert [k["prefix"] for k in listed.json()["api_keys"]] == [issued.json()["prefix"]]


async def test_the_secret_is_never_stored_nor_audited(api: Api) -> None:
    issued = await api.client.post("/api/v1/api-keys", json={}, headers=api.as_(Role.VIEWER))
    key = issued.json()["key"]
    parts = split_key(key)
    assert parts is not None
    secret = parts.secret
    async with api.container.services.uow() as uow:
        stored = await uow.api_keys.get(uuid.UUID(issued.json()["id"]))
        audit = (await uow.audit.query(AuditFilter(), PageRequest(1000))).items
    assert secret not in stored.digest
    assert all(secret not in str(entry.details) for entry in audit)
    assert any(entry.action == "api_key.issue" for entry in audit)


async def test_a_taken_username_is_a_409_and_a_bad_one_a_422(api: Api) -> None:
    taken = await api.client.post(
        "/api/v1/users",
        json={"username": "admin-user", "role": "viewer"},
        headers=api.as_(Role.ADMIN),
    )
    assert taken.status_code == 409
    for body, field in [
        ({"username": "no spaces", "role": "viewer"}, "username"),
        ({"username": "ok", "role": "root"}, "role"),
        ({"username": "ok", "role": "viewer", "password": "short"}, "password"),
        ({"role": "viewer"}, "username"),
    ]:
        response = await api.client.post("/api/v1/users", json=body, headers=api.as_(Role.ADMIN))
        assert response.status_code == 422, body
        assert response.json()["field"] == field, body


async def test_a_password_is_kept_only_as_an_argon2_hash(api: Api) -> None:
    password = "correct horse battery staple"
    created = await api.client.post(
        "/api/v1/users",
        json={"username": "erin", "role": "viewer", "password": password},
        headers=api.as_(Role.ADMIN),
    )
    assert password not in created.text
    async with api.container.services.uow() as uow:
        stored = await uow.users.get(uuid.UUID(created.json()["id"]))
    assert stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert api.container.services.passwords.verify(stored.password_hash, password)


async def test_users_are_listed_and_roles_changed_but_the_last_admin_stays(api: Api) -> None:
    listed = await api.client.get("/api/v1/users", headers=api.as_(Role.ADMIN))
    assert [u["username"] for u in listed.json()["users"]] == sorted(
        f"{role.value}-user" for role in Role
    )
    admin = api.users[Role.ADMIN]
    demote = await api.client.patch(
        f"/api/v1/users/{admin.id}", json={"role": "viewer"}, headers=api.as_(Role.ADMIN)
    )
    assert demote.status_code == 409
    viewer = api.users[Role.VIEWER]
    promote = await api.client.patch(
        f"/api/v1/users/{viewer.id}", json={"role": "analyst"}, headers=api.as_(Role.ADMIN)
    )
    assert promote.json()["role"] == "analyst"
    unknown = await api.client.patch(
        f"/api/v1/users/{uuid.uuid4()}", json={"active": False}, headers=api.as_(Role.ADMIN)
    )
    assert unknown.status_code == 404


async def test_non_admins_manage_only_their_own_keys(api: Api) -> None:
    analyst = api.as_(Role.ANALYST)
    others = await api.client.get(
        f"/api/v1/api-keys?user={api.users[Role.VIEWER].id}", headers=analyst
    )
    assert others.status_code == 403
    for_other = await api.client.post(
        "/api/v1/api-keys", json={"user_id": str(api.users[Role.VIEWER].id)}, headers=analyst
    )
    assert for_other.status_code == 403
    viewer_keys = (await api.client.get("/api/v1/api-keys", headers=api.as_(Role.VIEWER))).json()
    (viewer_key,) = viewer_keys["api_keys"]
    steal = await api.client.delete(f"/api/v1/api-keys/{viewer_key['id']}", headers=analyst)
    assert steal.status_code == 404
    own = (await api.client.get("/api/v1/api-keys", headers=analyst)).json()["api_keys"]
    assert [k["user_id"] for k in own] == [str(api.users[Role.ANALYST].id)]


async def test_an_expiry_in_the_past_is_a_422(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/api-keys",
        json={"expires_at": "2000-01-01T00:00:00Z"},
        headers=api.as_(Role.VIEWER),
    )
    assert response.status_code == 422
    assert response.json()["field"] == "expires_at"
