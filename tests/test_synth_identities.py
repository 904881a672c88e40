"""Synthetic onboarding population: determinism, the file format, label counts, each ring typology's
defining trace, innocent sharing (families, hubs), and the CLI."""

from __future__ import annotations

import csv
import ipaddress
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openidv.cli import app
from openidv.synth.identities import (
    APPLICANT_FIELDS,
    INNOCENT_TYPOLOGIES,
    LABEL_COLUMNS,
    RING_TYPOLOGIES,
    Population,
    build,
    generate,
)
from openidv.synth.population.accounts import Labelled

N = 3000
ALPHA3 = {"USA", "GBR", "DEU", "FRA", "ESP"}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Population:
    return generate(N, tmp_path_factory.mktemp("identities"), seed=7, ring_share=0.1)


@pytest.fixture(scope="module")
def accounts() -> list[Labelled]:
    return build(N, seed=7, ring_share=0.1)


def _groups(accounts: list[Labelled], typology: str) -> list[list[dict[str, str | None]]]:
    by: dict[str, list[dict[str, str | None]]] = defaultdict(list)
    for a in accounts:
        if a.typology == typology:
            by[a.group].append(a.record)
    return list(by.values())


def _phone_key(typed: str | None) -> str | None:
    """Last nine digits: enough to see one number under its national and international spellings."""
    digits = re.sub(r"\D", "", typed or "")
    return digits[-9:] or None


def _moment(record: dict[str, str | None]) -> datetime:
    return datetime.fromisoformat(str(record["created_at"]).replace("Z", "+00:00"))


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    files = ("applicants.jsonl", "labels.csv", "rings.csv", "README.md")
    generate(400, tmp_path / "a", seed=3)
    generate(400, tmp_path / "b", seed=3)
    generate(400, tmp_path / "c", seed=4)
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "applicants.jsonl").read_bytes() != (
        tmp_path / "c" / "applicants.jsonl"
    ).read_bytes()


def test_applicants_have_exactly_the_keys_with_the_right_types(written: Population) -> None:
    lines = (written.out / "applicants.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == N
    ids = set()
    previous = ""
    for line in lines:
        rec = json.loads(line)
        assert tuple(rec) == APPLICANT_FIELDS
        assert all(v is None or isinstance(v, str) for v in rec.values())
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rec["created_at"])
        assert rec["created_at"] >= previous  # onboarding order
        previous = rec["created_at"]
        date.fromisoformat(rec["birth_date"])
        if rec["national_id_issued"] is not None:
            date.fromisoformat(rec["national_id_issued"])
            assert rec["national_id"]
        if rec["ip"] is not None:
            assert ipaddress.ip_address(rec["ip"]).version == 4 and ipaddress.ip_address(rec["ip"]).is_global
        assert rec["document_issuer"] in ALPHA3 and rec["document_number"]
        assert rec["country"] in {"US", "GB", "DE", "FR", "ES"}
        assert rec["face_id"] and rec["surname"] and rec["given_names"]
        ids.add(rec["account_id"])
    assert len(ids) == N


