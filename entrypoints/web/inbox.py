"""``/inbox``: the anomalies to triage, newest first, filtered, 50 to a keyset page, with
the counts per severity (bounded like the API's) and keyboard shortcuts (``console.js``).

Filters are query parameters, so a filtered inbox is a link an analyst can share:
``severity`` and ``status`` (repeatable; status defaults to open until the filter form is
used), ``since``/``until`` (UTC, as a ``datetime-local`` input sends them),
``model_version`` (``iforest:3`` or an id), ``mine=1`` (assigned to me) and ``cursor``.
An htmx request from the filter form gets the results panel only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from domain.errors import InvalidInput, NotFound
from domain.model import ReviewStatus, Severity, parse_enum
from domain.pagination import PageRequest
from domain.services import queries
from domain.services.auth import Permission
from entrypoints.http.security import requires
from entrypoints.web.errors import is_htmx
from entrypoints.web.rendering import page, query_string
from entrypoints.web.session import Console, signed_in
from ports.repositories import AnomalyFilter, TimeRange

PAGE_SIZE = 50
SHORTCUTS = [
    ("j / k", "next / previous anomaly"),
    ("o or Enter", "open the selected anomaly"),
    ("c", "confirm (fraud), with a note"),
    ("d", "dismiss (legitimate), with a note"),
    ("e", "escalate, with a note"),
    ("a", "assign the selected anomaly to me"),
    ("/", "go to the filters"),
    ("?", "show or hide this help"),
]


@dataclass(frozen=True, slots=True)
class InboxFilters:
    """The inbox's filters as the form shows them (strings), and as criteria."""

    severities: list[str]
    statuses: list[str]
    since: str
    until: str
    model_version: str
    mine: bool


class InboxController(Controller):
    path = "/inbox"
    include_in_schema = False

    @get("/", opt=requires(Permission.READ))
    async def inbox(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console]
    ) -> Template:
        principal = signed_in(request)
        params = request.query_params
        filters = InboxFilters(
            severities=params.getall("severity", []),
            statuses=params.getall("status", [])
            if "filtered" in params
            else [ReviewStatus.OPEN.value],
            since=params.get("since") or "",
            until=params.get("until") or "",
            model_version=(params.get("model_version") or "").strip(),
            mine=params.get("mine") == "1",
        )
        pairs = [(k, v) for k, v in params.multi_items() if k != "cursor"]
        if "filtered" not in params:
            pairs += [("filtered", "1"), *(("status", s) for s in filters.statuses)]
        context: dict[str, Any] = {
            "filters": filters,
            "severities": [s.value for s in Severity],
            "statuses": [s.value for s in ReviewStatus],
            "shortcuts": SHORTCUTS,
            "here": request.url.path + ("?" + request.url.query if request.url.query else ""),
            "first_page": "/inbox?" + query_string(pairs),
            "error": None,
            "inbox": None,
        }
        status = 200
        try:
            criteria = await _criteria(console, filters, principal.user_id)
            cursor_page = PageRequest.from_token(PAGE_SIZE, params.get("cursor") or None)
            result = await queries.anomaly_inbox(console.services, criteria, cursor_page)
        except (InvalidInput, NotFound) as error:  # a filter to correct, shown on the page
            context["error"] = error.message
            status = 422 if isinstance(error, InvalidInput) else 404
        else:
            context["inbox"] = result
            next_cursor = result.listing.next_cursor
            context["next_page"] = (
                None if next_cursor is None else "/inbox?" + query_string(pairs, cursor=next_cursor)
            )
        template = "_inbox_results.html" if is_htmx(request) else "inbox.html"
        return page(request, console, template, context, status_code=status)


async def _criteria(
    console: NamedDependency[Console], filters: InboxFilters, me: Any
) -> AnomalyFilter:
    version_id = (
        None
        if not filters.model_version
        else await queries.resolve_version(console.services, filters.model_version)
    )
    return AnomalyFilter(
        severities=frozenset(parse_enum(Severity, s, "severity") for s in filters.severities),
        statuses=frozenset(parse_enum(ReviewStatus, s, "status") for s in filters.statuses),
        period=TimeRange(_instant(filters.since, "since"), _instant(filters.until, "until")),
        model_version_id=version_id,
        assigned_to=me if filters.mine else None,
    )


def _instant(text: str, name: str) -> datetime | None:
    """A ``datetime-local`` value (no zone: the page says UTC) or an ISO instant."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{name} must be a date and time, e.g. 2026-12-01T09:00", field=name
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
