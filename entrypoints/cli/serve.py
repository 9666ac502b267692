"""``chainwatch serve``: apply pending migrations (unless auto-migrate is off), serve HTTP."""

from __future__ import annotations

import argparse
import socket

from entrypoints.bootstrap import bootstrap
from entrypoints.cli.common import (
    EXIT_OK,
    EXIT_SERVER_FAILED,
    Commands,
    UsageError,
    note,
    run_database,
)
from entrypoints.settings import MAX_WORKERS, Settings


def register(commands: Commands) -> None:
    """Add ``serve`` to ``chainwatch``'s parser."""
    serve = commands.add_parser(
        "serve",
        help="apply pending migrations (unless CHAINWATCH_AUTO_MIGRATE=false), then serve HTTP",
    )
    serve.add_argument("--host", help="address to listen on (default: CHAINWATCH_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: CHAINWATCH_PORT)")
    serve.add_argument(
        "--workers",
        type=int,
        help="HTTP worker processes (default: CHAINWATCH_WORKERS, else one per usable CPU "
        "on PostgreSQL and 1 on SQLite)",
    )
    serve.set_defaults(command=_serve)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from entrypoints.http.workers import Supervisor, worker_count

    port: int = settings.port if args.port is None else args.port
    if not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {port}")
    if args.workers is not None and not 0 < args.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be between 1 and {MAX_WORKERS}, got {args.workers}")
    host: str = args.host or settings.host
    workers = worker_count(settings, args.workers)
    if workers == 1:
        return serve_http(settings, host, port, migrate=True)
    run_database(bootstrap(settings), None, on_migrated=_note_applied)
    return Supervisor(settings, host, port, workers, serve_worker, _listen(host, port)).run()


def serve_http(
    settings: Settings,
    host: str,
    port: int,
    *,
    migrate: bool,
    listener: socket.socket | None = None,
) -> int:
    """Serve HTTP in this process until signalled (on ``listener`` when given, a worker's
    shared socket); the exit code. Migrations run first when ``migrate``."""
    from entrypoints.http import create_app
    from entrypoints.http.draining import Drain, DrainingServer
    from entrypoints.http.server import server_config
    from entrypoints.logs import configure_json_logging

    container = bootstrap(settings)
    if migrate:
        run_database(container, None, on_migrated=_note_applied)
    # Migrations ran above (or in the supervisor), where a failure gives a clean exit
    # code; the app need not repeat. The server logs JSON lines (uvicorn's own loggers
    # included); the app logs each request.
    configure_json_logging(settings.log_level)
    drain = Drain()
    app = create_app(
        container,
        migrate_on_start=False,
        predict=settings.predict,
        drift=settings.drift,
        rate_limits=settings.rate_limits,
        drain=drain,
        jobs=settings.jobs,
        backups=settings.backups,
        s3=settings.s3,
        retention=settings.retention,
        console=settings.console,
        partitions=settings.partitions,
    )
    # SIGTERM: /ready 503 for the drain delay, then uvicorn's graceful shutdown, all within
    # the grace period (entrypoints/http/draining.py).
    server = DrainingServer(server_config(app, host, port, settings), drain, settings.shutdown)
    try:
        server.run(sockets=None if listener is None else [listener])
    except KeyboardInterrupt:
        pass
    finally:
        server.cancel_watchdog()
    if not server.started:
        return EXIT_SERVER_FAILED  # uvicorn.run's own exit code when the server cannot start
    return EXIT_OK


def serve_worker(settings: Settings, host: str, port: int, listener: socket.socket) -> None:
    """One worker of ``chainwatch serve --workers N`` (``entrypoints.http.workers``)."""
    raise SystemExit(serve_http(settings, host, port, migrate=False, listener=listener))


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket every worker shares (bound here, so a port in use fails once,
    before any worker starts)."""
    from entrypoints.http.server import bind

    return bind(host, port)


def _note_applied(applied: list[str]) -> None:
    note(f"applied {len(applied)} migration(s)" + "".join(f"\n  {m}" for m in applied))
