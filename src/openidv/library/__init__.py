"""The library verbs: a whole capability behind one readable call each, like face_recognition.

Images are paths, encoded bytes, binary files, PIL images or numpy arrays (``H x W x 3`` RGB).
"""

from openidv.checks.document.mrz import read_mrz
from openidv.library.documents import read_document
from openidv.library.faces import Gallery, compare_faces
from openidv.library.liveness import check_liveness
from openidv.library.verify import verify

__all__ = ["Gallery", "check_liveness", "compare_faces", "read_document", "read_mrz", "verify"]
