"""openidv: open-source identity verification.

The calls most people need (images are paths, bytes, PIL images or numpy arrays)::

    openidv.verify(selfie=..., document=..., mrz=..., declared={...})   # a decision with reason codes
    openidv.compare_faces(a, b)                 # 1:1 face similarity at the policy's threshold
    openidv.read_document(front, back=None)     # MRZ, barcode, printed fields, cross-checks, forensics
    openidv.check_liveness(selfie)              # passive PAD, deepfake and injection signals
    openidv.read_mrz(text)                      # parse and validate an ICAO 9303 MRZ
    openidv.Gallery("onboarding")               # 1:N: enroll, search, delete

Names are imported on first use, so ``import openidv`` loads no model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load on first use
    from openidv.checks.document.mrz import read_mrz as read_mrz
    from openidv.library.documents import read_document as read_document
    from openidv.library.faces import Gallery as Gallery
    from openidv.library.faces import compare_faces as compare_faces
    from openidv.library.liveness import check_liveness as check_liveness
    from openidv.library.verify import verify as verify
    from openidv.results import CheckResult as CheckResult
    from openidv.results import Decision as Decision
    from openidv.results import Meaning as Meaning
    from openidv.results import Outcome as Outcome
    from openidv.results import Status as Status
    from openidv.services.container import Services as Services
    from openidv.services.verifier import Verifier as Verifier
    from openidv.verification import VerificationRecord as VerificationRecord

__version__ = "0.1.0"

_LAZY = {
    "verify": "openidv.library.verify",
    "compare_faces": "openidv.library.faces",
    "Gallery": "openidv.library.faces",
    "read_document": "openidv.library.documents",
    "check_liveness": "openidv.library.liveness",
    "read_mrz": "openidv.checks.document.mrz",
    "Verifier": "openidv.services.verifier",
    "Services": "openidv.services.container",
    "VerificationRecord": "openidv.verification",
    "CheckResult": "openidv.results",
    "Decision": "openidv.results",
    "Meaning": "openidv.results",
    "Outcome": "openidv.results",
    "Status": "openidv.results",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'openidv' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
