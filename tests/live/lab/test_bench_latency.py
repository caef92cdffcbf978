"""`bench latency` runs the real live command in a GL window on its own Xvfb and prints its table:
every case has latency figures from the run's stats, and the shader engine drew into the window
(no readback for it). No figure is asserted against a goal here (benches print, tests do not time)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (xvfb)")
def test_bench_latency_prints_every_case_from_the_runs_stats(tmp_path):
    out = tmp_path / "latency.json"
    cmd = [sys.executable, "-m", "live", "bench", "latency", "--seconds", "1.5", "--size", "128", "--json", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    results = json.loads(out.read_text())["results"]
    assert [(x["case"], x["hz"]) for x in results] == [
        ("128 px window", 30), ("128 px window", 60), ("1920x1080 fullscreen", 60), ("128 px window", 240), ("1920x1080 fullscreen", 240)
    ]
    for x in results:
        assert x["frames"] > 5 and 0 < x["latency_ms"]["p50"] <= x["latency_ms"]["p95"] <= x["latency_ms"]["p99"], x
        assert x["window"]["frames_in_gl"] and x["window"]["readbacks"] == 0, x["window"]
    assert "p95 <= 40" in r.stdout and "1920x1080 fullscreen uncapped" in r.stdout, r.stdout
