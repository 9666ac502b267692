"""``/backups/status``: the newest backup, its age and verification (admins only)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from domain.services.auth import Permission
from entrypoints.http.backup_watch import BackupWatch
from entrypoints.http.controllers.errors import read_errors
from entrypoints.http.schemas.backups import NOT_CONFIGURED, BackupStatusOut, backup_status_out
from entrypoints.http.security import requires


class BackupController(Controller):
    path = "/backups"
    tags = ["backups"]

    @get(
        "/status",
        opt=requires(Permission.READ_BACKUPS),
        responses=read_errors(),
        summary="The newest backup, its age and its latest verification, and the newest "
        "backup known to restore",
        description="Read from the backup target (`BACKUP_URL`) when asked; 503 when it "
        "cannot be read. Without a target, `configured` is false. Verifications are those "
        "`chainwatch verify` recorded next to each backup.",
    )
    async def status(self, backup_watch: NamedDependency[BackupWatch | None]) -> BackupStatusOut:
        if backup_watch is None:
            return NOT_CONFIGURED
        return backup_status_out(await backup_watch.status())
