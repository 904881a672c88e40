"""Train a ``LinkageModel`` on the records themselves, score the candidate pairs, cluster them.

Training is unsupervised (no labels): u from random pairs (seeded), m by expectation maximisation on the
model's EM blocking rules, the prior from deterministic rules with a stated recall. Clustering is
connected components over pairs at or above the match-probability threshold.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from openidv.errors import InvalidInput
from openidv.services.linkage.engines import Engine, database_api
from openidv.services.linkage.model import LinkageModel

Pair = tuple[str, str]


@dataclass(frozen=True)
class Resolution:
    """What one run found: scored pairs (at or above ``keep_above``), clusters, and what it cost."""

    #: (smaller id, larger id) -> match probability, for every scored pair at or above ``keep_above``
    scores: dict[Pair, float]
    #: record id -> engine cluster id (every input record, singletons included)
    cluster_of: dict[str, str]
    #: candidate pairs the blocking rules produced (all of them scored)
    candidate_pairs: int
    threshold: float
    seconds: dict[str, float] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def matches(self, threshold: float | None = None) -> set[Pair]:
        """Pairs whose match probability reaches ``threshold`` (default: the run's)."""
        cut = self.threshold if threshold is None else threshold
        return {pair for pair, p in self.scores.items() if p >= cut}


def _pair(left: Any, right: Any) -> Pair:
    a, b = str(left), str(right)
    return (a, b) if a <= b else (b, a)


def resolve(
    frames: Sequence[Any],
    model: LinkageModel,
    *,
    engine: Engine | None = None,
    seed: int = 0,
    threshold: float | None = None,
    keep_above: float | None = None,
) -> Resolution:
    """Run ``model`` over pandas frames (one for dedupe, two for link-only) with a ``unique_id`` column.

    ``keep_above`` (default: the threshold) is the lowest probability whose pairs come back in ``scores``;
    pass 0.0 to get every candidate pair (the FEBRL evaluation measures blocking recall that way).
    """
    from splink import Linker

    engine = engine or Engine()
    cut = model.threshold if threshold is None else threshold
    if not 0.0 < cut < 1.0:
        raise InvalidInput(f"--threshold must be between 0 and 1 (exclusive), got {cut}")
    expected = 1 if model.link_type == "dedupe_only" else 2
    if len(frames) != expected:
        raise InvalidInput(f"{model.name}: {model.link_type} takes {expected} table(s), got {len(frames)}")
    keep = cut if keep_above is None else keep_above
    if min(len(frame) for frame in frames) == 0 or sum(len(frame) for frame in frames) < 2:
        # nothing to pair (Splink divides by the number of possible pairs): everyone is their own person
        ids = [str(uid) for frame in frames for uid in frame["unique_id"]]
        return Resolution({}, {uid: uid for uid in ids}, 0, cut, {}, engine.describe(), {"trained": False})
    seconds: dict[str, float] = {}
    logging.getLogger("splink").setLevel(logging.ERROR)
    with database_api(engine) as db_api:
        start = time.perf_counter()
        run = uuid.uuid4().hex[:8]  # a shared Spark session keeps earlier runs' views
        tables = [
            db_api.register(frame, table_name=f"openidv_input_{i}_{run}") for i, frame in enumerate(frames)
        ]
        linker = Linker(tables if expected == 2 else tables[0], model.settings(), log_level=None)
        records = sum(len(frame) for frame in frames)
        trained = _train(linker, model, records, seed)
        seconds["train"] = time.perf_counter() - start
        start = time.perf_counter()
        predictions = linker.inference.predict(threshold_match_probability=None)
        candidates, scores = _read_scores(predictions, keep)
        seconds["predict"] = time.perf_counter() - start
        start = time.perf_counter()
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=cut
        )
        table = clusters.as_pandas_dataframe()  # type: ignore[no-untyped-call]
        cluster_of = {
            str(left): str(cluster)
            for left, cluster in zip(table["unique_id"], table["cluster_id"], strict=True)
        }
        seconds["cluster"] = time.perf_counter() - start
        described = engine.describe()
    return Resolution(scores, cluster_of, candidates, cut, seconds, described, trained)


def _train(linker: Any, model: LinkageModel, records: int, seed: int) -> dict[str, Any]:
    """Unsupervised training; returns how it went (prior and its source, whether EM ran)."""
    linker.training.estimate_probability_two_random_records_match(
        list(model.deterministic), recall=model.deterministic_recall
    )
    settings = linker._settings_obj  # Splink keeps the prior here; there is no public setter
    source = "deterministic rules"
    if settings._probability_two_random_records_match <= 0.0:
        pairs = records * (records - 1) / 2 if model.link_type == "dedupe_only" else (records / 2) ** 2
        settings._probability_two_random_records_match = min(
            0.5, model.prior_matches_per_record * records / max(pairs, 1.0)
        )
        source = "prior_matches_per_record (the deterministic rules found no pair)"
    linker.training.estimate_u_using_random_sampling(
        max_pairs=model.u_max_pairs, seed=seed, min_count_per_level=None, num_chunks=1
    )
    for rule in model.em_blocking:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    return {
        "prior_match_probability": float(settings._probability_two_random_records_match),
        "prior_source": source,
        "em_blocking": list(model.em_blocking),
        "u_max_pairs": model.u_max_pairs,
        "seed": seed,
    }


def _read_scores(predictions: Any, keep: float) -> tuple[int, dict[Pair, float]]:
    """How many pairs were scored, and those at or above ``keep`` (read through the engine's SQL)."""
    total = predictions.db_api.query_sql(
        f"select count(*) as n from {predictions.physical_name}", output_type="pandas"
    )
    kept = predictions.db_api.query_sql(
        f"select unique_id_l, unique_id_r, match_probability from {predictions.physical_name} "
        f"where match_probability >= {float(keep)!r}",
        output_type="pandas",
    )
    scores = {
        _pair(left, right): float(p)
        for left, right, p in zip(
            kept["unique_id_l"], kept["unique_id_r"], kept["match_probability"], strict=True
        )
    }
    return int(total["n"].iloc[0]), scores
