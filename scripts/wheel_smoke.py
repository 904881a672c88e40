"""Smoke test of an *installed* openidv wheel, run by scripts/wheel_check.sh inside a clean venv.

It must not import anything from the repository: it runs from a temporary folder, so ``import openidv``
finds the installed package, and every model file it touches must come from inside installed wheels
(ours or the pinned model-carrier packages) and pass its sha256 check.

    python wheel_smoke.py base        # the wheel and its declared dependencies alone (no mediapipe)
"""

from __future__ import annotations

import sys
from pathlib import Path


def sample_face() -> Path:
    """A real face photo that an installed package carries (matplotlib's sample data)."""
    from matplotlib import cbook

    return Path(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))


#: import names of the optional extras' packages (pyproject.toml [project.optional-dependencies])
EXTRA_PACKAGES = {
    "psycopg": "postgres",
    "torch": "gnn",
    "torch_geometric": "gnn",
    "pyspark": "spark",
}


def import_all_modules() -> list[str]:
    """Import every module of the installed openidv; the ones that need an extra, as 'module (extra)'."""
    import importlib
    import pkgutil

    import openidv

    needs_extra: list[str] = []
    for info in pkgutil.walk_packages(openidv.__path__, "openidv."):
        if info.name.endswith("__main__"):
            continue  # runs the CLI
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as exc:
            top = (exc.name or "").split(".")[0]
            if top not in EXTRA_PACKAGES:
                raise AssertionError(
                    f"{info.name} imports {exc.name}, which no runtime dependency provides"
                ) from exc
            needs_extra.append(f"{info.name} ({EXTRA_PACKAGES[top]})")
    return needs_extra


def check_base() -> None:
    from importlib.metadata import version
    from importlib.util import find_spec

    import openidv
    from openidv.checks.document.forensics_model import load_model
    from openidv.checks.liveness.landmarker import LANDMARKER, observe
    from openidv.decision.policy import load_policy
    from openidv.decision.reason_codes import is_known
    from openidv.imageio import load_image
    from openidv.models import get_model, model_ids, model_path

    here = Path(openidv.__file__).resolve()
    assert "site-packages" in here.parts, f"openidv was imported from {here}, not from the installed wheel"

    # every module imports with the runtime dependencies alone: a module-level import of a dev-only package
    # (pytest, httpx, ...) fails here. Modules that need an extra (postgres, redis) are listed, not failed.
    needs_extra = import_all_modules()
    if needs_extra:
        print(f"  modules that need an extra: {', '.join(needs_extra)}")

    # package data: the default policy and the reason-code catalogue
    policy = load_policy(None)
    assert policy.version, "default policy has no version"
    assert is_known("MRZ_UNREADABLE"), "reason-code catalogue did not load"

    # the browser collector ships inside the wheel (GET /openidv-collector.js serves it from there)
    from openidv.api.routes_telemetry import collector_script

    assert b"openidv.telemetry/1" in collector_script(), "openidv-collector.js is missing from the wheel"

    # MRZ from text (ICAO Doc 9303 TD3 specimen)
    mrz = openidv.read_mrz(
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
    )
    assert mrz.valid and mrz.fields["document_number"] == "L898902C3", mrz

    # the document forgery models read from the wheel's openidv/_models copy of models/
    assert load_model().classes, "document-forensics model did not load"

    # face detection + embedding (YuNet + SFace), and passive liveness (the PAD ONNX models), on a real face
    face = sample_face()
    same = openidv.compare_faces(face, face)
    assert same.status == "ok" and same.similarity is not None and same.similarity > 0.9, same
    live = openidv.check_liveness(face)
    pad = next(r for r in live.results if r["check"] == "pad")
    assert pad["status"] == "ok" and pad["score"] is not None, pad
    print(f"  compare_faces(same photo) similarity={same.similarity:.3f}; PAD attack score={pad['score']}")

    # every registered model file (the PAD ONNX files inside our wheel; YuNet, SFace, dlib and the
    # FaceLandmarker task inside their pinned carrier wheels) is present and matches its sha256, and the
    # carrier installed is the version the registry names (pyproject.toml and the registry agree)
    for model_id in model_ids():
        spec = get_model(model_id)
        assert model_path(model_id).is_file(), model_id
        name, _, pinned = spec.distribution.partition("==")
        if pinned:
            assert version(name) == pinned, (
                f"{model_id}: {name} {version(name)} installed, registry says {pinned}"
            )
    assert model_path(LANDMARKER.id).name == "face_landmarker.task"
    print(f"  {len(model_ids())} registered model files verified by sha256")

    # active liveness: the FaceLandmarker models run on ai-edge-litert, a declared dependency; mediapipe,
    # which would bring a second cv2, is neither needed nor installed
    assert find_spec("mediapipe") is None, "mediapipe is installed: something still depends on it"
    frame = observe(load_image(face), 0.0)
    assert frame.face, "FaceLandmarker found no face in grace_hopper.jpg"
    assert "eyeBlinkLeft" in frame.blendshapes and frame.yaw is not None, frame
    print(f"  FaceLandmarker: yaw={frame.yaw} pitch={frame.pitch} blendshapes={len(frame.blendshapes)}")


if __name__ == "__main__":
    stage = sys.argv[1] if len(sys.argv) > 1 else "base"
    {"base": check_base}[stage]()
    print(f"  wheel smoke ({stage}): ok")
