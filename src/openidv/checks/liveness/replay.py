"""Replay detection: the fingerprint of a capture, the lookup the ``injection`` check asks, and the write it
asks for afterwards.

A capture is fingerprinted by two 64-bit perceptual hashes (``phash.py``). The check only LOOKS UP earlier
accepted captures through ``CaptureLookup`` (passed in as the ``capture_index`` service); remembering a
capture is a ``RecordCapture`` follow-up, applied by the verification layer in the transaction that stores
the verification, so a rejected or failed request is never remembered and never makes its own resubmission
a "replay". The index implementations (memory, SQL) live in ``openidv.services.captures``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from openidv.checks.base import FollowUp
from openidv.checks.liveness.phash import dhash, hamming, phash
from openidv.checks.services import CAPTURE_INDEX
from openidv.imageio import Image, UInt8Array
from openidv.tenancy import DEFAULT_TENANT

#: a capture matches a stored one when both hashes are this close (pHash needs <= 6 for the band index)
REPLAY_PHASH_BITS = 6
REPLAY_DHASH_BITS = 10


@dataclass(frozen=True)
class Fingerprint:
    phash: int
    dhash: int

    @classmethod
    def of(cls, bgr: UInt8Array) -> Fingerprint:
        return cls(phash(bgr), dhash(bgr))

    @classmethod
    def of_image(cls, image: Image) -> Fingerprint:
        """The fingerprint of an image, computed once per image (shared through ``Image.memo``)."""
        return image.memo("liveness.fingerprint", lambda: cls.of(image.bgr))

    def matches(
        self, other: Fingerprint, phash_bits: int = REPLAY_PHASH_BITS, dhash_bits: int = REPLAY_DHASH_BITS
    ) -> bool:
        return (
            hamming(self.phash, other.phash) <= phash_bits and hamming(self.dhash, other.dhash) <= dhash_bits
        )


@dataclass(frozen=True)
class Match:
    reference: str
    kind: str
    phash_distance: int
    dhash_distance: int
    created_at: datetime


class CaptureLookup(Protocol):
    """What the ``injection`` check asks the capture index (``openidv.services.captures``)."""

    def find(self, fp: Fingerprint, *, tenant: str = DEFAULT_TENANT) -> Match | None:
        """The closest earlier capture of ``tenant`` that matches ``fp``, or None."""
        ...


def sample_frames(frames: Sequence[Image], at_most: int = 5) -> list[Image]:
    """The frames of a capture that are looked up and remembered (every n-th, at most ``at_most``)."""
    return list(frames[:: max(1, len(frames) // at_most)])[:at_most]


@dataclass(frozen=True)
class RecordCapture(FollowUp):
    """Remember an accepted capture's fingerprints, under the reference the applying layer gives."""

    service: ClassVar[str] = CAPTURE_INDEX

    #: ``(phash, dhash)`` of each sampled frame, as unsigned 64-bit integers
    fingerprints: tuple[tuple[int, int], ...]
    #: selfie | frame
    kind: str = "selfie"

    @classmethod
    def of(cls, prints: Sequence[Fingerprint], kind: str) -> RecordCapture:
        return cls(tuple((fp.phash, fp.dhash) for fp in prints), kind)

    def prints(self) -> list[Fingerprint]:
        return [Fingerprint(p, d) for p, d in self.fingerprints]
