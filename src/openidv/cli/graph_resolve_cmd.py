"""``openidv graph resolve``: batch entity resolution of onboarding applicants (issue 13 point 2).

Reads ``applicants.jsonl`` (the lines of ``openidv synth identities``, or any applicant fields), links
accounts of one person typed differently with Splink, and writes ``DIR/persons.csv``
(``account_id,person_key``; ``person_key`` is ``person:<hash of the smallest member id>``, the identifier
key the graph links on), ``DIR/graph_links.jsonl`` (the accounts of persons with two or more accounts, as
``openidv graph ingest`` lines carrying the ``person:`` key, so the graph links them) and
``DIR/summary.json``. All are written to temporary files first and renamed
only when both are complete, so a failed run leaves DIR as it was.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from openidv.cli.common import friendly_errors
from openidv.errors import InvalidInput


@friendly_errors
def resolve_command(
    applicants: Annotated[Path, typer.Argument(help="JSON lines, one applicant a line (account_id, ...).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for persons.csv and summary.json.")],
    engine: Annotated[str, typer.Option("--engine", help="duckdb (embedded) or spark.")] = "duckdb",
    master: Annotated[str, typer.Option("--master", help="Spark master URL (with --engine spark).")] = (
        "local[2]"
    ),
    threshold: Annotated[
        float, typer.Option("--threshold", help="Match probability at which two accounts are one person.")
    ] = 0.9,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random pairs u is learned from.")] = 0,
) -> None:
    """Find accounts of one person (typed differently) and give each account its person key."""
    from openidv.services.linkage.applicants import applicant_model, frame_of, read_applicants
    from openidv.services.linkage.clusters import person_keys
    from openidv.services.linkage.engines import Engine
    from openidv.services.linkage.resolve import resolve

    if engine not in ("duckdb", "spark"):
        raise InvalidInput(f"--engine must be duckdb or spark, got {engine!r}")
    if not 0.0 < threshold < 1.0:
        raise InvalidInput(f"--threshold must be between 0 and 1 (exclusive), got {threshold}")
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out}: exists and is not a directory")
    start = time.perf_counter()
    records = read_applicants(applicants)
    chosen = Engine(name="spark" if engine == "spark" else "duckdb", master=master)
    result = resolve([frame_of(records)], applicant_model(threshold), engine=chosen, seed=seed)
    keys = person_keys(result.cluster_of)
    sizes = Counter(Counter(keys.values()).values())
    summary: dict[str, Any] = {
        "input": str(applicants),
        "accounts": len(records),
        "pairs_scored": result.candidate_pairs,
        "pairs_at_threshold": len(result.matches()),
        "persons": len(set(keys.values())),
        "persons_with_2_or_more_accounts": sum(n for size, n in sizes.items() if size > 1),
        "cluster_sizes": {str(size): n for size, n in sorted(sizes.items())},
        "threshold_match_probability": threshold,
        "seed": seed,
        "engine": result.engine,
        "training": result.training,
        "seconds": round(time.perf_counter() - start, 3),
        "seconds_by_step": {k: round(v, 3) for k, v in result.seconds.items()},
    }
    members = Counter(keys.values())
    links = [
        {
            "account_id": r["unique_id"],
            "created_at": r.get("created_at"),
            "identifiers": [keys[r["unique_id"]]],
        }
        for r in records
        if r["unique_id"] is not None and members[keys[r["unique_id"]]] > 1
    ]
    for link in links:
        if link["created_at"] is None:
            del link["created_at"]
    _write(out, [(r["unique_id"] or "", keys[r["unique_id"] or ""]) for r in records], links, summary)
    typer.echo(
        f"{len(records)} account(s), {summary['persons']} person(s), "
        f"{summary['persons_with_2_or_more_accounts']} with two or more accounts; wrote {out}/persons.csv, "
        f"{out}/graph_links.jsonl and {out}/summary.json"
    )


def _write(
    out: Path, rows: list[tuple[str, str]], links: list[dict[str, Any]], summary: dict[str, Any]
) -> None:
    """Every file complete under a temporary name first, then renamed into place."""
    out.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        with tempfile.NamedTemporaryFile(
            "w", dir=out, prefix=".persons-", suffix=".tmp", delete=False, newline="", encoding="utf-8"
        ) as handle:
            staged.append((handle.name, out / "persons.csv"))
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["account_id", "person_key"])
            writer.writerows(rows)
        with tempfile.NamedTemporaryFile(
            "w", dir=out, prefix=".links-", suffix=".tmp", delete=False, encoding="utf-8"
        ) as handle:
            staged.append((handle.name, out / "graph_links.jsonl"))
            handle.writelines(json.dumps(link, sort_keys=True) + "\n" for link in links)
        with tempfile.NamedTemporaryFile(
            "w", dir=out, prefix=".summary-", suffix=".tmp", delete=False, encoding="utf-8"
        ) as handle:
            staged.append((handle.name, out / "summary.json"))
            handle.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        for temporary, final in staged:
            os.replace(temporary, final)
    finally:
        for temporary, _final in staged:
            if os.path.exists(temporary):
                os.unlink(temporary)
