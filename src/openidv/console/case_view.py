"""What the case page shows, computed from a case and the policy: pure data, so it is tested without a
browser and the template stays free of logic.

Why a view model: a reviewer must read every score with what it means (``meaning``), the threshold the
policy compares it with, and the operating point that threshold was chosen for (``fmr=1e-4``, published
or tuned on our data) — a bare 0.71 says nothing. Checks are grouped the way a reviewer works: faces,
liveness, document, device and behaviour, identity graph, external vendors, anything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openidv.decision.policy import Policy
from openidv.decision.reason_codes import describe
from openidv.results import CheckResult, Status
from openidv.services.review_cases import (
    ANALYST,
    CaseDetail,
    MediaInfo,
)
from openidv.store.review_tables import AWAITING_CONFIRMATION, CLAIMED, ESCALATED, OPEN

#: section title -> the checks it holds, in reading order
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("faces", "Faces", ("face_match", "face_quality", "document_portrait", "face_duplicate")),
    ("liveness", "Liveness and presentation attacks", ("pad", "deepfake", "injection", "liveness_session")),
    ("document", "Document", ("mrz",)),  # plus every document_* check
    ("device", "Device and behaviour", ("device", "behaviour", "capture_session")),
    ("graph", "Identity graph", ("graph",)),
    ("vendors", "External vendors", ()),  # every vendor_* check
)
MEANINGS = {
    "similarity": "higher means more alike (same person, consistent document)",
    "attack": "higher means more likely an attack or fraud",
    "quality": "higher means better capture quality",
}
#: media kinds shown side by side in the faces section, then the document's
FACE_MEDIA = ("selfie_face", "document_portrait")
DOCUMENT_MEDIA = ("document_annotated",)


@dataclass(frozen=True)
class ThresholdLine:
    name: str
    value: float
    op: str
    holds: bool
    target: str | None
    source_kind: str
    status: str | None
    rules: tuple[str, ...]

    @property
    def text(self) -> str:
        """``score < 0.725 (match; tuned for fmr=1e-4, published)``: what a reviewer reads."""
        target = f"for {self.target}" if self.target else "no target recorded"
        origin = self.source_kind
        if self.status and self.status != self.source_kind:
            origin = f"{origin}, {self.status}"
        return f"{self.name}: {self.value:g} ({target}; {origin})"


@dataclass(frozen=True)
class CheckLine:
    check: str
    version: str
    status: str
    score: float | None
    meaning: str
    meaning_text: str
    reason_codes: tuple[tuple[str, str], ...]
    thresholds: tuple[ThresholdLine, ...]
    facts: tuple[tuple[str, str], ...]


@dataclass
class Section:
    key: str
    title: str
    checks: list[CheckLine] = field(default_factory=list)
    media: list[MediaInfo] = field(default_factory=list)


def _section_of(check: str) -> str:
    for key, _, names in SECTIONS:
        if check in names:
            return key
    if check.startswith("document_"):
        return "document"
    if check.startswith("vendor_"):
        return "vendors"
    return "other"


def _thresholds(policy: Policy, result: CheckResult) -> tuple[ThresholdLine, ...]:
    config = policy.checks.get(result.check)
    if config is None:
        return ()
    out = []
    for name, threshold in config.thresholds.items():
        try:
            verdict = policy.judge(result, name)
        except Exception:  # a threshold no rule reads: nothing to say about the score
            continue
        if verdict is None:
            continue
        out.append(
            ThresholdLine(
                name=name,
                value=verdict.value,
                op=verdict.op,
                holds=verdict.holds,
                target=threshold.target,
                source_kind=threshold.source_kind,
                status=threshold.status,
                rules=verdict.rules,
            )
        )
    return tuple(out)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


#: a few details worth a line, per check (everything else stays in the API's full record)
FACTS: Mapping[str, tuple[str, ...]] = {
    "face_match": ("backend", "model", "cosine"),
    "face_duplicate": ("gallery", "gallery_size", "matches", "same_subject_hits"),
    "document_read": ("template", "fields_read", "fields_expected"),
    "document_consistency": ("template", "failed"),
    "device": ("device_id", "known_device", "counts", "flags", "reputation_source"),
    "behaviour": ("model", "pointer_events", "key_strokes", "pointer"),
    "capture_session": ("model", "unusual"),
    "graph": ("linked_accounts",),
    "injection": ("signals", "replay_matches"),
    "pad": ("model", "likely_species"),
}
#: at most this many graph neighbours are listed on the page (the API has them all)
MAX_NEIGHBOURS = 10


def graph_neighbourhood(details: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The identity graph around the applicant in reviewer's words: the ring, then each linked account
    with how far it is and what it shares."""
    out: list[tuple[str, str]] = []
    ring = details.get("ring")
    if isinstance(ring, Mapping) and ring.get("size"):
        kinds = sorted({str(s.get("kind")) for s in ring.get("shared") or [] if isinstance(s, Mapping)})
        out.append(("ring", f"{ring['size']} accounts sharing {', '.join(kinds) or 'identifiers'}"))
    for link in list(details.get("links") or [])[:MAX_NEIGHBOURS]:
        if not isinstance(link, Mapping):
            continue
        hops = link.get("hops", 1)
        shared = ", ".join(str(k) for k in link.get("shared") or []) or "a linked account"
        out.append(
            (
                f"account {str(link.get('account_id', '?'))[:8]}",
                f"{hops} hop{'s' if hops != 1 else ''}, shares {shared}",
            )
        )
    return out


