"""Imports every module that defines tables, so ``Base.metadata`` is complete for Alembic and tests."""

from openidv.store import (
    gallery_tables,
    graph_tables,
    liveness_tables,
    models,
    queue_tables,
    telemetry_tables,
    vendor_call_tables,
)

__all__ = [
    "gallery_tables",
    "graph_tables",
    "liveness_tables",
    "models",
    "queue_tables",
    "telemetry_tables",
    "vendor_call_tables",
]
