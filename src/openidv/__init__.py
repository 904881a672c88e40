"""openidv: open-source identity verification.

The three calls most people need::

    openidv.verify(mrz=..., declared={...})   # a decision with reason codes
    openidv.read_mrz(text)                    # parse and validate an ICAO 9303 MRZ
    openidv.compare_faces(a, b)               # 1:1 face similarity (face extras)
"""

from openidv.checks.document.mrz import read_mrz
from openidv.checks.face.match import compare_faces
from openidv.results import CheckResult, Decision, Meaning, Outcome, Status
from openidv.verification import VerificationRecord, verify

__version__ = "0.1.0"

__all__ = [
    "CheckResult",
    "Decision",
    "Meaning",
    "Outcome",
    "Status",
    "VerificationRecord",
    "__version__",
    "compare_faces",
    "read_mrz",
    "verify",
]