def _facts(result: CheckResult) -> tuple[tuple[str, str], ...]:
    facts = [
        (key, _short(result.details[key]))
        for key in FACTS.get(result.check, ())
        if key in result.details and result.details[key] not in (None, "", [], {})
    ]
    if result.check == "graph":
        facts += graph_neighbourhood(result.details)
    return tuple(facts)


def check_line(policy: Policy, result: CheckResult) -> CheckLine:
    meaning = str(getattr(result.meaning, "value", result.meaning))
    return CheckLine(
        check=result.check,
        version=result.version,
        status=str(getattr(result.status, "value", result.status)),
        score=result.score if result.status == Status.OK else None,
        meaning=meaning,
        meaning_text=MEANINGS.get(meaning, meaning),
        reason_codes=tuple((code, describe(code)) for code in result.reason_codes),
        thresholds=_thresholds(policy, result),
        facts=_facts(result),
    )


def sections(detail: CaseDetail, policy: Policy) -> list[Section]:
    """The case's checks and images, grouped; empty sections are left out."""
    out: dict[str, Section] = {key: Section(key, title) for key, title, _ in SECTIONS}
    out["other"] = Section("other", "Other checks")
    record = detail.verification
    checks: Sequence[CheckResult] = record.checks if record is not None else ()
    order = {name: i for _, _, names in SECTIONS for i, name in enumerate(names)}
    for result in sorted(checks, key=lambda r: (order.get(r.check, 99), r.check)):
        out[_section_of(result.check)].checks.append(check_line(policy, result))
    for media in detail.media:
        if media.kind in FACE_MEDIA:
            out["faces"].media.append(media)
        elif media.kind in DOCUMENT_MEDIA:
            out["document"].media.append(media)
    return [s for s in out.values() if s.checks or s.media]


@dataclass(frozen=True)
class Actions:
    """What the signed-in person may do on this case now (the service enforces the same rules)."""

    claim: bool
    release: bool
    decide: bool
    confirm: bool
    why_not: str | None


def actions(detail: CaseDetail, user_id: str, role: str) -> Actions:
    state = detail.state
    supervisor = role != ANALYST
    mine = detail.summary.assignee == user_id
    claimable = (
        state == OPEN or (state == ESCALATED and supervisor) or (state == CLAIMED and not mine and supervisor)
    )
    why = None
    if state == ESCALATED and not supervisor:
        why = "This case was escalated: a supervisor decides it."
    elif state == CLAIMED and not mine:
        why = f"Claimed by {detail.summary.assignee}."
    elif state == AWAITING_CONFIRMATION:
        if not supervisor:
            why = "An override of a rejection waits for a supervisor's confirmation."
        elif detail.proposed_by == user_id:
            why = "You proposed this override: another supervisor must confirm it."
    return Actions(
        claim=claimable,
        release=state == CLAIMED and mine,
        decide=state == CLAIMED and mine,
        confirm=state == AWAITING_CONFIRMATION and supervisor and detail.proposed_by != user_id,
        why_not=why,
    )
