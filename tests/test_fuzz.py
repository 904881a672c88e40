"""The atheris harnesses of ``fuzz/`` in ``make test``: every kept corpus input replayed in-process (the
regression seeds of past findings included), then each harness run by libFuzzer for a bounded number of new
inputs in a subprocess, which must end without a crash, a hang or an out-of-memory report.

The long run is ``make fuzz``; docs/reliability.md has its figures.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("atheris", reason="atheris is in the dev extra; `make test` installs it")

REPO = Path(__file__).resolve().parents[1]
FUZZ = REPO / "fuzz"
#: harness -> libFuzzer inputs in ``make test``: together about 10-20 s on a shared 2-core machine
RUNS = {"mrz": 15_000, "aamva": 60_000, "image": 8_000, "multipart": 4_000}


def _harness(target: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"fuzz_{target}", FUZZ / f"fuzz_{target}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("target", list(RUNS))
def test_the_kept_corpus_replays_without_a_finding(target: str) -> None:
    seeds = sorted((FUZZ / "corpus" / target).iterdir())
    assert len(seeds) >= 3, f"fuzz/corpus/{target} holds too few seeds"
    one_input: Callable[[bytes], None] = _harness(target).one_input
    for seed in seeds:
        try:
            one_input(seed.read_bytes())
        except Exception as exc:  # a finding: name the seed that shows it
            raise AssertionError(f"fuzz/corpus/{target}/{seed.name}: {type(exc).__name__}: {exc}") from exc


def _rss_limit_mb(headroom_mb: int = 2048) -> int:
    """libFuzzer reads the peak RSS, which Linux carries across execve: a child of a pytest process that has
    grown to 2.6 GB (the whole suite, models loaded) starts "over" a 2 GB limit. The limit is the headroom
    above what the child inherits."""
    import resource

    inherited_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # kilobytes on Linux
    return int(inherited_mb) + headroom_mb


@pytest.mark.parametrize("target", list(RUNS))
def test_a_bounded_fuzz_run_finds_nothing(target: str, tmp_path: Path) -> None:
    new_inputs, artifacts = tmp_path / "new", tmp_path / "artifacts"
    new_inputs.mkdir()
    artifacts.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [
            sys.executable,
            str(FUZZ / f"fuzz_{target}.py"),
            f"-runs={RUNS[target]}",
            "-seed=1",  # the same inputs every run: a failure here is reproducible
            "-timeout=10",  # seconds for one input: slower is a hang
            f"-rss_limit_mb={_rss_limit_mb()}",
            f"-artifact_prefix={artifacts}/",
            str(new_inputs),  # libFuzzer writes new inputs to the first folder: never to the kept corpus
            str(FUZZ / "corpus" / target),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )
    log = run.stderr[-4000:]
    assert run.returncode == 0, f"fuzz_{target} found something:\n{log}"
    assert f"Done {RUNS[target]} runs" in run.stderr, log
    assert not list(artifacts.iterdir()), f"crash inputs left in {artifacts}"
