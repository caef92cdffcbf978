"""`bench control`: the real live loop (shader engine, demo clip, OSC on 127.0.0.1) timed from an
OSC message to the first shown frame that shows it. The bench prints figures; this test checks it
measures something (every message timed, within a bound no working loop misses) and that the
crossing rule reads a step the right way round. It does not check the target: that is the bench's
table, on a quiet machine."""

import os
import re
import subprocess
import sys
from pathlib import Path

from live.lab.bench_control import first_crossing

ROOT = Path(__file__).resolve().parents[3]


def test_first_crossing_finds_the_half_way_frame_either_way():
    frames = [(0.00, 10.0), (0.04, 11.0), (0.08, 30.0), (0.12, 50.0)]
    assert first_crossing(frames, 0.01, before=10.0, after=50.0) == 0.08 - 0.01  # up: 30 is past half way
    falling = [(t, 60.0 - v) for t, v in frames]
    assert first_crossing(falling, 0.01, before=50.0, after=10.0) == 0.08 - 0.01  # down: the same frame
    assert first_crossing(frames, 0.09, before=10.0, after=50.0) == 0.12 - 0.09  # only frames after the send count
    assert first_crossing(frames[:2], 0.0, before=10.0, after=50.0) is None


def test_the_bench_times_every_message(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "live", "bench", "control", "--repeats", "3"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    rows = {
        m[1]: (int(m[2]), float(m[3]), float(m[5]))
        for m in re.finditer(r"^(\w+) \(.*?\)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", r.stdout, re.M)
    }
    assert set(rows) == {"blackout", "vignette"}, r.stdout
    for name, (n, p50, worst) in rows.items():
        assert n >= 5, (name, r.stdout)  # of 6 sent: a missed step is printed, and more than one is a broken path
        assert 0 < p50 and worst < 500, (name, r.stdout)  # a control that takes half a second is a queue, not a latency
