"""``/admin/audit`` and ``/admin/backups``: what happened, and whether it can be restored
(admins only; read-only pages).

The audit log is the API's ``query_audit_log``, newest first, 50 rows to a keyset page,
filtered by action, user (an id or a username), outcome and a time range (UTC); the
filters are query parameters, so a filtered log is a link. The backups page reads the
backup target through the app's ``BackupWatch`` (as ``GET /api/v1/backups/status`` does)
and lists the newest backups with their latest verification.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from domain.errors import DomainError, InvalidInput
from domain.model import Outcome, parse_enum
from domain.pagination import PageRequest
from domain.services import queries, users
from domain.services.auth import Permission
from entrypoints.http.backup_watch import BackupWatch
from entrypoints.http.params import NAME_PATTERN, PRINTABLE_PATTERN
from entrypoints.http.security import requires
from entrypoints.web.admin import admin_page, refusal
from entrypoints.web.inbox import _instant as instant
from entrypoints.web.rendering import query_string
from entrypoints.web.session import Console
from ports.repositories import TimeRange

PAGE_SIZE = 50
RECENT_BACKUPS = 10
_PATTERNS = {"action": re.compile(PRINTABLE_PATTERN), "user": re.compile(NAME_PATTERN)}


def age(seconds: float) -> str:
    """``3 d 4 h``, ``2 h 5 min``, ``40 s``: how old a backup is, at a glance."""
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


class AdminRecordPages(Controller):
    path = "/admin"
    include_in_schema = False

    @get("/audit", opt=requires(Permission.READ_AUDIT))
    async def audit(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console]
    ) -> Template:
        params = request.query_params
        filters = {
            name: (params.get(name) or "").strip()
            for name in ("action", "user", "outcome", "since", "until")
        }
        pairs = [(k, v) for k, v in params.multi_items() if k != "cursor"]
        context: dict[str, Any] = {
            "filters": filters,
            "outcomes": [o.value for o in Outcome],
            "first_page": "/admin/audit?" + query_string(pairs),
            "next_page": None,
            "entries": [],
            "usernames": {},
            "error": None,
            "failed": None,
        }
        status = 200
        try:
            action = _text(filters["action"], "action", 100)
            user = _text(filters["user"], "user", 64)
            outcome = (
                parse_enum(Outcome, filters["outcome"], "outcome") if filters["outcome"] else None
            )
            period = TimeRange(
                instant(filters["since"], "since"), instant(filters["until"], "until")
            )
            cursor_page = PageRequest.from_token(PAGE_SIZE, params.get("cursor") or None)
            found = await queries.query_audit_log(
                console.services, user, action, period, cursor_page, outcome
            )
        except DomainError as error:  # a filter to correct, shown beside the form
            status, context["error"], context["failed"] = refusal(error)
        else:
            context["entries"] = found.items
            context["usernames"] = {
                u.id: u.username for u in await users.list_users(console.services)
            }
            if found.next_cursor is not None:
                context["next_page"] = "/admin/audit?" + query_string(
                    pairs, cursor=found.next_cursor
                )
        return admin_page(request, console, "admin_audit.html", context, status_code=status)

    @get("/backups", opt=requires(Permission.READ_BACKUPS))
    async def backups(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        backup_watch: NamedDependency[BackupWatch | None],
    ) -> Template:
        context: dict[str, Any] = {
            "configured": backup_watch is not None,
            "status": None,
            "error": None,
            "age": age,
        }
        status_code = 200
        if backup_watch is not None:
            try:
                context["status"] = await backup_watch.status(recent=RECENT_BACKUPS)
            except DomainError as error:  # the target cannot be read: say so, as the API does
                status_code, context["error"], _ = refusal(error)
        return admin_page(request, console, "admin_backups.html", context, status_code=status_code)


def _text(value: str, name: str, max_length: int) -> str | None:
    """A filter's text as the API's query parameter accepts it (same pattern, bounded)."""
    if not value:
        return None
    if len(value) > max_length or not _PATTERNS[name].match(value):
        detail = "a user id or username" if name == "user" else "printable text"
        raise InvalidInput(f"{name} must be {detail}, at most {max_length} characters", field=name)
    return value