def test_labels_count_every_account_once_and_readme_says_synthetic(written: Population) -> None:
    with (written.out / "labels.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == LABEL_COLUMNS and len(rows) == N
    counts = Counter(r["typology"] for r in rows)
    assert sum(counts.values()) == N and counts == Counter({k: v for k, v in written.counts.items() if v})
    assert set(counts) == set(INNOCENT_TYPOLOGIES) | set(RING_TYPOLOGIES)
    for r in rows:
        assert (r["ring_id"] == "") == (r["typology"] in INNOCENT_TYPOLOGIES)
    ring_accounts = sum(counts[t] for t in RING_TYPOLOGIES)
    assert abs(ring_accounts - 0.1 * N) <= 2
    readme = (written.out / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme and "--seed 7" in readme
    for typology, count in written.counts.items():
        assert f"| {typology} |" in readme and f"| {count} |" in readme
    with (written.out / "rings.csv").open(encoding="utf-8") as fh:
        rings = list(csv.DictReader(fh))
    assert len(rings) == written.rings and sum(int(r["size"]) for r in rings) == ring_accounts


def test_device_farms_share_one_device_and_vary_everything_else(accounts: list[Labelled]) -> None:
    farms = _groups(accounts, "device_farm")
    assert farms
    for ring in farms:
        assert len({r["device_id"] for r in ring}) == 1 and ring[0]["device_id"]
        assert len({(r["surname"], r["given_names"]) for r in ring}) > len(ring) // 2
        assert len({r["ip"] for r in ring}) > 1 and len({r["face_id"] for r in ring}) == len(ring)


def test_document_reuse_shares_one_document_under_different_faces(accounts: list[Labelled]) -> None:
    rings = _groups(accounts, "document_reuse")
    assert rings
    for ring in rings:
        assert len({(r["document_number"], r["document_issuer"]) for r in ring}) == 1
        assert len({r["face_id"] for r in ring}) == len(ring)
        assert len({(r["surname"], r["given_names"]) for r in ring}) == len(ring)


def test_face_reuse_shares_one_face_under_different_names_and_documents(accounts: list[Labelled]) -> None:
    rings = _groups(accounts, "face_reuse")
    assert rings
    for ring in rings:
        assert len({r["face_id"] for r in ring}) == 1
        assert len({(r["surname"], r["given_names"]) for r in ring}) == len(ring)
        assert len({r["document_number"] for r in ring}) == len(ring)


def test_synthetic_identities_carry_their_tells(accounts: list[Labelled]) -> None:
    rings = _groups(accounts, "synthetic_identity")
    assert rings
    for ring in rings:
        shared_phone = len({_phone_key(r["phone"]) for r in ring}) == 1
        shared_device = len({r["device_id"] for r in ring}) == 1
        assert shared_phone or shared_device
        days = (max(map(_moment, ring)) - min(map(_moment, ring))).days
        assert days <= 11
        assert all(r["national_id"] and r["national_id_issued"] for r in ring)

    def before_birth(typology_filter: set[str]) -> float:
        recs = [
            a.record for a in accounts if a.typology in typology_filter and a.record["national_id_issued"]
        ]
        return sum(str(r["national_id_issued"]) < str(r["birth_date"]) for r in recs) / len(recs)

    assert before_birth({"synthetic_identity"}) > 0.3
    assert before_birth(set(INNOCENT_TYPOLOGIES)) < 0.01


def test_bust_outs_burst_within_hours_from_one_subnet_with_one_phone(accounts: list[Labelled]) -> None:
    rings = _groups(accounts, "bust_out")
    assert rings
    for ring in rings:
        span = max(map(_moment, ring)) - min(map(_moment, ring))
        assert span.total_seconds() <= 6 * 3600
        assert len({str(r["ip"]).rsplit(".", 1)[0] for r in ring}) == 1
        assert len({_phone_key(r["phone"]) for r in ring}) == 1
        assert len({r["phone"] for r in ring}) > 1 or len(ring) < 4  # typed differently


def test_families_share_an_address_and_often_a_surname(accounts: list[Labelled]) -> None:
    families = [f for f in _groups(accounts, "family") if len(f) > 1]
    assert len(families) > 20
    same_surname = 0
    for fam in families:
        typed = [r["address"] for r in fam if r["address"]]
        # the same dwelling typed differently: its digits (number, unit, postcode) survive every spelling
        assert len({re.sub(r"\D", "", a) for a in typed}) <= 1
        same_surname += len({r["surname"] for r in fam}) == 1
    assert same_surname > len(families) // 3


def test_innocent_hubs_are_common(accounts: list[Labelled]) -> None:
    """Carrier NAT addresses and shop kiosks join unrelated innocent accounts (a naive rule flags them)."""
    by_ip: dict[str, set[str]] = defaultdict(set)
    by_device: dict[str, set[str]] = defaultdict(set)
    for a in accounts:
        if not a.ring_id:
            by_ip[str(a.record["ip"])].add(a.group)
            by_device[str(a.record["device_id"])].add(a.group)
    assert max(len(g) for g in by_ip.values()) >= 5
    assert any(len(g) >= 2 for d, g in by_device.items() if d != "None")


def test_phones_parse_back_to_one_number() -> None:
    phonenumbers = pytest.importorskip("phonenumbers")
    recs = [a.record for a in build(1500, seed=11)]
    valid = 0
    typed = [r for r in recs if r["phone"]]
    for r in typed:
        number = phonenumbers.parse(r["phone"], r["country"])
        valid += phonenumbers.is_valid_number(number)
    assert valid / len(typed) > 0.98


def test_second_accounts_use_mailbox_and_name_variants() -> None:
    recs = [a for a in build(6000, seed=5) if a.typology == "individual"]
    by_face: dict[str, list[dict[str, str | None]]] = defaultdict(list)
    for a in recs:
        by_face[str(a.record["face_id"])].append(a.record)
    pairs = [p for p in by_face.values() if len(p) == 2]
    assert len(pairs) > 20
    mails = [(str(a["email"]), str(b["email"])) for a, b in pairs if a["email"] and b["email"]]
    assert any(a != b and ("+" in a + b or a.lower() != b.lower()) for a, b in mails)
    assert any((a["surname"], a["given_names"]) != (b["surname"], b["given_names"]) for a, b in pairs)
    assert all(a["document_number"] == b["document_number"] for a, b in pairs)


def test_cli_writes_the_population_and_refuses_bad_arguments(tmp_path: Path) -> None:
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["synth", "identities", "--n", "300", "--out", str(out), "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    assert len((out / "applicants.jsonl").read_text(encoding="utf-8").splitlines()) == 300
    assert len((out / "labels.csv").read_text(encoding="utf-8").splitlines()) == 301
    for args, message in (
        (["--n", "0"], "--n must be between"),
        (["--n", "10", "--ring-share", "0.9"], "--ring-share must be between"),
    ):
        bad = CliRunner().invoke(app, ["synth", "identities", *args, "--out", str(tmp_path / "bad")])
        assert bad.exit_code == 2 and message in bad.output
        assert len(bad.output.strip().splitlines()) == 1
    assert CliRunner().invoke(app, ["synth", "identities", "--n", "ten"]).exit_code == 2
    assert not (tmp_path / "bad").exists()


def test_ring_share_zero_and_tiny_populations() -> None:
    assert all(not a.ring_id for a in build(50, seed=1, ring_share=0.0))
    for n in (1, 2, 7, 33, 101):
        for share in (0.05, 0.37, 0.5):
            assert len(build(n, seed=n, ring_share=share)) == n
