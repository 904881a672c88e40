"""Write datasets/faces/pairs.csv, samples.csv and search.csv from ../shared/data/faces/manifest.csv.

pairs.csv (a comparisons manifest, 1:1): every pair of single-face photos; genuine when subject_a ==
subject_b, impostor otherwise. samples.csv (the 1:N split, columns id, path, subject, label): the first
photo (in name order) of each identity with two or more photos is enrolled (label ``enroll``); every other
photo is a search (label ``probe``): mated when its identity is enrolled, non-mated otherwise.
search.csv: the same split as a comparisons manifest (every probe against every enrolled photo), the form
``openidv eval run --task identification`` reads. Group photos (two or more faces, no single identity)
are left out. Paths are relative to the manifest file.

    python scripts/make_face_manifests.py
"""

from __future__ import annotations

import csv
import itertools
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "datasets" / "faces"


def main() -> None:
    with (SHARED / "faces" / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["identity"] and r["faces"] == "1"]
    rows.sort(key=lambda r: r["path"])
    OUT.mkdir(parents=True, exist_ok=True)

    def rel(path: str) -> str:
        return os.path.relpath(SHARED / path, OUT).replace(os.sep, "/")

    with (OUT / "pairs.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "a", "b", "subject_a", "subject_b"])
        for i, (a, b) in enumerate(itertools.combinations(rows, 2), start=1):
            writer.writerow([f"p{i:03d}", rel(a["path"]), rel(b["path"]), a["identity"], b["identity"]])

    counts: dict[str, int] = {}
    for r in rows:
        counts[r["identity"]] = counts.get(r["identity"], 0) + 1
    enrolled: set[str] = set()
    with (OUT / "samples.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "path", "subject", "label"])
        for i, r in enumerate(rows, start=1):
            subject = r["identity"]
            label = "probe"
            if counts[subject] >= 2 and subject not in enrolled:
                enrolled.add(subject)
                label = "enroll"
            writer.writerow([f"s{i:03d}", rel(r["path"]), subject, label])

    # the same 1:N split as a comparisons manifest (each probe against every enrolled photo), the form
    # `openidv eval run --task identification` reads
    enrol = [r for r in rows if r["identity"] in enrolled]
    first = {}
    for r in enrol:
        first.setdefault(r["identity"], r)
    gallery = list(first.values())
    probes = [r for r in rows if r not in gallery]
    with (OUT / "search.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "a", "b", "subject_a", "subject_b"])
        n = 0
        for probe in probes:
            for entry in gallery:
                n += 1
                writer.writerow(
                    [
                        f"q{n:03d}",
                        rel(probe["path"]),
                        rel(entry["path"]),
                        probe["identity"],
                        entry["identity"],
                    ]
                )


if __name__ == "__main__":
    main()
