"""``openidv synth identities``: a labelled, SYNTHETIC onboarding population with fraud rings.

Writes ``applicants.jsonl`` (one application a line, identifiers as typed), ``labels.csv``
(``account_id,ring_id,typology``), ``rings.csv`` (one line a ring: what its members share) and a README
stating that the data is synthetic, the seed and the counts. The same seed gives byte-identical files.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openidv.errors import InvalidInput
from openidv.synth.population.accounts import FIELDS, Labelled
from openidv.synth.population.groups import GROUPS, INNOCENT_MIX, group_size
from openidv.synth.population.network import Network
from openidv.synth.population.rings import RING_MIX, RINGS, SIZES

INNOCENT_TYPOLOGIES = tuple(INNOCENT_MIX)
RING_TYPOLOGIES = tuple(RING_MIX)
APPLICANT_FIELDS = FIELDS
LABEL_COLUMNS = ("account_id", "ring_id", "typology")
MAX_N = 10_000_000


@dataclass(frozen=True)
class Population:
    """What was written, for the CLI to report and tests to check."""

    out: Path
    n: int
    seed: int
    counts: dict[str, int]
    rings: int


def build(n: int, *, seed: int = 0, ring_share: float = 0.05) -> list[Labelled]:
    """``n`` labelled applications in creation order; about ``ring_share`` of them belong to rings."""
    if not 1 <= n <= MAX_N:
        raise InvalidInput(f"--n must be between 1 and {MAX_N}, got {n}")
    if not 0.0 <= ring_share <= 0.5:
        raise InvalidInput(f"--ring-share must be between 0 and 0.5, got {ring_share}")
    rng = random.Random(seed)
    net = Network(rng)
    accounts: list[Labelled] = []
    ring_count = 0
    for typology, budget in _split(round(n * ring_share), RING_MIX).items():
        lo, hi = SIZES[typology]
        made = 0
        while budget - made >= 2:  # a remainder of one account goes to the innocent population
            ring_count += 1
            ring_id = f"ring_{ring_count:05d}"
            members = RINGS[typology](rng, net, min(rng.randint(lo, hi), budget - made), ring_id)
            for member in members:
                member.group = ring_id
            accounts.extend(members)
            made += len(members)
    for typology, budget in _split(n - len(accounts), INNOCENT_MIX).items():
        _fill(accounts, GROUPS[typology], rng, net, typology, budget)
    _assign_ids(rng, accounts)
    accounts.sort(key=lambda a: (a.created, a.record["account_id"] or ""))
    return accounts


def _fill(
    accounts: list[Labelled],
    make: Callable[[random.Random, Network, int], list[Labelled]],
    rng: random.Random,
    net: Network,
    typology: str,
    budget: int,
) -> None:
    made = 0
    while made < budget:
        size = min(group_size(rng, typology), budget - made)
        group = make(rng, net, size)
        name = f"{typology}_{len(accounts):08d}"
        for account in group:
            account.group = name
        accounts.extend(group)
        made += len(group)


def _split(total: int, mix: dict[str, float]) -> dict[str, int]:
    """Accounts per typology by the mix's shares; the last typology takes the rounding remainder."""
    budgets = {typology: round(total * share) for typology, share in mix.items()}
    last = list(mix)[-1]
    budgets[last] = total - sum(v for k, v in budgets.items() if k != last)
    return budgets


def _assign_ids(rng: random.Random, accounts: list[Labelled]) -> None:
    """Opaque, unique account ids that say nothing about the group an account came from."""
    seen: set[str] = set()
    for a in accounts:
        while True:
            account_id = f"acc_{rng.getrandbits(48):012x}"
            if account_id not in seen:
                seen.add(account_id)
                a.record["account_id"] = account_id
                break


def generate(n: int, out: Path, *, seed: int = 0, ring_share: float = 0.05) -> Population:
    """Build the population and write it under ``out``."""
    accounts = build(n, seed=seed, ring_share=ring_share)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "applicants.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
        fh.writelines(dumps(a.record) + "\n" for a in accounts)
    with (out / "labels.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(LABEL_COLUMNS)
        writer.writerows((a.record["account_id"], a.ring_id, a.typology) for a in accounts)
    rings = _ring_rows(accounts)
    with (out / "rings.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("ring_id", "typology", "size", "first_created_at", "last_created_at", "members"))
        writer.writerows(rings)
    counts = dict(Counter(a.typology for a in accounts))
    counts = {t: counts.get(t, 0) for t in INNOCENT_TYPOLOGIES + RING_TYPOLOGIES}
    (out / "README.md").write_text(_readme(n, seed, ring_share, counts, len(rings)), encoding="utf-8")
    return Population(out, n, seed, counts, len(rings))


def _ring_rows(accounts: list[Labelled]) -> list[tuple[str, str, int, str, str, str]]:
    by_ring: dict[str, list[Labelled]] = {}
    for a in accounts:
        if a.ring_id:
            by_ring.setdefault(a.ring_id, []).append(a)
    rows = []
    for ring_id in sorted(by_ring):
        members = by_ring[ring_id]
        created = [m.record["created_at"] or "" for m in members]
        ids = " ".join(m.record["account_id"] or "" for m in members)
        rows.append((ring_id, members[0].typology, len(members), min(created), max(created), ids))
    return rows


def _readme(n: int, seed: int, ring_share: float, counts: dict[str, int], rings: int) -> str:
    table = "\n".join(
        f"| {t} | {'ring' if t in RING_TYPOLOGIES else 'innocent'} | {c} |" for t, c in counts.items()
    )
    return f"""# SYNTHETIC onboarding population

Every person, name, number, address, device and face id in this folder is SYNTHETIC: made by
`openidv synth identities --n {n} --seed {seed} --ring-share {ring_share}` (openidv.synth.identities).
Numbers are shaped like real ones (valid phone ranges, national-id and document formats) and may
collide with real ones by chance; they belong to nobody here.

- `applicants.jsonl`: one application a line, identifiers as typed (phone and address spellings vary).
- `labels.csv`: `account_id,ring_id,typology`; `ring_id` is empty for innocent accounts.
- `rings.csv`: one line a ring: typology, size, first and last creation time, member account ids.

{n} accounts, {rings} rings, seed {seed}.

| typology | kind | accounts |
|---|---|---|
{table}

How it was made: see docs/graph.md, section "Synthetic population".
"""
