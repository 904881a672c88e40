"""The ``behaviour`` check: is a person or a program moving the pointer and typing?

Score: P(bot) from the packaged model (``behaviour-bot-v1``), the larger of the pointer part (trajectory
features, ``pointer_features``) and the typing part (key dwell and flight, ``key_features``) where each has
enough events; meaning ``attack``. The check never compares a score with a threshold: ``disclose`` asks the
policy's judge, and adds ``BOT_POINTER`` when the pointer part reaches the policy's ``bot`` threshold and
``BOT_TYPING`` when the typing part reaches its ``typing`` threshold. Too few events: status
``failed_to_acquire`` with ``BEHAVIOUR_INSUFFICIENT``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from openidv.checks.base import Check, Judge
from openidv.checks.device.behaviour_model import BehaviourModel, load_model
from openidv.checks.device.behaviour_params import BehaviourParams
from openidv.checks.device.key_features import KEY_FEATURES, key_features, key_pairs
from openidv.checks.device.pointer_features import (
    POINTER_FEATURES,
    PointerStream,
    pointer_features,
    timing_summary,
)
from openidv.checks.device.telemetry_formats import read_telemetry
from openidv.evidence import Evidence
from openidv.results import CheckResult, Meaning, Status
from openidv.telemetry import Telemetry

#: the features shown in the details, with what they mean to a reader
_SHOWN_POINTER = {
    "speed_q50": "median pointer speed, px/s",
    "straightness_q50": "median stroke straightness (1 = a ruler-straight line)",
    "turn_q50": "median heading change per 100 ms, radians",
    "jerk_per_speed": "median jerk / median speed (smoothness; low = machine-smooth)",
    "speed_peaks_per_s": "speed peaks per second of a stroke (human sub-movements)",
    "overshoot_share": "share of clicks whose approach went past the target",
    "dwell_q50_ms": "median click dwell, ms",
    "dwell_cv": "click dwell variation (0 = always the same)",
}
_SHOWN_KEYS = {
    "dwell_q50_ms": "median key hold, ms",
    "dwell_cv": "key hold variation (0 = always the same)",
    "flight_q50_ms": "median gap between keys, ms",
    "overlap_share": "share of keys pressed before the previous one was released",
}


def _shown(names: tuple[str, ...], values: np.ndarray, shown: dict[str, str]) -> dict[str, Any]:
    index = {n: i for i, n in enumerate(names)}
    out: dict[str, Any] = {}
    for name, meaning in shown.items():
        v = float(values[index[name]])
        out[name] = {"value": None if not np.isfinite(v) else round(v, 4), "meaning": meaning}
    return out


def recent(stream: PointerStream, seconds: float) -> PointerStream:
    """The events of the last ``seconds`` of ``stream``."""
    if len(stream) == 0:
        return stream
    keep = stream.t >= stream.t[-1] - seconds * 1000.0
    return PointerStream(stream.t[keep], stream.kind[keep], stream.x[keep], stream.y[keep], stream.touch)


class BehaviourCheck(Check):
    name = "behaviour"
    version = "1.0.0"
    meaning = Meaning.ATTACK
    requires = ("telemetry",)
    Params = BehaviourParams
    params: BehaviourParams
    model_id: ClassVar[str] = "behaviour-bot-v1"

    def __init__(self, services: Any = None, *, model: BehaviourModel | None = None, **params: Any) -> None:
        super().__init__(services, **params)
        self._model = model

    @property
    def model(self) -> BehaviourModel:
        if self._model is None:
            self._model = load_model()
        return self._model

    def score_telemetry(self, telemetry: Telemetry) -> CheckResult:
        """Judge one session's telemetry (what ``run`` does; exposed for benchmarks and offline scoring)."""
        start = time.perf_counter()
        stream = recent(PointerStream.from_telemetry(telemetry), self.params.max_window_s)
        pairs = key_pairs(telemetry)
        has_pointer = len(stream) >= self.params.min_pointer_events
        has_keys = pairs.shape[0] >= self.params.min_key_strokes
        details: dict[str, Any] = {
            "model": self.model.model_id,
            "pointer_events": len(stream),
            "key_strokes": int(pairs.shape[0]),
            "source": telemetry.source,
        }
        if not has_pointer and not has_keys:
            details["needed"] = {
                "pointer_events": self.params.min_pointer_events,
                "key_strokes": self.params.min_key_strokes,
            }
            result = self.result(Status.FAILED_TO_ACQUIRE, None, ("BEHAVIOUR_INSUFFICIENT",), details)
            return result.model_copy(update={"latency_ms": round((time.perf_counter() - start) * 1000, 3)})
        parts: dict[str, float] = {}
        if has_pointer:
            pf = pointer_features(stream)
            parts["pointer"] = float(self.model.pointer.probability(pf[None, :])[0])
            details["pointer"] = {
                "score": round(parts["pointer"], 6),
                "device": "touch" if stream.touch else "mouse",
                "features": _shown(POINTER_FEATURES, pf, _SHOWN_POINTER),
                "timing": timing_summary(stream),
            }
            if stream.touch:
                details["pointer"]["note"] = (
                    "touch is scored with the mouse-trained model (no real touch data)"
                )
        if has_keys:
            kf = key_features(pairs)
            parts["typing"] = float(self.model.typing.probability(kf[None, :])[0])
            details["typing"] = {
                "score": round(parts["typing"], 6),
                "features": _shown(KEY_FEATURES, kf, _SHOWN_KEYS),
                "note": "the typing model is trained on SYNTHETIC typing only",
            }
        score = max(parts.values())
        details["score_meaning"] = (
            "P(bot): the larger of the pointer and typing parts; higher = more likely a program, not a person"
        )
        result = self.result(Status.OK, round(score, 6), (), details)
        return result.model_copy(update={"latency_ms": round((time.perf_counter() - start) * 1000, 3)})

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        """One recorded session per manifest row (``openidv eval run``): Balabit CSV when the file name ends
        in ``.csv`` or ``.csv.gz``, openidv telemetry JSON otherwise."""
        if len(paths) != 1:
            raise ValueError(f"check 'behaviour' reads 1 file per row (telemetry), got {len(paths)}")
        path = paths[0]
        fmt = "balabit" if path.name.endswith((".csv", ".csv.gz")) else "openidv"
        return Evidence(telemetry=read_telemetry(path, fmt))

    def run(self, evidence: Evidence) -> CheckResult:
        if evidence.telemetry is None:
            return self.result(
                Status.FAILED_TO_ACQUIRE, None, ("BEHAVIOUR_INSUFFICIENT",), {"pointer_events": 0}
            )
        return self.score_telemetry(evidence.telemetry)

    def disclose(self, result: CheckResult, judge: Judge) -> CheckResult:
        """Name the channel the policy calls a bot: ``BOT_POINTER`` (threshold ``bot``) and ``BOT_TYPING``
        (threshold ``typing``), each judged on its own part's score."""
        if result.status != Status.OK:
            return result
        codes = list(result.reason_codes)
        for part, threshold, code in (("pointer", "bot", "BOT_POINTER"), ("typing", "typing", "BOT_TYPING")):
            info = result.details.get(part)
            if (
                isinstance(info, dict)
                and isinstance(info.get("score"), float)
                and judge(threshold, info["score"])
            ):
                codes.append(code)
        if codes == list(result.reason_codes):
            return result
        return result.model_copy(update={"reason_codes": tuple(dict.fromkeys(codes))})


def time_check(
    telemetry: Telemetry, repeats: int = 200, check: BehaviourCheck | None = None
) -> dict[str, float]:
    """Latency of ``score_telemetry`` on one session, in process (ms: p50, p99, max), for bench/device.py."""
    check = check or BehaviourCheck()
    check.score_telemetry(telemetry)  # load the model once
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        check.score_telemetry(telemetry)
        times.append((time.perf_counter() - t0) * 1000)
    arr = np.array(times)
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "max_ms": float(arr.max()),
        "events": float(len(telemetry.events)),
    }
