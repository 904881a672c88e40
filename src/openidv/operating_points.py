"""Published operating points of the face embedders: the threshold each model's authors ship, with its source.

A default threshold that our own data cannot support (FMR 1e-4 needs about 30,000 impostor comparisons from
hundreds of people; ``datasets/faces`` has 103 of 6) starts from what the model's authors published, never
from a guess. This table records, per embedding backend, the published threshold in the model's own metric,
the same threshold on openidv's score scale (``similarity = (1 + cosine) / 2`` of L2-normalised embeddings,
see ``openidv.checks.face.embed``), the evaluation it comes from and what that evaluation can evidence.

What a published point is, and is not: both are LFW operating points. LFW's verification protocol has 6,000
pairs (3,000 genuine, 3,000 impostor) in 10 folds, and the accuracies quoted are 10-fold means at an
accuracy-optimal threshold. 3,000 impostor pairs support a claim of FMR <= 1e-3 at best (rule of three,
95%), so a published LFW point is evidence of an FMR near 1e-3, **not** of 1e-4. The default policy therefore
never sets a face threshold looser than the published point for its backend, and sets it stricter where it
targets a lower FMR (docs/policy.md, "Face thresholds").

The model cards (``models/face-embed-*.yaml``, ``published_operating_point``) carry the same values; a test
keeps them in step with this table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from openidv.errors import ConfigurationError

#: LFW view 2 (the 10-fold verification protocol): 3,000 genuine and 3,000 impostor pairs of 5,749 people
LFW_IMPOSTOR_PAIRS = 3000


def _similarity(cosine: float) -> float:
    """openidv's score of a cosine, rounded *up* at six decimals: a mapped threshold is never looser."""
    return math.ceil((1.0 + cosine) / 2.0 * 1e6 - 1e-9) / 1e6


@dataclass(frozen=True)
class PublishedOperatingPoint:
    """One embedder's published decision threshold, in its own metric and on openidv's score scale."""

    backend: str  # the face_match ``backend`` parameter it belongs to
    model_id: str  # openidv.models id
    model: str  # the model as its authors name it
    native_rule: str  # the published decision rule, in the model's own metric
    cosine: float  # the rule as a cosine of L2-normalised embeddings (exact or mapped, see ``mapping``)
    mapping: str  # how ``cosine`` follows from the published rule, and whether the mapping is exact
    exact: bool
    dataset: str
    protocol: str
    reported: str  # the published accuracy
    reference: str  # where the threshold is published
    accuracy_reference: str  # where the accuracy is published
    impostor_pairs: int = LFW_IMPOSTOR_PAIRS

    @property
    def similarity(self) -> float:
        """The published threshold on openidv's 0..1 similarity scale (rounded up: never looser)."""
        return _similarity(self.cosine)

    @property
    def evidences_fmr(self) -> float:
        """The lowest FMR the published evaluation's impostor count can back with no error (rule of three)."""
        return 3.0 / self.impostor_pairs

    def as_source(self) -> dict[str, object]:
        """The ``source`` block a policy threshold set from this point carries."""
        return {
            "kind": "published",
            "model": self.model,
            "model_id": self.model_id,
            "backend": self.backend,
            "dataset": self.dataset,
            "protocol": self.protocol,
            "published_rule": self.native_rule,
            "published_similarity": self.similarity,
            "mapping": self.mapping,
            "reported": self.reported,
            "evidences_fmr": round(self.evidences_fmr, 6),
            "reference": self.reference,
            "accuracy_reference": self.accuracy_reference,
        }


