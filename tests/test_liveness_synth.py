"""Attack simulators: labelled species, the samples manifest, determinism, and the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from openidv.cli import app
from openidv.imageio import load_image
from openidv.synth.attacks.dataset import MANIFEST_COLUMNS, make_sample
from openidv.synth.attacks.sources import face_sources


def test_synth_attacks_cli_writes_a_labelled_manifest(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "attacks"
    result = CliRunner().invoke(app, ["synth", "attacks", "--n", "11", "--out", str(out), "--seed", "5"])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in (out / "manifest.csv").read_text().splitlines() if not ln.startswith("#")]
    rows = list(csv.DictReader(lines))
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    species = {r["species"] for r in rows}
    assert species == {"", "print", "screen_replay", "mask", "deepfake"}
    for r in rows:
        assert (r["label"] == "bona_fide") == (r["species"] == "")
        assert r["subject"] and load_image(out / r["path"]).width == 360


def test_samples_are_deterministic_and_come_from_real_faces(shared_data: Path) -> None:
    sources = face_sources()
    assert len({s.subject for s in sources}) >= 5 and all(
        s.kind in {"photo", "video", "package"} for s in sources
    )
    a = make_sample(3, 42, "screen_replay", sources)
    b = make_sample(3, 42, "screen_replay", sources)
    c = make_sample(4, 42, "screen_replay", sources)
    assert a.jpeg == b.jpeg and a.jpeg != c.jpeg
    swap = make_sample(7, 42, "deepfake", sources)
    assert (
        swap.subject != sources[[s.id for s in sources].index(swap.source)].subject
    )  # the pasted face's person


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "attacks", "--n", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "at least 1" in result.output
    result = CliRunner().invoke(
        app, ["synth", "attacks", "--n", "2", "--out", str(tmp_path), "--kinds", "hologram"]
    )
    assert result.exit_code == 2 and "unknown kind" in result.output
