"""Process-wide logging for the server: one JSON object per line on stderr, via structlog.

Code logs through the standard ``logging`` module (``extra={...}`` adds fields), and so do
uvicorn, Piccolo and Litestar; structlog's ``ProcessorFormatter`` renders every record as
JSON with a UTC timestamp, level and logger name. Nothing logs bodies or headers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_LEVELS = {"trace": logging.DEBUG}


def _drop_terminal_colours(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # uvicorn passes an ANSI-coloured copy of each message for terminals.
    event.pop("color_message", None)
    return event


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    """Renders a standard ``LogRecord`` (its ``extra`` fields included) as one JSON line."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            _drop_terminal_colours,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


def configure_json_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every log record of the process to ``stream`` (stderr) as JSON at ``level``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(level, getattr(logging, level.upper(), logging.INFO)))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