SFACE_LFW = PublishedOperatingPoint(
    backend="sface",
    model_id="face-embed-sface-2021dec-int8bq",
    model="SFace 2021dec (OpenCV Zoo face_recognition_sface)",
    native_rule="same person when cosine >= 0.363 (FaceRecognizerSF FR_COSINE; or norm-L2 <= 1.128)",
    cosine=0.363,
    mapping=(
        "exact: FaceRecognizerSF.match L2-normalises both features before the cosine, as openidv does; "
        "similarity = (1 + 0.363) / 2 = 0.6815"
    ),
    exact=True,
    dataset="LFW (Labeled Faces in the Wild), view 2 pairs",
    protocol=(
        "6,000 pairs (3,000 genuine, 3,000 impostor), 10-fold cross-validation, accuracy-optimal threshold; "
        "0.363 is the LFW row of the threshold table in OpenCV's face tutorial (stricter than its CALFW "
        "0.340, CPLFW 0.275, AgeDB-30 0.277 and CFP-FP 0.212 rows) and the default of OpenCV Zoo's SFace "
        "wrapper"
    ),
    reported="LFW accuracy 99.60% (OpenCV tutorial, fp32); 99.40% fp32 / 99.32% int8 (OpenCV Zoo tools/eval)",
    reference=(
        "https://github.com/opencv/opencv/blob/4.x/doc/tutorials/dnn/dnn_face/dnn_face.markdown "
        "(Threshold (cosine) 0.363 for LFW); "
        "https://github.com/opencv/opencv_zoo/blob/main/models/face_recognition_sface/sface.py "
        "(_threshold_cosine = 0.363, _threshold_norml2 = 1.128)"
    ),
    accuracy_reference="https://github.com/opencv/opencv_zoo/blob/main/models/face_recognition_sface/README.md",
)

#: dlib descriptors are not unit length: raw norms measured on the 17 single-face shared photos were
#: 1.31-1.52; the mapping below uses 1.53 (the top of that range, rounded up), the strictest cosine the
#: published distance rule corresponds to for two descriptors of that length
DLIB_DESCRIPTOR_NORM = 1.53

DLIB_LFW = PublishedOperatingPoint(
    backend="dlib",
    model_id="face-embed-dlib-resnet-v1",
    model="dlib_face_recognition_resnet_model_v1 (dlib ResNet-29 metric learning)",
    native_rule="same person when the Euclidean distance of the raw 128-d descriptors is < 0.6",
    cosine=round(1.0 - 0.6**2 / (2.0 * DLIB_DESCRIPTOR_NORM**2), 6),
    mapping=(
        "approximate: dlib compares raw descriptors, openidv L2-normalises them; for two descriptors of "
        "norm n, distance 0.6 is cosine 1 - 0.18 / n^2; with n = 1.53 (the top of the norms measured on the "
        "shared photos, 1.31-1.52) that is cosine 0.923107, the strictest reading of the published rule"
    ),
    exact=False,
    dataset="LFW (Labeled Faces in the Wild), view 2 pairs",
    protocol=(
        "6,000 pairs (3,000 genuine, 3,000 impostor), 10 folds, unrestricted with labeled outside data; "
        "0.6 is 'the decision threshold the network was trained to use' (dlib's example), not an "
        "LFW-optimised value; 99.38% needs 100-fold jittering of each face, 99.13% without (openidv does "
        "not jitter)"
    ),
    reported="LFW accuracy 99.38% with jittering, 99.13% without (dlib's dnn_face_recognition_ex.cpp)",
    reference="https://github.com/davisking/dlib/blob/master/examples/dnn_face_recognition_ex.cpp",
    accuracy_reference="https://github.com/davisking/dlib/blob/master/examples/dnn_face_recognition_ex.cpp",
)

PUBLISHED_OPERATING_POINTS: dict[str, PublishedOperatingPoint] = {p.backend: p for p in (SFACE_LFW, DLIB_LFW)}


def published_operating_point(backend: str) -> PublishedOperatingPoint:
    """The published operating point of a face embedding backend (``sface`` or ``dlib``)."""
    try:
        return PUBLISHED_OPERATING_POINTS[backend]
    except KeyError:
        known = ", ".join(sorted(PUBLISHED_OPERATING_POINTS))
        raise ConfigurationError(
            f"no published operating point for face backend {backend!r}; known: {known}"
        ) from None
