"""What every console page gets: who is signed in, the CSRF token, the navigation.

``NAV`` is the one list of top-level pages; each entry shows only to roles holding its
permission. A new page (models, admin) adds its entry here and its controller to
``entrypoints.web.console.PAGES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from litestar import Request
from litestar.datastructures import FormMultiDict
from litestar.response import Redirect, Template

from domain.errors import InvalidInput
from domain.services.auth import Permission, Principal
from entrypoints.web.session import Console, no_store, session_csrf, signed_in


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    href: str
    permission: Permission


NAV: list[NavItem] = [
    NavItem("Inbox", "/inbox", Permission.READ),
    NavItem("Models", "/models", Permission.READ),
    NavItem("Admin", "/admin", Permission.MANAGE_USERS),
]


def page(
    request: Request[Any, Any, Any],
    console: Console,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> Template:
    """A signed-in page: ``template`` with ``context`` plus ``principal``, ``csrf``,
    ``nav`` (the entries this role may open), ``current`` (the path) and ``may`` (a
    permission check for the template: ``may("review")``)."""
    response = Template(
        template,
        context={**context, **chrome(request, console, signed_in(request))},
        status_code=status_code,
    )
    no_store(response)
    return response


def chrome(
    request: Request[Any, Any, Any], console: Console, principal: Principal
) -> dict[str, Any]:
    """What ``base.html`` needs around a signed-in page (also error pages)."""
    return {
        "principal": principal,
        "csrf": session_csrf(console, request),
        "nav": [item for item in NAV if principal.may(item.permission)],
        "current": request.url.path,
        "may": _may(principal),
    }


def _may(principal: Principal) -> Any:
    def may(permission: str) -> bool:
        return principal.may(Permission(permission))

    return may


def back_to(target: str | None, fallback: str) -> Redirect:
    """303 to ``target`` when it is a path on this site, else to ``fallback`` (an open
    redirect to another site is never followed)."""
    destination = target if target is not None and is_local(target) else fallback
    response = Redirect(destination, status_code=303)
    no_store(response)
    return response


def is_local(target: str | None) -> bool:
    return (
        bool(target)
        and target is not None
        and target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and "\n" not in target
        and "\r" not in target
    )


def field(form: FormMultiDict, name: str, *, max_length: int = 4000) -> str | None:
    """One text field of a form (None when absent or blank); ``InvalidInput`` when longer
    than ``max_length`` or not text."""
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", field=name)
    if len(value) > max_length:
        raise InvalidInput(f"{name} must be at most {max_length} characters", field=name)
    return value if value.strip() else None


def query_string(pairs: list[tuple[str, str]], **changes: str | None) -> str:
    """``pairs`` with the keys in ``changes`` replaced (None drops the key), encoded."""
    kept = [(k, v) for k, v in pairs if k not in changes]
    kept += [(k, v) for k, v in changes.items() if v is not None]
    return urlencode(kept)
