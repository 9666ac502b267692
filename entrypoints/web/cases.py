"""``/anomalies/{id}`` (the case view) and its actions, and ``/transactions/{hash}``.

Each action is a form POST (CSRF-checked by the guard) calling the same use case as the
API - ``review_anomaly``, ``assign_anomaly``, ``add_comment`` - which writes its audit row
in the change's own unit of work; then a redirect back (post/redirect/get), or for htmx the
panel that changed.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Template

from domain.errors import InvalidInput
from domain.model import ReviewStatus, parse_enum
from domain.services import queries
from domain.services.assignments import assign_anomaly
from domain.services.auth import Permission
from domain.services.comments import add_comment
from domain.services.reviews import review_anomaly
from entrypoints.http.params import parse_id
from entrypoints.http.security import requires
from entrypoints.web.errors import is_htmx
from entrypoints.web.rendering import back_to, field, page
from entrypoints.web.session import Console, signed_in

AnomalyId = Annotated[str, Parameter(description="The anomaly's id")]
TxHash = Annotated[str, Parameter(description="The transaction's hash")]
REVIEW_CHOICES = [
    (ReviewStatus.CONFIRMED.value, "Confirm", "fraud: records a fraud label", "c"),
    (ReviewStatus.DISMISSED.value, "Dismiss", "legitimate: records a legitimate label", "d"),
    (ReviewStatus.ESCALATED.value, "Escalate", "needs a second look: no label yet", "e"),
]


class AnomalyPages(Controller):
    path = "/anomalies"
    include_in_schema = False

    @get("/{anomaly_id:str}", opt=requires(Permission.READ))
    async def case(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        anomaly_id: AnomalyId,
    ) -> Template:
        found = await queries.anomaly_case(console.services, parse_id(anomaly_id, "anomaly_id"))
        context = {
            "case": found,
            "anomaly": found.record.anomaly,
            "tx": found.record.transaction,
            "review_choices": REVIEW_CHOICES,
            "done": request.query_params.get("done"),
            "largest": max(
                (abs(c.contribution) for c in found.record.contributions or ()), default=1.0
            ),
        }
        return page(request, console, "anomaly.html", context)

    @post("/{anomaly_id:str}/review", opt=requires(Permission.REVIEW, "anomaly.review"))
    async def review(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        anomaly_id: AnomalyId,
    ) -> Response[Any]:
        identifier, form, me = await _action(request, anomaly_id)
        status = parse_enum(ReviewStatus, field(form, "status", max_length=16), "status")
        await review_anomaly(console.services, identifier, status, field(form, "note"), actor=me)
        return _done(form, identifier, status.value)

    @post("/{anomaly_id:str}/assign", opt=requires(Permission.REVIEW, "anomaly.assign"))
    async def assign(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        anomaly_id: AnomalyId,
    ) -> Response[Any]:
        identifier, form, me = await _action(request, anomaly_id)
        chosen = field(form, "assignee", max_length=64)
        assignee: uuid.UUID | None
        if chosen is None or chosen == "none":
            assignee = None
        elif chosen == "me":
            assignee = me
        else:
            assignee = parse_id(chosen, "assignee")
        await assign_anomaly(console.services, identifier, assignee, actor=me)
        return _done(form, identifier, "assigned")

    @post("/{anomaly_id:str}/comments", opt=requires(Permission.REVIEW, "anomaly.comment"))
    async def comment(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        anomaly_id: AnomalyId,
    ) -> Response[Any]:
        identifier, form, me = await _action(request, anomaly_id)
        body = field(form, "body")
        if body is None:
            raise InvalidInput("a comment needs some text", field="body")
        await add_comment(console.services, identifier, body, actor=me)
        if is_htmx(request):
            found = await queries.anomaly_case(console.services, identifier)
            return page(
                request, console, "_thread.html", {"case": found, "anomaly": found.record.anomaly}
            )
        return back_to(None, f"/anomalies/{identifier}#comments")


async def _action(
    request: Request[Any, Any, Any], anomaly_id: str
) -> tuple[uuid.UUID, FormMultiDict, uuid.UUID]:
    """What every action on a case starts from: the anomaly's id, the posted form and who
    is acting."""
    return parse_id(anomaly_id, "anomaly_id"), await request.form(), signed_in(request).user_id


def _done(form: FormMultiDict, identifier: uuid.UUID, what: str) -> Response[Any]:
    """Post/redirect/get: back to the form's ``next`` page, else to the case saying what
    was done."""
    return back_to(field(form, "next", max_length=2000), f"/anomalies/{identifier}?done={what}")


class TransactionPages(Controller):
    path = "/transactions"
    include_in_schema = False

    @get("/{tx_hash:str}", opt=requires(Permission.READ))
    async def transaction(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console], tx_hash: TxHash
    ) -> Template:
        record = await queries.get_transaction(console.services, tx_hash)
        context = {"record": record, "tx": record.transaction}
        return page(request, console, "transaction.html", context)
