"""Check registry: name -> check class.

Built-in checks are listed by import path and imported on first use, so that a process that only parses
MRZs never loads a face model. Third-party checks call ``register_check``.
"""

from __future__ import annotations

import importlib
from typing import Any

from openidv.checks.base import Check

_BUILTIN: dict[str, str] = {
    "mrz": "openidv.checks.document.mrz_check:MrzCheck",
    "face_detect": "openidv.checks.face.checks:FaceDetectCheck",
    "face_quality": "openidv.checks.face.checks:FaceQualityCheck",
    "document_portrait": "openidv.checks.face.checks:DocumentPortraitCheck",
    "face_match": "openidv.checks.face.match:FaceMatchCheck",
    "face_duplicate": "openidv.checks.face.duplicate:FaceDuplicateCheck",
    "document_read": "openidv.checks.document.document_checks:DocumentReadCheck",
    "document_consistency": "openidv.checks.document.document_checks:DocumentConsistencyCheck",
    "document_forensics": "openidv.checks.document.forensic_checks:DocumentForensicsCheck",
    "document_portrait_substitution": "openidv.checks.document.forensic_checks:PortraitSubstitutionCheck",
    "document_copy_move": "openidv.checks.document.forensic_checks:CopyMoveCheck",
    "document_screen_recapture": "openidv.checks.document.forensic_checks:ScreenRecaptureCheck",
    "document_print_scan": "openidv.checks.document.forensic_checks:PrintScanCheck",
    "document_security_features": "openidv.checks.document.forensic_checks:SecurityFeaturesCheck",
    "document_tampered_field": "openidv.checks.document.forensic_checks:TamperedFieldCheck",
    "pad": "openidv.checks.liveness.pad:PadCheck",
    "deepfake": "openidv.checks.liveness.deepfake:DeepfakeCheck",
    "injection": "openidv.checks.liveness.injection:InjectionCheck",
    "liveness_session": "openidv.checks.liveness.session_check:LivenessSessionCheck",
}
_loaded: dict[str, type[Check]] = {}


def register_check(cls: type[Check], *, replace: bool = False) -> type[Check]:
    """Make ``cls`` available under ``cls.name`` to policies, the pipeline and ``openidv eval``."""
    if not replace and (cls.name in _loaded or cls.name in _BUILTIN):
        raise ValueError(f"a check named {cls.name!r} is already registered")
    _loaded[cls.name] = cls
    return cls


def unregister_check(name: str) -> None:
    _loaded.pop(name, None)


def check_names() -> list[str]:
    return sorted(set(_BUILTIN) | set(_loaded))


def get_check_class(name: str) -> type[Check]:
    if name in _loaded:
        return _loaded[name]
    if name not in _BUILTIN:
        raise KeyError(f"unknown check {name!r}; known checks: {', '.join(check_names())}")
    module_name, _, attr = _BUILTIN[name].partition(":")
    cls: type[Check] = getattr(importlib.import_module(module_name), attr)
    _loaded[name] = cls
    return cls


def create_check(name: str, params: dict[str, Any] | None = None) -> Check:
    return get_check_class(name)(**(params or {}))
