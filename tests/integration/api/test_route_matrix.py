"""Role x route matrix, generated from the app's own route table: every route and method
is called with no key, a malformed key, an unknown key, a known prefix with a wrong
secret, a revoked key, an expired key, a deactivated user's key, and each role's key.

The bad keys must answer 401, a role without the route's declared permission 403, and a
role with it anything but 401/403 (the requests carry no body or query, so a permitted
caller mostly gets a 400/404/422 - the guard has let it through). Refusals are
problem+json. A route that declares no permission fails the test unless it is listed in
``PUBLIC_ROUTES``, so a new route is covered (or caught) without editing this file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from litestar import Litestar, get
from litestar.routes import HTTPRoute

from domain.model import Role
from domain.services.auth import GRANTS, Permission
from domain.services.users import create_user, issue_api_key, revoke_api_key, update_user
from entrypoints.http.security import API_KEY_HEADER, PERMISSION_OPT
from entrypoints.web.console import CONSOLE_OPT
from tests.integration.api.conftest import Api

# Paths (Litestar's templates) that answer without an API key, on purpose.
PUBLIC_ROUTES = frozenset(
    {
        "/health",
        "/health/live",
        "/ready",
        "/health/ready",
        "/metrics",
        "/schema",
        "/schema/openapi.json",
        "/schema/{path:str}",
    }
)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    """Litestar's path template, e.g. ``/api/v1/users/{user_id:str}``."""
    url: str
    """The template with a placeholder for each path parameter."""
    permission: Permission | None


@dataclass(frozen=True)
class RouteTable:
    routes: list[Route]
    undeclared: list[str]
    """``METHOD template`` of routes with no permission that are not public."""


def route_table(app: Litestar, public: Iterable[str] = PUBLIC_ROUTES) -> RouteTable:
    """Every (method, route) of ``app`` but Litestar's automatic OPTIONS answers."""
    routes, undeclared = [], []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        url = route.path_format.format(
            **{
                name: "1" if definition.type is int else str(uuid.uuid4())
                for name, definition in route.path_parameters.items()
            }
        )
        for handler in route.route_handlers:
            if handler.http_methods == {"OPTIONS"} or handler.opt.get(CONSOLE_OPT):
                continue  # the console's routes answer to sessions: see test_console.py
            permission = handler.opt.get(PERMISSION_OPT)
            for method in sorted(handler.http_methods):
                routes.append(Route(method, route.path, url, permission))
                if not isinstance(permission, Permission) and route.path not in public:
                    undeclared.append(f"{method} {route.path}")
    return RouteTable(sorted(routes, key=lambda r: (r.template, r.method)), undeclared)


async def bad_keys(api: Api) -> dict[str, str | None]:
    """Keys that must not authenticate, by what is wrong with them (``None``: no header)."""
    services = api.container.services
    admin = api.users[Role.ADMIN]
    revoked = await issue_api_key(services, owner_id=admin.id, actor=None)
    await revoke_api_key(services, revoked.key.id, actor=None)
    expiring = await issue_api_key(
        services,
        owner_id=admin.id,
        expires_at=services.clock.now() + timedelta(minutes=1),
        actor=None,
    )
    api.clock.advance(timedelta(minutes=2))
    former = await create_user(services, username="former-admin", role=Role.ADMIN, actor=None)
    former_key = await issue_api_key(services, owner_id=former.id, actor=None)
    await update_user(services, former.id, active=False, actor=None)
    viewer_token = api.keys[Role.VIEWER]
    return {
        "no key": None,
        "empty key": "",
        "malformed key": "not-a-key",
        "bearer token": "Bearer " + viewer_token,
        "unknown key": "cw_0123456789ab_" + "x" * 43,
        "wrong secret": viewer_token[: viewer_token.rindex("_") + 1] + "y" * 43,
        "revoked key": revoked.token,
        "expired key": expiring.token,
        "deactivated user": former_key.token,
    }


async def status_of(api: Api, route: Route, key: str | None) -> tuple[int, str]:
    headers = {} if key is None else {API_KEY_HEADER: key}
    response = await api.client.request(route.method, route.url, headers=headers)
    return response.status_code, response.headers.get("content-type", "")


async def test_every_route_refuses_bad_keys_and_roles_without_its_permission(api: Api) -> None:
    table = route_table(api.app)
    assert not table.undeclared, f"routes without a permission, not public: {table.undeclared}"
    protected = [route for route in table.routes if route.permission is not None]
    assert len(protected) >= 25, "the route table lost its API routes"
    callers = await bad_keys(api)
    wrong: list[str] = []
    checked = 0
    for route in protected:
        # Each route's bad keys in a minute of their own: 25 routes x 9 bad keys from one
        # address would pass the failed-authentication limit (tested in test_rate_limits).
        api.clock.advance(timedelta(minutes=1))
        for name, key in callers.items():
            status, media = await status_of(api, route, key)
            checked += 1
            if status != 401 or not media.startswith("application/problem+json"):
                wrong.append(f"{name}: {route.method} {route.template} -> {status} {media}")
        for role in Role:
            status, media = await status_of(api, route, api.keys[role])
            checked += 1
            granted = route.permission in GRANTS[role]
            if granted and status in (401, 403):
                wrong.append(f"{role.value} (granted): {route.method} {route.template} -> {status}")
            if not granted and (status != 403 or not media.startswith("application/problem+json")):
                wrong.append(f"{role.value} (refused): {route.method} {route.template} -> {status}")
    assert not wrong, "\n".join(wrong)
    assert checked == len(protected) * (len(callers) + len(Role))


async def test_public_routes_answer_without_a_key(api: Api) -> None:
    public = [route for route in route_table(api.app).routes if route.permission is None]
    assert {route.template for route in public} <= PUBLIC_ROUTES
    for route in public:
        status, _ = await status_of(api, route, None)
        assert status not in (401, 403), f"{route.method} {route.template} -> {status}"


def test_a_route_declaring_no_permission_is_caught() -> None:
    @get("/api/v1/forgotten", sync_to_thread=False)
    def forgotten() -> str:
        return "open to anyone"

    @get("/health", sync_to_thread=False)
    def health() -> str:
        return "ok"

    table = route_table(Litestar([forgotten, health], openapi_config=None))
    assert table.undeclared == ["GET /api/v1/forgotten"]
