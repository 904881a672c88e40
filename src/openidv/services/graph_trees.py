"""Kept importable: the numpy tree evaluator moved to the base module ``openidv.trees`` so that checks (the
behaviour check's bot model) can use it without importing services."""

from __future__ import annotations

from openidv.trees import BoolArray, FloatArray, IntArray, Trees

__all__ = ["BoolArray", "FloatArray", "IntArray", "Trees"]
