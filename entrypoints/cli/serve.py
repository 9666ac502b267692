"""``chainwatch serve``: apply pending migrations (unless auto-migrate is off), serve HTTP."""

from __future__ import annotations

import argparse

from entrypoints.bootstrap import bootstrap
from entrypoints.cli.common import (
    EXIT_OK,
    EXIT_SERVER_FAILED,
    Commands,
    UsageError,
    note,
    run_database,
)
from entrypoints.settings import Settings


def register(commands: Commands) -> None:
    """Add ``serve`` to ``chainwatch``'s parser."""
    serve = commands.add_parser(
        "serve",
        help="apply pending migrations (unless CHAINWATCH_AUTO_MIGRATE=false), then serve HTTP",
    )
    serve.add_argument("--host", help="address to listen on (default: CHAINWATCH_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: CHAINWATCH_PORT)")
    serve.set_defaults(command=_serve)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from entrypoints.http import create_app
    from entrypoints.http.draining import Drain, DrainingServer
    from entrypoints.logs import configure_json_logging

    port: int = settings.port if args.port is None else args.port
    if not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {port}")
    container = bootstrap(settings)
    run_database(container, None, on_migrated=_note_applied)
    # Migrations ran above, where a failure gives a clean exit code; the app need not repeat.
    # The server logs JSON lines (uvicorn's own loggers included); the app logs each request.
    configure_json_logging(settings.log_level)
    drain = Drain()
    config = uvicorn.Config(
        create_app(
            container,
            migrate_on_start=False,
            predict=settings.predict,
            drift=settings.drift,
            rate_limits=settings.rate_limits,
            drain=drain,
            jobs=settings.jobs,
            backups=settings.backups,
            s3=settings.s3,
            console=settings.console,
        ),
        host=args.host or settings.host,
        port=port,
        # The app decides which X-Forwarded-For to believe (CHAINWATCH_TRUSTED_PROXIES).
        proxy_headers=False,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown.requests_timeout_s,
    )
    # SIGTERM: /ready 503 for the drain delay, then uvicorn's graceful shutdown, all within
    # the grace period (entrypoints/http/draining.py).
    server = DrainingServer(config, drain, settings.shutdown)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.cancel_watchdog()
    if not server.started:
        return EXIT_SERVER_FAILED  # uvicorn.run's own exit code when the server cannot start
    return EXIT_OK


def _note_applied(applied: list[str]) -> None:
    note(f"applied {len(applied)} migration(s)" + "".join(f"\n  {m}" for m in applied))
