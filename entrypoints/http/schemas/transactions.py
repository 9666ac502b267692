"""Transaction bodies. Wei amounts (``value``, ``gas_price``) are exact decimal strings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from domain.model import Label, LabelKind, Transaction
from domain.services.queries import TransactionRecord
from entrypoints.http.params import NAME_PATTERN
from entrypoints.http.schemas.predictions import PredictionOut, prediction_out

Wei = Annotated[
    str,
    msgspec.Meta(pattern=r"^[0-9]+$", description="An exact amount in wei, as a decimal string"),
]


class LabelSummary(msgspec.Struct):
    label: LabelKind
    source: str
    created_at: datetime


class TransactionOut(msgspec.Struct):
    hash: str
    chain: str
    block_number: int | None
    from_address: str
    to_address: str | None
    value: Wei
    gas: int
    gas_price: Wei
    nonce: int | None
    gas_used: int | None
    input_size: int
    timestamp: datetime
    ingested_at: datetime
    label: LabelSummary | None = None
    """The latest label, when the transaction has one (single-transaction answers only)."""
    predictions: list[PredictionOut] | None = None
    """Every model version's prediction, oldest first, each with why it scored so
    (single-transaction answers only)."""


class TransactionPage(msgspec.Struct):
    transactions: list[TransactionOut]
    next_cursor: str | None


class LabelIn(msgspec.Struct, forbid_unknown_fields=True):
    label: LabelKind
    source: Annotated[
        str,
        msgspec.Meta(
            pattern=NAME_PATTERN,
            description="Where the verdict comes from, e.g. analyst-review or chainalysis",
        ),
    ]
    note: Annotated[str, msgspec.Meta(max_length=4000)] | None = None


class LabelOut(msgspec.Struct):
    id: uuid.UUID
    transaction_hash: str
    label: LabelKind
    source: str
    note: str | None
    created_by: uuid.UUID | None
    created_at: datetime


def transaction_out(
    tx: Transaction,
    label: Label | None = None,
    predictions: list[PredictionOut] | None = None,
) -> TransactionOut:
    return TransactionOut(
        hash=tx.hash,
        chain=tx.chain,
        block_number=tx.block_number,
        from_address=tx.from_address,
        to_address=tx.to_address,
        value=str(tx.value),
        gas=tx.gas,
        gas_price=str(tx.gas_price),
        nonce=tx.nonce,
        gas_used=tx.gas_used,
        input_size=tx.input_size,
        timestamp=tx.timestamp,
        ingested_at=tx.ingested_at,
        label=None if label is None else LabelSummary(label.kind, label.source, label.created_at),
        predictions=predictions,
    )


def record_out(record: TransactionRecord) -> TransactionOut:
    predictions = [prediction_out(item) for item in record.predictions]
    return transaction_out(record.transaction, record.label, predictions)


def label_out(label: Label) -> LabelOut:
    return LabelOut(
        id=label.id,
        transaction_hash=label.transaction_hash,
        label=label.kind,
        source=label.source,
        note=label.note,
        created_by=label.created_by,
        created_at=label.created_at,
    )
