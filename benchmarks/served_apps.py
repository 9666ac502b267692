"""ASGI apps ``hot_path.py`` serves by import path.

- ``bare``: the baseline for ``GET /health``, a bare Litestar app with the same route and
  answer (no middleware, no lifespan), served the same way as chainwatch.
- ``chainwatch()``: chainwatch's app built from the environment exactly as ``chainwatch
  serve`` builds it, for servers that take an app factory (granian ``--factory``), so the
  server can be compared with the same app.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, get


class Status(msgspec.Struct):
    status: str


@get("/health")
async def health() -> Status:
    return Status(status="ok")


bare = Litestar(route_handlers=[health], logging_config=None)


def chainwatch() -> Litestar:
    from entrypoints.bootstrap import bootstrap
    from entrypoints.http import create_app
    from entrypoints.logs import configure_json_logging
    from entrypoints.settings import load_settings

    settings = load_settings()
    configure_json_logging(settings.log_level)
    return create_app(
        bootstrap(settings),
        migrate_on_start=False,
        predict=settings.predict,
        drift=settings.drift,
        rate_limits=settings.rate_limits,
        jobs=settings.jobs,
        backups=settings.backups,
        s3=settings.s3,
    )
