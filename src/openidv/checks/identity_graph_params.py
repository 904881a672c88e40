"""Parameters of the ``graph`` check (a module that imports pydantic and little else, for the registry)."""

from __future__ import annotations

from openidv.checks.base import CheckParams


class GraphParams(CheckParams):
    """The ``graph`` check has no tunable parameters yet: link weights and the model live in the artifact,
    the ring threshold in the policy (``checks.graph.thresholds.ring``)."""
