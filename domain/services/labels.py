"""Labelling a transaction directly: fraud or legitimate, from a named source."""

from __future__ import annotations

import uuid

from domain.model import Label, LabelKind, parse_enum
from domain.services.audit import succeeded, transaction_resource
from domain.services.services import Services


async def label_transaction(
    services: Services,
    tx_hash: str,
    kind: LabelKind | str,
    source: str,
    note: str | None = None,
    *,
    actor: uuid.UUID | None,
) -> Label:
    """Store a label for a stored transaction (a later label supersedes earlier ones),
    audited in the same unit of work.

    Raises ``TransactionNotFound`` for an unknown hash
    and ``InvalidInput`` (naming the field) for a bad hash, kind, source or note.
    """
    now = services.clock.now()
    label = Label(
        transaction_hash=tx_hash,
        kind=parse_enum(LabelKind, kind, "kind"),
        source=source,
        created_by=actor,
        note=note,
        created_at=now,
    )
    async with services.uow() as work:
        await work.labels.add(label)
        await work.audit.append(
            succeeded(
                "transaction.label",
                transaction_resource(label.transaction_hash),
                actor=actor,
                at=now,
                details={
                    "label_id": str(label.id),
                    "kind": label.kind.value,
                    "source": label.source,
                },
            )
        )
        await work.commit()
    return label
