"""Operations on the deployed system: backups (``back_up``), their verification
(``verify``), restores (``restore``) and retention (``prune``), over the adapters - a
``BlobStore`` for where backups live, the database configuration for what they hold.
The ``chainwatch backup | verify | restore | prune`` commands are thin wrappers
(``entrypoints.cli.backups``); ``docker/`` and ``k8s/`` hold the deployment files."""

from ops.backup import back_up
from ops.errors import (
    BackupCorrupt,
    BackupNotFound,
    OperationFailed,
    RestoreRefused,
    ToolFailed,
    VerificationFailed,
)
from ops.prune import prune
from ops.restore import restore
from ops.verify import verify

__all__ = [
    "BackupCorrupt",
    "BackupNotFound",
    "OperationFailed",
    "RestoreRefused",
    "ToolFailed",
    "VerificationFailed",
    "back_up",
    "prune",
    "restore",
    "verify",
]
