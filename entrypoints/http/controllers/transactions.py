"""``/transactions``: look a transaction up, list them, label one."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter

from domain.pagination import DEFAULT_LIMIT
from domain.services import Services, queries
from domain.services.auth import Permission, Principal
from domain.services.labels import label_transaction
from entrypoints.http.controllers.errors import read_errors, write_errors
from entrypoints.http.params import (
    ADDRESS_PATTERN,
    HASH_PATTERN,
    Cursor,
    Limit,
    Since,
    Until,
    page_request,
    time_range,
)
from entrypoints.http.schemas.transactions import (
    LabelIn,
    LabelOut,
    TransactionOut,
    TransactionPage,
    label_out,
    record_out,
    transaction_out,
)
from entrypoints.http.security import requires

TxHash = Annotated[str, Parameter(pattern=HASH_PATTERN, description="0x + 64 hex digits")]


class TransactionController(Controller):
    path = "/transactions"
    tags = ["transactions"]

    @get(
        "/{tx_hash:str}",
        opt=requires(Permission.READ),
        responses=read_errors(404),
        summary="A stored transaction, amounts as exact decimal strings, with its latest label",
    )
    async def get_transaction(
        self, services: NamedDependency[Services], tx_hash: TxHash
    ) -> TransactionOut:
        return record_out(await queries.get_transaction(services, tx_hash))

    @get(
        "/",
        opt=requires(Permission.READ),
        responses=read_errors(),
        summary="Transactions, newest first; only those from or to `address` when given",
    )
    async def list_transactions(
        self,
        services: NamedDependency[Services],
        address: Annotated[
            str | None, Parameter(pattern=ADDRESS_PATTERN, description="0x + 40 hex digits")
        ] = None,
        since: Since = None,
        until: Until = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> TransactionPage:
        page = await queries.list_transactions(
            services, address, time_range(since, until), page_request(limit, cursor)
        )
        return TransactionPage([transaction_out(tx) for tx in page.items], page.next_cursor)

    @put(
        "/{tx_hash:str}/label",
        opt=requires(Permission.LABEL, "transaction.label"),
        responses=write_errors(404),
        status_code=200,
        summary="Label a transaction fraud or legitimate (the latest label counts)",
    )
    async def label(
        self,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        tx_hash: TxHash,
        data: JSONBody[LabelIn],
    ) -> LabelOut:
        label = await label_transaction(
            services,
            tx_hash,
            data.label,
            data.source,
            data.note,
            actor=principal.user_id,
        )
        return label_out(label)
