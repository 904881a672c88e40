"""Server logs: one JSON object per line, each with the request id (``openidv serve``; ``text`` on request).

Every line has ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and ``request_id`` (from
``openidv.errors.REQUEST_ID``, set by ``RequestGuard`` for the whole request, checks included; ``null``
outside a request). Access lines (logger ``openidv.access``) add ``method``, ``route`` (the route template,
never the raw path), ``status`` and ``latency_ms``. A logged exception adds ``exc_type`` and ``exc``.

What openidv logs never holds request bodies, names, dates, document numbers, MRZ lines, images or
embeddings: access lines name the route template only, and a check's exception is logged with an
``error_id`` (``tests/test_observability.py`` runs verifications with known personal values at DEBUG and
scans every record).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from openidv.errors import REQUEST_ID

#: attributes of a record copied into the JSON line when present (passed as ``extra=``)
EXTRA_FIELDS = ("method", "route", "status", "latency_ms", "error_id", "component")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id(record),
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def _request_id(record: logging.LogRecord) -> str | None:
    given = getattr(record, "request_id", None)
    return str(given) if given not in (None, "-") else REQUEST_ID.get()


class RequestIdFilter(logging.Filter):
    """Puts the request id on every record (for the text format's ``%(request_id)s``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get() or "-"
        return True


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def log_handler(log_format: str = "json") -> logging.Handler:
    """A stderr handler writing ``log_format`` (``json`` or ``text``) lines. It changes no process state:
    ``openidv serve``, which owns its process, installs it on the root logger (uvicorn's loggers propagate
    to it; uvicorn's own access log is off, ``openidv.access`` writes one line per request instead)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return handler
