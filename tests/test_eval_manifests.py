"""Manifests and score files: formats, and one clear error naming the row and column (exit 2 in the CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from openidv.cli import app
from openidv.errors import InvalidInput
from openidv.eval.manifests import ManifestKind, load_manifest
from openidv.eval.scores import align, read_scores
from openidv.results import Status
from tests.test_eval_support import write_csv

SAMPLES = ["id", "path", "subject", "label", "species", "device"]
GOOD_ROWS = [
    ["s1", "f1.png", "p1", "bona_fide", "", "ios"],
    ["s2", "f2.png", "p1", "attack", "print", "ios"],
    ["s3", "f3.png", "p2", "attack", "screen_replay", "android"],
]


def samples(tmp_path: Path, rows: list[list[str]], header: list[str] = SAMPLES) -> Path:
    return write_csv(tmp_path / "m.csv", header, rows)


def test_reads_csv_parquet_and_jsonl_alike(tmp_path: Path) -> None:
    csv_path = samples(tmp_path, GOOD_ROWS)
    frame = pd.DataFrame(GOOD_ROWS, columns=SAMPLES)
    frame.to_parquet(tmp_path / "m.parquet")
    (tmp_path / "m.jsonl").write_text(
        "".join(json.dumps(dict(zip(SAMPLES, r, strict=True))) + "\n" for r in GOOD_ROWS)
    )
    loaded = [load_manifest(p) for p in (csv_path, tmp_path / "m.parquet", tmp_path / "m.jsonl")]
    for m in loaded:
        assert m.kind == ManifestKind.SAMPLES
        assert m.ids == ["s1", "s2", "s3"]
        assert m.slice_columns == ["device"]
        assert m.column("species") == ["", "print", "screen_replay"]


def test_parquet_numbers_become_text(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"id": [1, 2], "a": ["x", "y"], "b": ["y", "z"], "subject_a": [7, 7], "subject_b": [7, 8]}
    )
    frame.to_parquet(tmp_path / "p.parquet")
    m = load_manifest(tmp_path / "p.parquet")
    assert m.kind == ManifestKind.COMPARISONS and m.ids == ["1", "2"] and m.column("subject_b") == ["7", "8"]


@pytest.mark.parametrize(
    ("rows", "header", "expected"),
    [
        (GOOD_ROWS, ["id", "path", "subject", "species", "device"], "missing column 'label'"),
        (
            [*GOOD_ROWS[:1], ["s2", "f2.png", "p1", "atack", "print", "ios"]],
            SAMPLES,
            "row 2 (id=s2), column label: unknown label 'atack'",
        ),
        (
            [*GOOD_ROWS, ["s2", "f4.png", "p3", "bona_fide", "", "ios"]],
            SAMPLES,
            "row 4 (id=s2), column id: duplicate id 's2' (first at row 2)",
        ),
        (
            [*GOOD_ROWS, ["s4", "f4.png", "", "bona_fide", "", "ios"]],
            SAMPLES,
            "row 4 (id=s4), column subject: empty value",
        ),
        (
            [*GOOD_ROWS, ["s4", "f4.png", "p4", "attack", "", "ios"]],
            SAMPLES,
            "row 4 (id=s4), column species: empty species",
        ),
        (
            [*GOOD_ROWS, ["s4", "f4.png", "p4", "fraud", "", "ios"]],
            SAMPLES,
            "row 4 (id=s4), column label: label 'fraud' mixes",
        ),
    ],
    ids=[
        "missing-column",
        "unknown-label",
        "duplicate-id",
        "empty-subject",
        "attack-without-species",
        "mixed-labels",
    ],
)
def test_bad_manifest_names_row_and_column(
    tmp_path: Path, rows: list[list[str]], header: list[str], expected: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        load_manifest(samples(tmp_path, rows, header))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_is_checked_when_a_check_reads_files(tmp_path: Path) -> None:
    m = load_manifest(samples(tmp_path, GOOD_ROWS))  # a score file needs no files
    (tmp_path / "f1.png").write_bytes(b"x")
    with pytest.raises(InvalidInput, match=r"m.csv row 2 \(id=s2\), column path: file not found: f2.png"):
        m.check_files()


def test_unknown_manifest_kind(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot tell its kind"):
        load_manifest(write_csv(tmp_path / "x.csv", ["id", "foo"], [["1", "2"]]))


SCORE_CASES = [
    (
        [["s1", "0.5", "ok"], ["s2", "high", "ok"]],
        ["meaning: attack"],
        "row 2 (id=s2), column score: 'high' is not a number",
    ),
    (
        [["s1", "0.5", "ok"], ["s2", "", "maybe"]],
        ["meaning: attack"],
        "row 2 (id=s2), column status: unknown status 'maybe'",
    ),
    (
        [["s1", "0.5", "ok"], ["s1", "0.2", "ok"]],
        ["meaning: attack"],
        "row 2 (id=s1), column id: duplicate id",
    ),
    ([["s1", "0.5", "ok"]], [], "the score's meaning is not stated"),
    ([["s1", "inf", "ok"]], ["meaning: attack"], "row 1 (id=s1), column score: score 'inf' is not finite"),
    ([["s1", "0.5", "ok"]], ["meaning: sideways"], "unknown meaning 'sideways'"),
]


@pytest.mark.parametrize(
    ("rows", "comments", "expected"),
    SCORE_CASES,
    ids=["nan", "status", "dup", "meaning", "inf", "bad-meaning"],
)
def test_bad_score_file_names_row_and_column(
    tmp_path: Path, rows: list[list[str]], comments: list[str], expected: str
) -> None:
    path = write_csv(tmp_path / "s.csv", ["id", "score", "status"], rows, comments)
    with pytest.raises(InvalidInput) as err:
        read_scores(path)
    assert expected in str(err.value)


def test_score_file_meaning_column_and_alignment(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "s.csv",
        ["id", "score", "status", "meaning"],
        [
            ["s2", "0.9", "ok", "attack"],
            ["s1", "", "failed_to_acquire", "attack"],
            ["s3", "0.1", "ok", "attack"],
        ],
    )
    table = read_scores(path)
    values, statuses, _ = align(table, ["s1", "s2", "s3"], "s.csv")
    assert statuses == [Status.FAILED_TO_ACQUIRE, Status.OK, Status.OK]
    assert values[1] == 0.9
    with pytest.raises(InvalidInput, match=r"s.csv row 3 \(id=s3\), column id: id not in the manifest"):
        align(table, ["s1", "s2"], "s.csv")
    with pytest.raises(InvalidInput, match="no score for manifest id 's4'"):
        align(table, ["s1", "s2", "s3", "s4"], "s.csv")


def test_cli_bad_manifest_exits_2_with_one_line(tmp_path: Path) -> None:
    manifest = samples(tmp_path, [*GOOD_ROWS[:2], ["s3", "f3.png", "p2", "atack", "print", "ios"]])
    scores = write_csv(
        tmp_path / "s.csv", ["id", "score", "status"], [["s1", "0.1", "ok"]], ["meaning: attack"]
    )
    result = CliRunner().invoke(
        app,
        ["eval", "run", "--manifest", str(manifest), "--scores", str(scores), "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 2
    expected = (
        "error: m.csv row 3 (id=s3), column label: unknown label 'atack'; use bona_fide, attack, legit, fraud"
    )
    assert result.stderr.strip() == expected


def test_cli_bad_score_file_exits_2_in_a_real_process(tmp_path: Path) -> None:
    manifest = samples(tmp_path, GOOD_ROWS)
    scores = write_csv(
        tmp_path / "s.csv",
        ["id", "score", "status"],
        [["s1", "0.1", "ok"], ["s2", "x", "ok"]],
        ["meaning: attack"],
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "openidv",
            "eval",
            "run",
            "--manifest",
            str(manifest),
            "--scores",
            str(scores),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: s.csv row 2 (id=s2), column score: 'x' is not a number"
    ]


def test_jsonl_score_file_with_meaning_field(tmp_path: Path) -> None:
    lines = [
        {"id": "s1", "score": 0.2, "status": "ok", "meaning": "attack"},
        {"id": "s2", "score": None, "status": "failed_to_acquire", "meaning": "attack"},
    ]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    table = read_scores(path)
    assert (
        table.ids == ["s1", "s2"] and table.scores[0] == 0.2 and table.status[1] == Status.FAILED_TO_ACQUIRE
    )


def test_csv_with_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("\ufeffid,path,subject,label\ns1,f.png,p1,legit\n", encoding="utf-8")
    assert load_manifest(path).ids == ["s1"]
