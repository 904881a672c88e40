"""A linkage model as data: what Splink compares, which pairs it looks at, how it trains.

Engine-free on purpose: the same ``LinkageModel`` runs on DuckDB and on Spark, which is what makes the
two engines' clusters comparable (tests/test_graph_linkage.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

LinkType = Literal["dedupe_only", "link_only"]


@dataclass(frozen=True)
class LinkageModel:
    """Splink settings plus the training recipe.

    ``comparisons`` is a factory (Splink's comparison creators are built lazily so that importing this
    module never imports Splink). ``blocking`` are SQL conditions on ``l`` and ``r`` whose union gives the
    candidate pairs; ``em_blocking`` the rules EM estimates m on (each leaves the others' columns free);
    ``deterministic`` plus ``deterministic_recall`` estimate the prior match probability; where they find
    no pair at all (a small population) the prior is ``prior_matches_per_record`` expected matches per
    record instead. With no ``em_blocking`` rules EM does not run and the m values set on the comparisons
    stand.
    """

    name: str
    link_type: LinkType
    comparisons: Callable[[], Sequence[Any]]
    blocking: tuple[str, ...]
    em_blocking: tuple[str, ...]
    deterministic: tuple[str, ...]
    deterministic_recall: float
    threshold: float = 0.9
    u_max_pairs: float = 2e6
    prior_matches_per_record: float = 0.01
    retain: tuple[str, ...] = field(default_factory=tuple)

    def settings(self) -> Any:
        """Splink's ``SettingsCreator`` for this model (imports Splink)."""
        from splink import SettingsCreator

        return SettingsCreator(
            link_type=self.link_type,
            unique_id_column_name="unique_id",
            comparisons=list(self.comparisons()),
            blocking_rules_to_generate_predictions=cast(Any, list(self.blocking)),  # SQL strings are accepted
            retain_intermediate_calculation_columns=False,
            retain_matching_columns=False,
            additional_columns_to_retain=list(self.retain),
        )
