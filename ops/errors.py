"""Why a backup operation failed: each error's ``str`` is one line an operator can act on."""

from __future__ import annotations


class OperationFailed(Exception):
    """Base of every failure ``ops`` reports on purpose (the CLI exits 1 with the message)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BackupNotFound(OperationFailed):
    """No backup with that id (or no backup at all) in the store."""


class BackupCorrupt(OperationFailed):
    """A backup's bytes, size or manifest do not match what was recorded: do not trust it."""


class VerificationFailed(OperationFailed):
    """A restored backup differs from its manifest (row counts, checksums, smoke queries)."""


class RestoreRefused(OperationFailed):
    """The target database cannot take the restore as asked (not empty, wrong engine)."""


class ToolFailed(OperationFailed):
    """An external tool (pg_dump, pg_restore) or the database failed."""


class BackupFailed(OperationFailed):
    """A backup could not be completed; what it had written was discarded (or, if the
    store refused even that, left incomplete: never verified or restored, pruned later)."""
