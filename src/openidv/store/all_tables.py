"""Imports every module that defines tables, so ``Base.metadata`` is complete for Alembic and tests."""

from openidv.store import (
    console_tables,
    gallery_tables,
    graph_tables,
    liveness_tables,
    models,
    queue_tables,
    review_tables,
    telemetry_tables,
    vendor_call_tables,
)

__all__ = [
    "console_tables",
    "gallery_tables",
    "graph_tables",
    "liveness_tables",
    "models",
    "queue_tables",
    "review_tables",
    "telemetry_tables",
    "vendor_call_tables",
]
