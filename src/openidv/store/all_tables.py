"""Imports every module that defines tables, so ``Base.metadata`` is complete for Alembic and tests."""

from openidv.store import models

__all__ = ["models"]
