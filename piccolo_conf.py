"""Piccolo's configuration for its CLI (``piccolo migrations forwards chainwatch``).

``DB`` is built from the environment through ``entrypoints.settings`` - the same variables
the service reads (``DATABASE_URL``, ``DATABASE_HOST``..., else embedded SQLite in
``$CHAINWATCH_DATA_DIR``). The service itself never imports this module: it builds its
engine in ``entrypoints.bootstrap``.
"""

from piccolo.conf.apps import AppRegistry

from adapters.piccolo.sql.engine import build_engine
from entrypoints.settings import load_settings

DB = build_engine(load_settings().database)

APP_REGISTRY = AppRegistry(apps=["adapters.piccolo.schema.piccolo_app"])
