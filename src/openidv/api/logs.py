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


def log_config(log_format: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server: one stderr handler writing ``log_format`` (``json``
    or ``text``) lines for the root logger, to which uvicorn's loggers propagate. It changes no process
    state itself: ``openidv serve`` applies it and hands it to uvicorn, which applies it again in every
    worker process. uvicorn's own access log is turned off there; ``openidv.access`` writes one line per
    request instead, with the request id and the route template."""
    if log_format not in ("json", "text"):
        raise ValueError(f"log format must be json or text, not {log_format!r}")
    propagate = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}, "text": {"format": TEXT_FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {name: dict(propagate) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
