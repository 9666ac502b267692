"""The Piccolo app "chainwatch": its tables and the top-level ``piccolo_migrations/``."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

import piccolo_migrations
from adapters.piccolo.schema.tables import TABLES

APP_NAME = "chainwatch"
MIGRATIONS_PACKAGE = piccolo_migrations.__name__
# Located through the package, so it is found from any working directory, installed or not
# (``__path__``, not ``__file__``: an editable install may present it as a namespace package).
MIGRATIONS_FOLDER = next(
    Path(entry).resolve() for entry in piccolo_migrations.__path__ if Path(entry).is_dir()
)

APP_CONFIG = AppConfig(
    app_name=APP_NAME,
    migrations_folder_path=str(MIGRATIONS_FOLDER),
    table_classes=list(TABLES),
    migration_dependencies=[],
    commands=[],
)
