"""The document generator: templates, determinism, manifest, ground truth, AAMVA and MRZ correction units."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from openidv.checks.document.aamva import QUIRKS, compose_aamva, format_date, parse_aamva
from openidv.checks.document.mrz import compose_mrz, read_mrz
from openidv.checks.document.mrz_ocr import _clean, correct
from openidv.checks.document.template_spec import load_templates
from openidv.eval.manifests import load_manifest
from openidv.synth.forgeries import SPECIES
from tests.documents_data import AS_OF, clean_set, forgery_set, rows, truth


def test_templates_describe_every_document_kind() -> None:
    templates = load_templates()
    kinds = {t.document_type for t in templates.values()}
    assert kinds == {"passport", "id_card", "driver_licence"}
    assert templates["uto-passport"].mrz_format == "TD3"
    assert templates["uto-id-card"].sides["back"].mrz is not None
    assert all(t.sides["back"].barcode for t in templates.values() if t.document_type == "driver_licence")


def test_manifest_is_what_the_eval_layer_reads() -> None:
    manifest = load_manifest(forgery_set(), check_files=True)
    assert set(manifest.labels) == {"bona_fide", "attack"}
    assert {"document_type", "template", "degradation"} <= set(manifest.slice_columns)
    species = {r["species"] for r in rows(forgery_set()) if r["label"] == "attack"}
    assert species == set(SPECIES)


def test_generation_is_seeded(tmp_path: Path) -> None:
    from openidv.synth.dataset import generate_documents

    a = generate_documents(tmp_path / "a", 1, seed=7, as_of=AS_OF, template_ids=["uto-passport"])
    b = clean_set("uto-passport")
    assert (a.parent / "doc00000_front.jpg").read_bytes() == (b.parent / "doc00000_front.jpg").read_bytes()
    assert truth(a.parent, "doc00000")["mrz"] == truth(b.parent, "doc00000")["mrz"]


def test_ground_truth_mrz_is_valid_and_matches_the_data() -> None:
    folder = clean_set("uto-id-card").parent
    t = truth(folder, "doc00000")
    parsed = read_mrz(t["mrz"], as_of=AS_OF)
    assert parsed.valid and parsed.format == "TD1"
    assert parsed.fields["surname"] == t["data"]["surname"]
    assert parsed.birth_date == date.fromisoformat(t["data"]["birth_date"])
    assert t["files"].keys() == {"front", "back"}


def test_aamva_round_trip_and_quirks() -> None:
    elements = {"DCS": "DOE", "DAC": "JANE", "DAD": "NONE", "DBB": format_date(date(1990, 2, 3), "MMDDCCYY")}
    record = parse_aamva(compose_aamva("636999", elements))
    assert record is not None and record.fields["birth_date"] == "1990-02-03"
    assert record.fields["given_names"] == "JANE"
    canadian = {"DCS": "ROY", "DBB": format_date(date(1990, 2, 3), "CCYYMMDD"), "DCG": "CAN"}
    assert QUIRKS["636998"].date_order == "CCYYMMDD"
    parsed = parse_aamva(compose_aamva("636998", canadian, version=8))
    assert parsed is not None and parsed.fields["birth_date"] == "1990-02-03"
    unknown_issuer = parse_aamva(compose_aamva("600000", canadian))
    assert unknown_issuer is not None and unknown_issuer.fields["birth_date"] == "1990-02-03"
    assert parse_aamva("not a licence") is None


names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(surname=names, first=names, number=st.text(alphabet="0123456789ABCXYZ", min_size=1, max_size=12))
def test_aamva_parse_inverts_compose(surname: str, first: str, number: str) -> None:
    record = parse_aamva(compose_aamva("636999", {"DCS": surname, "DAC": first, "DAQ": number}))
    assert record is not None
    assert (record.fields["surname"], record.fields["first_name"], record.fields["document_number"]) == (
        surname,
        first,
        number,
    )


def test_mrz_correction_uses_positions_and_check_digits() -> None:
    fields = {
        "document_code": "P",
        "issuer": "UTO",
        "surname": "ERIKSSON",
        "given_names": "ANNA MARIA",
        "document_number": "L898902C3",
        "nationality": "UTO",
        "birth_date": "740812",
        "sex": "F",
        "expiry_date": "120415",
        "optional_data": "ZE184226B",
    }
    good = compose_mrz("TD3", fields).split("\n")
    ocr = [good[0].replace("O", "0"), good[1].replace("UTO", "UT0").replace("C3", "CE")[:-6]]
    text, changed = correct([_clean(line, 44) for line in ocr], "TD3", as_of=date(2010, 1, 1))
    assert changed > 0
    assert text.split("\n")[0] == good[0]
    assert read_mrz(text, as_of=date(2010, 1, 1)).fields["issuer"] == "UTO"


def test_clean_fits_filler_runs() -> None:
    assert _clean("P<UTOA<<B<<<", 14) == "P<UTOA<<B<<<<<"
    assert _clean("AB<<<<<<<<C1", 8) == "AB<<<<C1"
    assert len(_clean("", 30)) == 30
