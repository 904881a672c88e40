"""The reason-code catalogue: stable codes, each with a category and a description.

The catalogue lives in ``reason_codes.yaml`` beside this module; policies and checks may only emit codes
listed there (a test walks the code base to enforce it). ``python -m openidv.decision.reason_codes
--markdown`` writes the documentation table.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class ReasonCode:
    code: str
    category: str
    description: str


@cache
def catalogue() -> dict[str, ReasonCode]:
    text = resources.files("openidv.decision").joinpath("reason_codes.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    return {
        code: ReasonCode(code=code, category=entry["category"], description=entry["description"])
        for code, entry in raw.items()
    }


def describe(code: str) -> str:
    entry = catalogue().get(code)
    return entry.description if entry else "(not in the reason-code catalogue)"


def is_known(code: str) -> bool:
    return code in catalogue()


def markdown() -> str:
    lines = [
        "# Reason codes",
        "",
        "Stable strings that checks and policy rules attach to results and decisions.",
        "Never renamed or reused.",
        "Generated from `src/openidv/decision/reason_codes.yaml` by",
        "`python -m openidv.decision.reason_codes --markdown`; a test keeps this file in sync.",
        "",
        "| code | category | description |",
        "|---|---|---|",
    ]
    for entry in sorted(catalogue().values(), key=lambda e: (e.category, e.code)):
        lines.append(f"| `{entry.code}` | {entry.category} | {entry.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - documentation generator
    if "--markdown" in sys.argv:
        sys.stdout.write(markdown())
