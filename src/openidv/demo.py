"""``openidv demo``: sample applicants through the whole pipeline on the embedded default (SQLite).

The MRZ applicants are synthetic: MRZs are composed with correct check digits by ``compose_mrz`` and then
some are deliberately broken. The face applicants use the real photos in ``../shared/data/faces`` (found
through ``OPENIDV_SHARED_DATA`` or beside the working directory): a genuine match, an impostor, a photo
that fails quality, and a face already enrolled under another identity. Each row shows one behaviour of
the policy; the demo's database and gallery (with a throw-away key) live in the output folder.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from openidv import demo_sessions
from openidv.checks.document.mrz import compose_mrz
from openidv.checks.face.params import FaceDuplicateParams
from openidv.crypto import load_keyring
from openidv.decision.policy import Policy, load_policy
from openidv.evidence import DeclaredData, Evidence
from openidv.imageio import load_image
from openidv.services import Services, Verifier
from openidv.services.captures import SqlCaptureIndex
from openidv.services.device_reputation import MemoryDeviceReputation
from openidv.services.face_gallery import GalleryService
from openidv.services.graph_service import GraphService
from openidv.services.liveness import LivenessService
from openidv.settings import Settings
from openidv.store.audit import AuditLog
from openidv.store.repository import Store
from openidv.verification import VerificationRecord


@dataclass(frozen=True)
class SampleApplicant:
    label: str
    expected: str
    evidence: Evidence


def _yymmdd(d: date) -> str:
    return d.strftime("%y%m%d")


def _years_from(today: date, years: int) -> date:
    return today.replace(year=today.year + years, day=min(today.day, 28))


def sample_applicants(today: date | None = None) -> list[SampleApplicant]:
    today = today or date.today()
    valid_until = _yymmdd(_years_from(today, 6))
    passport = {
        "document_code": "P",
        "issuer": "UTO",
        "surname": "ERIKSSON",
        "given_names": "ANNA MARIA",
        "document_number": "L898902C3",
        "nationality": "UTO",
        "birth_date": "740812",
        "sex": "F",
        "expiry_date": valid_until,
        "optional_data": "ZE184226B",
    }
    anna = DeclaredData(surname="Eriksson", given_names="Anna Maria", birth_date=date(1974, 8, 12))
    genuine = compose_mrz("TD3", passport)
    line1, line2 = genuine.split("\n")
    tampered = line1 + "\n" + line2[:13] + "8" + line2[14:]  # birth year 74 -> 84, check digits untouched
    german = compose_mrz(
        "TD3",
        {
            **passport,
            "issuer": "D",
            "nationality": "D",
            "surname": "MUELLER",
            "given_names": "JOERG",
            "document_number": "C01X00T47",
            "birth_date": "850303",
            "sex": "M",
            "optional_data": "",
        },
    )
    minor_birth = _years_from(today, -15)
    minor = compose_mrz(
        "TD1", {**passport, "document_code": "I", "birth_date": _yymmdd(minor_birth), "optional_data": ""}
    )
    card = compose_mrz(
        "TD1", {**passport, "document_code": "I", "document_number": "D23145890", "optional_data": ""}
    )
    td2 = compose_mrz(
        "TD2", {**passport, "document_code": "I", "document_number": "D23145890", "optional_data": ""}
    )
    visa = compose_mrz(
        "MRV-A",
        {
            **passport,
            "document_code": "V",
            "nationality": "XXX",
            "document_number": "L8988901C",
            "optional_data": "",
        },
    )
    specimen = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
    return [
        SampleApplicant(
            "UTO passport MRZ only, data as declared: no photo to approve on",
            "review",
            Evidence(mrz_text=genuine, declared=anna),
        ),
        SampleApplicant(
            "German passport MRZ only, declared 'Jörg Müller'",
            "review",
            Evidence(
                mrz_text=german,
                declared=DeclaredData(surname="Müller", given_names="Jörg", birth_date=date(1985, 3, 3)),
            ),
        ),
        SampleApplicant("UTO visa (MRV-A) MRZ only", "review", Evidence(mrz_text=visa, declared=anna)),
        SampleApplicant("birth date edited in the MRZ", "reject", Evidence(mrz_text=tampered, declared=anna)),
        SampleApplicant(
            "ICAO specimen passport, expired 2012", "reject", Evidence(mrz_text=specimen, declared=anna)
        ),
        SampleApplicant(
            "identity card of a 15-year-old",
            "reject",
            Evidence(
                mrz_text=minor,
                declared=DeclaredData(surname="Eriksson", given_names="Anna Maria", birth_date=minor_birth),
            ),
        ),
        SampleApplicant(
            "identity card, someone else's name declared",
            "review",
            Evidence(
                mrz_text=card,
                declared=DeclaredData(surname="Lopez", given_names="Maria", birth_date=date(1974, 8, 12)),
            ),
        ),
        SampleApplicant(
            "TD2 card, declared birth date differs",
            "review",
            Evidence(
                mrz_text=td2,
                declared=DeclaredData(surname="Eriksson", given_names="Anna", birth_date=date(1975, 8, 12)),
            ),
        ),
    ]


FACE_CASES = (
    # label, expected outcome, selfie, document photo, applicant id
    (
        "face: genuine (real selfie, passport with the same face)",
        "approve",
        "obama/obama2.jpg",
        "obama/obama3.jpg",
        "applicant-2001",
    ),
    (
        "face: impostor (passport carries another face)",
        "reject",
        "alex_lacamoire/alex1.jpg",
        "biden/biden1.jpg",
        "applicant-2002",
    ),
    (
        "face: selfie partly outside the frame",
        "review",
        "obama/obama7_partial.jpg",
        "obama/obama1.jpg",
        "applicant-2003",
    ),
    (
        "face: already enrolled as customer-1002",
        "review",
        "rose_leslie/rose2.jpg",
        "rose_leslie/rose1.jpg",
        "applicant-2004",
    ),
)
ENROLLED = (
    ("customer-1001", "kit_harington/kit1.jpg"),
    ("customer-1002", "rose_leslie/rose1.jpg"),
    ("customer-1003", "lin_manuel_miranda/lin1.png"),
)


#: simulated presentation attacks (openidv.synth.attacks, seed 2026): label, expected, species, sample index
ATTACK_CASES = (
    ("liveness: printed photo held to the camera (simulated)", "reject", "print", 1),
    ("liveness: photo replayed on a screen (simulated)", "reject", "screen_replay", 0),
    # a documented limit of the default PAD model (backbones trained on real print/replay, not paper masks):
    # passive PAD lets this one through; the 1:N duplicate search (an enrolled face) sends it to review, and
    # active liveness (challenges) is what stops a mask
    ("liveness: paper mask of an enrolled person (simulated; passive PAD misses it)", "review", "mask", 0),
    ("liveness: face swap (simulated deepfake)", "review", "deepfake", 2),
)
ATTACK_SEED = 2026


def attack_applicants(shared_data: Path, out_dir: Path) -> list[SampleApplicant]:
    """Simulated attacks rendered from the real photos, plus the genuine selfie submitted a second time."""
    from openidv.synth.attacks.dataset import make_sample
    from openidv.synth.attacks.sources import face_sources

    sources = face_sources(shared_data)
    applicants = []
    for label, expected, species, index in ATTACK_CASES:
        sample = make_sample(index, ATTACK_SEED, species, sources, prefix="demo-")
        evidence = Evidence(
            selfie=load_image(sample.jpeg, name=sample.id), subject_id=f"applicant-{sample.id}"
        )
        applicants.append(SampleApplicant(label, expected, evidence))
    _, _, selfie, document, _ = FACE_CASES[0]
    faces = shared_data / "faces"
    replay = Evidence(
        selfie=load_image(faces / selfie, name=f"faces/{selfie}"),
        document_image=load_image(
            passport_photo(faces / document, out_dir / "documents", 0), name="passport"
        ),
        subject_id="applicant-3001",
    )
    applicants.append(SampleApplicant("liveness: the genuine selfie submitted again", "reject", replay))
    return applicants


#: synthetic documents (openidv.synth, seed 2026, clean capture): label, expected, forgery species, index
DOCUMENT_CASES = (
    ("document: genuine driver licence (front + PDF417 back), no selfie", "review", "", 1),
    ("document: portrait substituted", "review", "portrait_substitution", 1),
    ("document: date edited on the front, barcode disagrees", "reject", "edited_text", 1),
    ("document: printed zone disagrees with the MRZ", "reject", "mrz_viz_mismatch", 0),
    ("document: barcode disagrees with the front", "reject", "barcode_mismatch", 0),
    ("document: photographed off a screen", "reject", "screen_recapture", 1),
    ("document: printed and re-scanned copy", "review", "print_scan", 1),
    ("document: security features missing", "review", "missing_security", 1),
)


def document_applicants(shared_data: Path, out_dir: Path) -> list[SampleApplicant]:
    """Generated document photos, genuine and forged, read and judged by the document checks."""
    from openidv.checks.document.template_spec import load_templates
    from openidv.synth.assets import portrait_sources
    from openidv.synth.dataset import generate_one

    folder = out_dir / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    portraits = portrait_sources(shared_data / "faces")
    templates = list(load_templates().values())
    applicants = []
    for label, expected, species, index in DOCUMENT_CASES:
        generated = generate_one(
            index,
            species,
            seed=2026,
            as_of=date.today(),
            degradation="clean",
            rotate180=False,
            portraits=portraits,
            templates=templates,
            out_dir=folder,
        )
        files = generated.truth["files"]
        back = load_image(folder / files["back"], name=files["back"]) if "back" in files else None
        evidence = Evidence(
            document_image=load_image(folder / files["front"], name=files["front"]), document_back=back
        )
        applicants.append(SampleApplicant(label, expected, evidence))
    return applicants


def find_shared_data() -> Path | None:
    """``$OPENIDV_SHARED_DATA``, else ``../shared/data`` beside the working directory or the source tree."""
    candidates = [
        os.environ.get("OPENIDV_SHARED_DATA"),
        Path.cwd().parent / "shared" / "data",
        Path(__file__).resolve().parents[3] / "shared" / "data",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "faces").is_dir():
            return Path(candidate)
    return None


def passport_photo(portrait: Path, out_dir: Path, index: int) -> Path:
    """A synthetic UTO passport data page carrying ``portrait``, photographed cleanly (openidv.synth)."""
    from openidv.checks.document.template_spec import load_templates
    from openidv.synth.assets import PortraitSource
    from openidv.synth.dataset import generate_one

    out_dir.mkdir(parents=True, exist_ok=True)
    generated = generate_one(
        index,
        "",
        seed=2026,
        as_of=date.today(),
        degradation="clean",
        rotate180=False,
        portraits=[PortraitSource(path=portrait, identity=portrait.parent.name)],
        templates=[load_templates()["uto-passport"]],
        out_dir=out_dir,
    )
    front: str = generated.truth["files"]["front"]
    return out_dir / front


def face_applicants(shared_data: Path, out_dir: Path) -> list[SampleApplicant]:
    """Real selfies against synthetic passports that carry a real portrait of the same or another person.
    The genuine applicant's session carries a real person's mouse movements (``demo_sessions``)."""
    faces = shared_data / "faces"
    applicants = []
    for index, (label, expected, selfie, document, subject) in enumerate(FACE_CASES):
        photo = passport_photo(faces / document, out_dir / "documents", index)
        evidence = Evidence(
            selfie=load_image(faces / selfie, name=f"faces/{selfie}"),
            document_image=load_image(photo, name=f"passport with faces/{document}"),
            subject_id=subject,
            telemetry=demo_sessions.human_session(shared_data) if index == 0 else None,
        )
        applicants.append(SampleApplicant(label, expected, evidence))
    return applicants


def session_applicants() -> list[SampleApplicant]:
    """Genuine passport data typed by a script: once in an ordinary browser (the pointer gives it away), once
    in a browser that says it is automated."""
    today = date.today()
    passport = compose_mrz(
        "TD3",
        {
            "document_code": "P",
            "issuer": "UTO",
            "surname": "ERIKSSON",
            "given_names": "ANNA MARIA",
            "document_number": "L898902C3",
            "nationality": "UTO",
            "birth_date": "740812",
            "sex": "F",
            "expiry_date": _yymmdd(_years_from(today, 6)),
            "optional_data": "ZE184226B",
        },
    )
    anna = DeclaredData(surname="Eriksson", given_names="Anna Maria", birth_date=date(1974, 8, 12))
    return [
        SampleApplicant(
            "session: pointer moved by a script (straight lines; SYNTHETIC)",
            "review",
            Evidence(mrz_text=passport, declared=anna, telemetry=demo_sessions.scripted_session()),
        ),
        SampleApplicant(
            "session: browser driven by automation (navigator.webdriver; SYNTHETIC)",
            "reject",
            Evidence(mrz_text=passport, declared=anna, telemetry=demo_sessions.automated_session()),
        ),
    ]


def demo_services(store: Store, out_dir: Path, shared_data: Path | None, policy: Policy) -> Services:
    """The demo's services on its own database: a gallery with a throw-away key holding three enrolled
    customers (when the shared photos are there), the capture index, liveness sessions, the identity graph,
    in-process device reputation."""
    gallery = GalleryService(
        store.engine, out_dir / "galleries", cipher=store.keyring, policy=policy, audit_log=store.audit
    )
    if shared_data is not None:
        name = FaceDuplicateParams.model_validate(policy.params("face_duplicate")).gallery
        for subject, photo in ENROLLED:
            gallery.enroll(name, subject, load_image(shared_data / "faces" / photo, name=photo))
    captures = SqlCaptureIndex(store.engine)  # replayed captures are caught across applicants
    return Services(
        face_gallery=gallery,
        capture_index=captures,
        liveness_sessions=LivenessService(store.engine, index=captures, policy=policy, audit_log=store.audit),
        identity_graph=GraphService.from_store(store, Settings(data_dir=out_dir)),
        device_reputation=MemoryDeviceReputation(),
    )


def run_demo(out_dir: Path, console: Console | None = None) -> list[dict[str, Any]]:
    """Run the sample applicants, store them in SQLite under ``out_dir``, print and write the decisions."""
    console = console or Console(width=None if sys.stdout.isatty() else 150)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("openidv.sqlite3", "openidv.sqlite3-wal", "openidv.sqlite3-shm", "audit-checkpoints.jsonl"):
        (out_dir / stale).unlink(missing_ok=True)  # a fresh demo each run: its gallery key is throw-away
    shutil.rmtree(out_dir / "galleries", ignore_errors=True)
    shutil.rmtree(out_dir / "documents", ignore_errors=True)
    # one throw-away key ring seals the demo's personal fields and templates alike; the demo's audit key and
    # checkpoints live beside its database (keys/audit.key, created on first run)
    store = Store.from_url(
        f"sqlite:///{out_dir / 'openidv.sqlite3'}",
        # the demo's own key (``<out>/keys/biometric.key``), so `openidv serve` on the same folder opens
        # the review cases' sealed images in the console
        keyring=load_keyring(Settings(data_dir=out_dir), demo=True),
        audit_log=AuditLog.from_settings(Settings(data_dir=out_dir), demo=True),
    )
    policy = load_policy()
    applicants = sample_applicants() + session_applicants()
    shared_data = find_shared_data()
    if shared_data is None:
        console.print(
            "[yellow]../shared/data not found (set OPENIDV_SHARED_DATA): skipping the face cases[/]"
        )
    else:
        applicants += document_applicants(shared_data, out_dir)
        applicants += face_applicants(shared_data, out_dir) + attack_applicants(shared_data, out_dir)
    verifier = Verifier(policy, demo_services(store, out_dir, shared_data, policy), store)
    rows: list[dict[str, Any]] = []
    table = Table(title=f"openidv demo (policy {policy.version})")
    for column in ("applicant", "decision", "expected", "reason codes", "ms"):
        table.add_column(column)
    for applicant in applicants:
        record = verifier.verify(applicant.evidence, actor="demo")
        rows.append(_row(applicant, record))
        colour = {"approve": "green", "review": "yellow", "reject": "red"}[record.decision.outcome.value]
        table.add_row(
            applicant.label,
            f"[{colour}]{record.decision.outcome.value}[/]",
            applicant.expected,
            ", ".join(record.decision.reason_codes) or "-",
            f"{record.latency_ms:.1f}",
        )
    console.print(table)
    chain = store.verify_audit_chain()
    console.print(
        f"audit log: {'intact' if chain.ok else 'TAMPERED'}, {chain.entries} entries, "
        f"head {chain.head_hash[:16]}…"
    )
    (out_dir / "decisions.json").write_text(json.dumps(rows, indent=2, default=str), encoding="utf-8")
    console.print(f"wrote {out_dir / 'decisions.json'} and {out_dir / 'openidv.sqlite3'}")
    reviews = sum(1 for row in rows if row["decision"] == "review")
    console.print(
        f"{reviews} review decisions opened {reviews} cases for people to decide. To work them in the review "
        f"console (docs/console.md):\n"
        f"  export OPENIDV_DATA_DIR={out_dir}\n"
        f"  .venv/bin/openidv users create --name me --role supervisor --password-stdin   # type a password\n"
        f"  .venv/bin/openidv serve   # then open http://127.0.0.1:8000/console/",
        markup=False,
        highlight=False,
    )
    store.engine.dispose()
    return rows


def _row(applicant: SampleApplicant, record: VerificationRecord) -> dict[str, Any]:
    return {"applicant": applicant.label, "expected": applicant.expected, **record.to_api()}
