"""Process-wide logging for the server: one JSON object per line on stderr.

Code logs through the standard ``logging`` module (``extra={...}`` adds fields), and so do
uvicorn, Piccolo and Litestar; ``JsonLineFormatter`` renders every record as JSON with a
UTC timestamp, level and logger name - the lines structlog's ``ProcessorFormatter`` chain
(``json_formatter(structlog_chain=True)``, kept as the reference the unit tests compare
with) wrote, at a fraction of its cost: the access log writes one per request, and under
``/predict`` load structlog's processor chain was a tenth of the server's request work.
Nothing logs bodies or headers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec
import structlog

_LEVELS = {"trace": logging.DEBUG}


def _drop_terminal_colours(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # uvicorn passes an ANSI-coloured copy of each message for terminals.
    event.pop("color_message", None)
    return event


# What every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_DROPPED = frozenset({"color_message"})  # uvicorn's ANSI-coloured copy for terminals


def _fallback(value: object) -> str:
    return repr(value)


class JsonLineFormatter(logging.Formatter):
    """A ``LogRecord`` as one JSON object: ``event`` (the message), ``level``, ``logger``,
    the record's ``extra`` fields, ``timestamp`` (ISO-8601 UTC, ``Z``) and, with
    ``exc_info``, ``exception`` (the formatted traceback). Values JSON has no type for are
    written as their ``repr``."""

    def __init__(self) -> None:
        super().__init__()
        self._encode = msgspec.json.Encoder(enc_hook=_fallback).encode

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "event": record.getMessage(),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and key not in _DROPPED:
                line[key] = value
        line["timestamp"] = (
            datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z")
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        try:
            return self._encode(line).decode()
        except (TypeError, ValueError, OverflowError):  # e.g. a dict with odd keys
            return self._encode({k: repr(v) for k, v in line.items()}).decode()


def json_formatter(*, structlog_chain: bool = False) -> logging.Formatter:
    """Renders a standard ``LogRecord`` (its ``extra`` fields included) as one JSON line:
    ``JsonLineFormatter``, or with ``structlog_chain`` the structlog processor chain it
    replaced (the same fields; the reference its tests compare it with)."""
    if not structlog_chain:
        return JsonLineFormatter()
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
