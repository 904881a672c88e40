"""Check registry: name -> check class, and name -> parameter model.

Built-in checks are listed by import path and imported on first use, so that a process that only parses
MRZs never loads a face model. Their parameter models live in small ``params`` modules (pydantic only), so
the policy validates ``checks.<name>.params`` from the registry without importing any check module: loading
a policy loads no model, no FAISS and no database driver. Third-party checks call ``register_check``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openidv.checks.base import Check, CheckParams


@dataclass(frozen=True)
class BuiltinCheck:
    check: str  # "module:Class" of the check
    params: str  # "module:Model" of its parameters (a module that imports pydantic and little else)


def _builtin(check: str, params: str) -> BuiltinCheck:
    return BuiltinCheck(f"openidv.checks.{check}", f"openidv.checks.{params}")


_BUILTIN: dict[str, BuiltinCheck] = {
    "mrz": _builtin("document.mrz_check:MrzCheck", "document.params:MrzParams"),
    "face_detect": _builtin("face.checks:FaceDetectCheck", "face.params:DetectionParams"),
    "face_quality": _builtin("face.checks:FaceQualityCheck", "face.params:FaceQualityParams"),
    "document_portrait": _builtin("face.checks:DocumentPortraitCheck", "face.params:PortraitParams"),
    "face_match": _builtin("face.match:FaceMatchCheck", "face.params:FaceMatchParams"),
    "face_duplicate": _builtin("face.duplicate:FaceDuplicateCheck", "face.params:FaceDuplicateParams"),
    "document_read": _builtin("document.document_checks:DocumentReadCheck", "document.params:ReaderParams"),
    "document_consistency": _builtin(
        "document.document_checks:DocumentConsistencyCheck", "document.params:ConsistencyParams"
    ),
    "document_forensics": _builtin(
        "document.forensic_checks:DocumentForensicsCheck", "document.params:ReaderParams"
    ),
    "document_portrait_substitution": _builtin(
        "document.forensic_checks:PortraitSubstitutionCheck", "document.params:ReaderParams"
    ),
    "document_copy_move": _builtin("document.forensic_checks:CopyMoveCheck", "document.params:ReaderParams"),
    "document_screen_recapture": _builtin(
        "document.forensic_checks:ScreenRecaptureCheck", "document.params:ReaderParams"
    ),
    "document_print_scan": _builtin(
        "document.forensic_checks:PrintScanCheck", "document.params:ReaderParams"
    ),
    "document_security_features": _builtin(
        "document.forensic_checks:SecurityFeaturesCheck", "document.params:ReaderParams"
    ),
    "document_tampered_field": _builtin(
        "document.forensic_checks:TamperedFieldCheck", "document.params:ReaderParams"
    ),
    "document_capture": _builtin(
        "document.capture_check:DocumentCaptureCheck", "document.params:ReaderParams"
    ),
    "pad": _builtin("liveness.pad:PadCheck", "liveness.params:PadParams"),
    "deepfake": _builtin("liveness.deepfake:DeepfakeCheck", "liveness.params:DeepfakeParams"),
    "injection": _builtin("liveness.injection:InjectionCheck", "liveness.params:InjectionParams"),
    "graph": _builtin("identity_graph:GraphCheck", "identity_graph_params:GraphParams"),
    "device": _builtin("device.device_check:DeviceCheck", "device.device_params:DeviceParams"),
    "behaviour": _builtin("device.behaviour_check:BehaviourCheck", "device.behaviour_params:BehaviourParams"),
    "capture_session": _builtin(
        "device.session_check:CaptureSessionCheck", "device.session_params:CaptureSessionParams"
    ),
    "liveness_session": _builtin(
        "liveness.session_check:LivenessSessionCheck", "liveness.params:LivenessSessionParams"
    ),
    "vendor_document": _builtin("vendor:VendorDocumentCheck", "vendor_params:VendorParams"),
    "vendor_face_match": _builtin("vendor:VendorFaceMatchCheck", "vendor_params:VendorParams"),
    "vendor_liveness": _builtin("vendor:VendorLivenessCheck", "vendor_params:VendorParams"),
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


def _resolve(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _unknown(name: str) -> KeyError:
    return KeyError(f"unknown check {name!r}; known checks: {', '.join(check_names())}")


def get_check_class(name: str) -> type[Check]:
    if name in _loaded:
        return _loaded[name]
    if name not in _BUILTIN:
        raise _unknown(name)
    cls: type[Check] = _resolve(_BUILTIN[name].check)
    _loaded[name] = cls
    return cls


def params_model(name: str) -> type[CheckParams]:
    """The parameter model of a check, without importing the check's module for a built-in one."""
    if name in _loaded:
        return _loaded[name].Params
    if name not in _BUILTIN:
        raise _unknown(name)
    model: type[CheckParams] = _resolve(_BUILTIN[name].params)
    return model


def create_check(
    name: str, params: Mapping[str, Any] | None = None, services: Mapping[str, Any] | None = None
) -> Check:
    """Build a check with its policy parameters and the services it needs (an error if one is missing)."""
    return get_check_class(name)(services, **dict(params or {}))
