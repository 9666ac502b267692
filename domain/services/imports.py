"""Bulk import of transactions with their labels (demo data, historical back-fills).

Transactions are stored in chunks, each chunk with its labels in one unit of work, so a
failure part-way leaves whole chunks behind and a re-run completes the import: stored
transactions are reported as duplicates (never overwritten), and their labels are added
again as newer labels saying the same, which is harmless (the latest label counts).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.errors import InvalidInput
from domain.model import Label, LabelKind, Transaction
from domain.services.audit import succeeded
from domain.services.services import Services
from domain.services.training_data import Progress
from domain.values import lookup_key

DEFAULT_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class ImportResult:
    inserted: int
    duplicates: int
    labels: int


async def import_transactions(
    services: Services,
    transactions: Sequence[Transaction],
    labels: Mapping[str, LabelKind],
    source: str,
    *,
    actor: uuid.UUID | None,
    progress: Progress | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> ImportResult:
    """Store ``transactions`` and one ``source`` label per entry of ``labels`` (hashes of
    these transactions); one audit entry sums the import up. Raises ``InvalidInput`` for a
    label of a transaction that is not among ``transactions``."""
    hashes = {tx.hash for tx in transactions}
    stray = next((h for h in labels if lookup_key(h) not in hashes), None)
    if stray is not None:
        raise InvalidInput(f"label for {stray}, which is not being imported", field="labels")
    if chunk_size < 1:
        raise InvalidInput("chunk_size must be positive", field="chunk_size")
    wanted = {lookup_key(h): kind for h, kind in labels.items()}
    inserted = duplicates = labelled = 0
    for start in range(0, len(transactions), chunk_size):
        chunk = transactions[start : start + chunk_size]
        now = services.clock.now()
        async with services.uow() as work:
            result = await work.transactions.add_many(chunk)
            for tx in chunk:
                kind = wanted.get(tx.hash)
                if kind is not None:
                    await work.labels.add(Label(tx.hash, kind, source, actor, created_at=now))
                    labelled += 1
            await work.commit()
        inserted += len(result.inserted)
        duplicates += len(result.duplicates)
        if progress is not None:
            progress(f"stored {start + len(chunk):,} of {len(transactions):,} transactions")
    async with services.uow() as work:
        await work.audit.append(
            succeeded(
                "transactions.import",
                "transactions",
                actor=actor,
                at=services.clock.now(),
                details={
                    "inserted": inserted,
                    "duplicates": duplicates,
                    "labels": labelled,
                    "source": source,
                },
            )
        )
        await work.commit()
    return ImportResult(inserted, duplicates, labelled)
