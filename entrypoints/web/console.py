"""The analyst console, mounted at ``/`` beside ``/api/v1``: server-rendered Jinja pages,
htmx for partial updates, every asset served by the app itself (``/static``).

``console_routes(...)`` gives the handlers to add to the app; ``template_config()`` the
template engine. Pages live one module per area (``sign_in``, ``inbox``, ``cases``); to add
one, write its Controller (each handler with ``opt=requires(...)`` or ``opt=PUBLIC``), list
it in ``PAGES`` and, for a top-level page, add its ``NavItem`` in ``rendering.NAV``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from entrypoints.web.admin import AdminPages
from entrypoints.web.admin_records import AdminRecordPages
from entrypoints.web.cases import AnomalyPages, TransactionPages
from entrypoints.web.errors import console_errors
from entrypoints.web.formatting import FILTERS
from entrypoints.web.inbox import InboxController
from entrypoints.web.models import ModelPages
from entrypoints.web.session import Console, console_guard
from entrypoints.web.sign_in import SignInController

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
CONSOLE_OPT = "console"
"""Set on every console route (pages and assets): they answer to sessions, not API keys."""
PAGES: list[ControllerRouterHandler] = [
    SignInController,
    InboxController,
    AnomalyPages,
    TransactionPages,
    ModelPages,
    AdminPages,
    AdminRecordPages,
]
SECURITY_HEADERS = {
    # Scripts and styles from this app only: no inline script can run, whatever a page shows.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def console_routes(console: Console) -> list[ControllerRouterHandler]:
    """The console's pages behind the session guard, and its static assets."""
    pages = Router(
        path="/",
        route_handlers=PAGES,
        guards=[console_guard(console)],
        dependencies={"console": Provide(lambda: console, use_cache=True, sync_to_thread=False)},
        exception_handlers={Exception: console_errors(console)},
        response_headers=SECURITY_HEADERS,
        include_in_schema=False,
        opt={CONSOLE_OPT: True},
    )
    assets = create_static_files_router(
        path="/static",
        directories=[STATIC],
        include_in_schema=False,
        name="console-static",
        opt={CONSOLE_OPT: True},
    )
    return [pages, assets]


def template_config() -> TemplateConfig[Any]:
    def add_filters(engine: JinjaTemplateEngine) -> None:
        engine.engine.filters.update(FILTERS)

    return TemplateConfig(
        directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=add_filters
    )
