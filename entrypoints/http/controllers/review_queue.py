"""``/review-queue``: the unlabelled transactions whose labels would teach the model most."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from domain.services import Services
from domain.services.auth import Permission
from domain.services.review_queue import DEFAULT_LIMIT, MAX_QUEUE, review_queue
from entrypoints.http.controllers.errors import read_errors
from entrypoints.http.schemas.review_queue import ReviewQueueOut, review_queue_out
from entrypoints.http.security import requires

QueueLimit = Annotated[
    int, Parameter(ge=1, le=MAX_QUEUE, description=f"How many items, 1 to {MAX_QUEUE}")
]


class ReviewQueueController(Controller):
    path = "/review-queue"
    tags = ["review-queue"]

    @get(
        "/",
        opt=requires(Permission.REVIEW),
        responses=read_errors(),
        summary="What to review next: unlabelled transactions whose labels teach the most",
        description="Candidates: transactions served by an ACTIVE calibrated version in the "
        "last 7 days (the newest 2,000), without a label. Each is worth its closeness to the "
        "alert boundary on a logit scale plus a weight on the very top, times how much of "
        "the traffic it stands for, times its novelty against labelled and earlier items; "
        "half of the places are exploration draws that keep the labels representative. "
        "Most valuable first; `reasons` says why.",
    )
    async def get_queue(
        self, services: NamedDependency[Services], limit: QueueLimit = DEFAULT_LIMIT
    ) -> ReviewQueueOut:
        return review_queue_out(await review_queue(services, limit=limit))
