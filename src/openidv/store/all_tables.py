"""Imports every module that defines tables, so ``Base.metadata`` is complete for Alembic and tests."""

from openidv.store import gallery_tables, liveness_tables, models

__all__ = ["gallery_tables", "liveness_tables", "models"]
