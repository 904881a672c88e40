"""Readers and features of the behaviour check: Balabit CSV cleaning, openidv JSON, edge cases."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openidv.checks.device.key_features import KEY_FEATURES, key_features, key_pairs
from openidv.checks.device.pointer_features import (
    DOWN,
    MOVE,
    POINTER_FEATURES,
    UP,
    PointerStream,
    pointer_features,
)
from openidv.checks.device.telemetry_formats import read_balabit, read_openidv, read_telemetry, windows
from openidv.synth.telemetry import pointer_bot, to_telemetry, typing
from openidv.telemetry import Event, Telemetry

HEADER = "record timestamp,client timestamp,button,state,x,y\n"


def test_balabit_reader_cleans_times_outliers_and_states(tmp_path: Path) -> None:
    rows = [
        "0.0,0.0,NoButton,Move,10,10",
        "0.1,0.100,NoButton,Move,65535,65535",  # off screen: dropped
        "0.2,0.205,NoButton,Move,12,11",
        "0.3,0.203,Left,Pressed,12,11",  # steps back 2 ms: raised to 205
        "0.4,0.30,NoButton,Drag,14,12",
        "0.5,0.35,Left,Released,14,12",
        "0.6,0.40,Scroll,Down,14,12",
    ]
    path = tmp_path / "s.csv.gz"
    path.write_bytes(gzip.compress((HEADER + "\n".join(rows) + "\n").encode()))
    tel = read_balabit(path)
    assert tel.source == "balabit"
    assert [e.type for e in tel.events] == ["move", "move", "down", "move", "up", "wheel"]
    assert [e.t for e in tel.events][:3] == [0.0, 205.0, 205.0]
    assert tel.events[3].button == 0 and tel.events[2].button == 0
    assert all(e.x is None or e.x < 1000 for e in tel.events)


@pytest.mark.parametrize(
    "content",
    [
        "",
        "hello,world\n1,2\n",
        HEADER + "0.1,abc,NoButton,Move,1,2\n",
        HEADER + "0.1,0.1,NoButton,Hover,1,2\n",
    ],
)
def test_bad_balabit_files_raise_value_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"bad\.csv"):
        read_balabit(path)


def test_openidv_json_round_trip_and_bad_json(tmp_path: Path) -> None:
    tel = to_telemetry(
        pointer_bot("bezier", np.random.default_rng(3), duration_s=5),
        typing("human", np.random.default_rng(4), 12),
    )
    path = tmp_path / "s.json"
    path.write_text(tel.model_dump_json())
    assert read_openidv(path) == tel
    (tmp_path / "bad.json").write_text('{"schema": "openidv.telemetry/9"}')
    with pytest.raises(ValueError, match="not openidv telemetry"):
        read_openidv(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="unknown telemetry format"):
        read_telemetry(path, "xml")


def test_windows_restart_time_and_keep_only_busy_windows() -> None:
    events = tuple(Event(t=float(t), type="move", x=float(t % 500), y=1.0) for t in range(0, 125_000, 100))
    out = windows(Telemetry(events=events), 60.0, min_pointer_events=100)
    assert len(out) == 2  # the last 5 s window has too few events
    assert all(w.events[0].t == 0.0 and w.duration_ms() < 60_000 for w in out)


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [(0.0, MOVE, 1.0, 1.0)],
        [(5.0, MOVE, 3.0, 3.0)] * 50,  # all at one time and place
        [(float(i), MOVE, 3.0, 3.0) for i in range(0, 5000, 10)],  # still pointer, moving clock
        [(0.0, DOWN, 1.0, 1.0), (0.0, UP, 1.0, 1.0)],
    ],
)
def test_pointer_features_finite_or_nan_and_deterministic(
    rows: list[tuple[float, int, float, float]],
) -> None:
    s = PointerStream.from_rows(rows)
    a, b = pointer_features(s), pointer_features(s)
    assert a.shape == (len(POINTER_FEATURES),)
    assert not np.isinf(a).any()
    np.testing.assert_array_equal(a, b)


def test_key_features_edge_cases() -> None:
    assert np.isnan(key_features(np.zeros((0, 2)))).all()
    one = key_features(np.array([[0.0, 80.0]]))
    assert one.shape == (len(KEY_FEATURES),) and not np.isinf(one).any()
    same = key_features(np.array([[i * 100.0, i * 100.0 + 50.0] for i in range(20)]))
    assert same[KEY_FEATURES.index("dwell_cv")] == 0.0


def test_key_pairs_match_by_slot_and_ignore_unpaired() -> None:
    events = (
        Event(t=0, type="key_down", key=1),
        Event(t=10, type="key_down", key=2),
        Event(t=50, type="key_up", key=1),
        Event(t=70, type="key_up", key=2),
        Event(t=90, type="key_up", key=3),
        Event(t=100, type="key_down", key=4),
    )
    np.testing.assert_array_equal(key_pairs(Telemetry(events=events)), [[0, 50], [10, 70]])


def test_pointer_features_ignore_the_recorder_rate() -> None:
    """A dense bot and the same bot seen by a ~10 Hz recorder read alike once resampled (within a factor)."""
    dense = pointer_features(pointer_bot("straight", np.random.default_rng(9), 30, "dense"))
    sparse = pointer_features(pointer_bot("straight", np.random.default_rng(9), 30, "balabit"))
    i = POINTER_FEATURES.index("straightness_q50")
    assert dense[i] > 0.99 and sparse[i] > 0.99


_ROW = st.tuples(
    st.sampled_from(["0.1", "1e3", "-1", "nan", "inf", "x", ""]),
    st.sampled_from(["NoButton", "Left", "Right", "Scroll", "Middle", "?"]),
    st.sampled_from(["Move", "Drag", "Pressed", "Released", "Up", "Down", "Hover"]),
    st.sampled_from(["0", "12", "65535", "-3", "1e9", "nan", "a"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_ROW, max_size=20), st.booleans())
def test_balabit_reader_accepts_or_refuses_with_value_error(
    tmp_path: Path, rows: list[tuple[str, str, str, str]], extra_column: bool
) -> None:
    """Whatever the rows, the reader returns valid telemetry (times in order) or raises ValueError."""
    lines = [f"{t},{t},{b},{s},{xy},{xy}" + (",1" if extra_column else "") for t, b, s, xy in rows]
    path = tmp_path / "h.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n")
    try:
        tel = read_balabit(path)
    except ValueError:
        return
    times = [e.t for e in tel.events]
    assert times == sorted(times) and tel.events
    assert all(e.x is None or 0 <= e.x <= 16_384 for e in tel.events)
