"""The ``/api/v1`` router: every resource controller behind the API key guard.

To add a resource, write its Controller under ``controllers/`` (each handler with
``opt=requires(Permission.X, "action")``) and list it in ``API_CONTROLLERS``.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, Router
from litestar.di import Provide
from litestar.handlers import BaseRouteHandler
from litestar.routes import HTTPRoute
from litestar.types import ControllerRouterHandler

from domain.services import Services
from entrypoints.http.context import API_PREFIX
from entrypoints.http.controllers import API_CONTROLLERS
from entrypoints.http.rate_limits import RateLimits
from entrypoints.http.security import (
    SECURITY_SCHEME,
    LastUsedBuffer,
    api_key_guard,
    check_permissions_declared,
    current_principal,
)


def api_router(
    services: Services,
    last_used: LastUsedBuffer,
    limits: RateLimits,
    extra: list[ControllerRouterHandler] | None = None,
) -> Router:
    """The API router over ``services``, within ``limits``; ``extra`` adds controllers
    (e.g. in tests)."""
    router = Router(
        path=API_PREFIX,
        route_handlers=[*API_CONTROLLERS, *(extra or [])],
        guards=[api_key_guard(services, last_used, limits)],
        dependencies={"principal": Provide(current_principal, sync_to_thread=False)},
        security=[{SECURITY_SCHEME: []}],
    )
    check_permissions_declared(_handlers(router))
    return router


def close_request_bodies(app: Litestar) -> None:
    """Mark request bodies that refuse unknown fields (``forbid_unknown_fields``) with
    ``additionalProperties: false`` in the OpenAPI document, as Litestar does not."""
    closed = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            body = handler.parsed_fn_signature.parameters.get("data")
            kind = None if body is None else body.annotation
            if (
                isinstance(kind, type)
                and issubclass(kind, msgspec.Struct)
                and kind.__struct_config__.forbid_unknown_fields
            ):
                closed.add(kind.__name__)
    for schema in (app.openapi_schema.components.schemas or {}).values():
        if schema.title in closed:
            schema.additional_properties = False


def _handlers(router: Router) -> list[BaseRouteHandler]:
    return [
        handler
        for route in router.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
    ]
