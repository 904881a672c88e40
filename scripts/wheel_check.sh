#!/usr/bin/env bash
# The wheel test (`make test` runs it; docs/packaging.md): build openidv's wheel from this checkout, install it
# with plain pip into a clean venv from the same package index as everything else, and prove it works there:
#   1. `pip check` prints "No broken requirements found." and nothing else (no known-exception line), and
#      opencv-python-headless is the only installed distribution that provides cv2;
#   2. `openidv --help` runs, and scripts/wheel_smoke.py (run outside the repository) reads an MRZ, loads the
#      default policy and reason codes, verifies every registered model file's sha256, loads the document
#      forgery models from inside the wheel, compares faces, runs passive liveness and the FaceLandmarker
#      models (active liveness, on ai-edge-litert) on a real photo, with no mediapipe installed.
# pip's cache is reused, so after the first run nothing is downloaded again.
#
#   scripts/wheel_check.sh        PYTHON=python3.11 by default
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
PYTHON=${PYTHON:-python3.11}
unset PYTHONPATH OPENIDV_MODELS_DIR OPENIDV_POLICY
quiet=(--quiet --disable-pip-version-check)

work=$(mktemp -d "${TMPDIR:-/tmp}/openidv-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
venv=$work/venv
t0=$SECONDS
step() { echo "wheel check [$((SECONDS - t0))s]: $*"; }
fail() { echo "wheel check FAILED: $*" >&2; exit 1; }

step "clean venv ($PYTHON)"
"$PYTHON" -m venv "$venv"
"$venv/bin/pip" install "${quiet[@]}" pip==26.3

step "build the wheel (pip wheel --no-deps, isolated build with the pinned setuptools)"
# setuptools builds in ./build and never prunes it: a module deleted from src/ would still ship. Start clean.
rm -rf "$repo/build"
"$venv/bin/pip" wheel "${quiet[@]}" --no-deps "$repo" -w "$work/dist"
rm -rf "$repo/build"
wheel=$(ls "$work"/dist/openidv-*.whl)
for member in openidv/decision/default_policy.yaml openidv/decision/reason_codes.yaml \
    openidv/_models/document-forensics.json openidv/checks/liveness/weights/silent-face-minifasnet-v2.onnx \
    openidv/py.typed openidv/api/static/openidv-collector.js; do
  "$venv/bin/python" -c "import sys, zipfile; sys.exit('$member' not in zipfile.ZipFile('$wheel').namelist())" \
    || fail "$member is missing from $(basename "$wheel")"
done
step "built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)"

step "pip install the wheel (runtime dependencies only)"
# --no-compile: byte-compiling scipy, pandas, sklearn... costs CPU and proves nothing here
"$venv/bin/pip" install "${quiet[@]}" --no-compile "$wheel"
report=$("$venv/bin/pip" check 2>&1) || fail "pip check in a plain install of the wheel: $report"
[ "$report" = "No broken requirements found." ] || fail "pip check printed more than the all-clear: $report"
cv2_from=$("$venv/bin/python" -c "from importlib.metadata import packages_distributions as p; print(*sorted(set(p()['cv2'])))")
[ "$cv2_from" = "opencv-python-headless" ] || fail "cv2 is provided by '$cv2_from', not opencv-python-headless alone"

step "smoke: openidv --help, MRZ, policy, models, faces, passive and active liveness"
(cd "$work" && "$venv/bin/openidv" --help >/dev/null) || fail "openidv --help"
(cd "$work" && "$venv/bin/python" "$repo/scripts/wheel_smoke.py" base) || fail "smoke test of the installed wheel"

step "ok"
