"""Ableton Link: a peer (tests/live/control/link_peer.py) and the live run join one Link session
inside a private network namespace (`unshare --net`, loopback only: Link multicasts on every
interface, so it is never run on the host's network). The peer starts at 100 BPM and moves to
140; the run's beat clock follows it, and says Link drives it."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PEER = Path(__file__).with_name("link_peer.py")


def can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_netns = pytest.mark.skipif(not can_unshare(), reason="needs `unshare --net` (root or user namespaces) for a private network")


@needs_netns
def test_the_beat_follows_a_link_session_and_its_tempo_change(house_music, tmp_path):
    stats_file = tmp_path / "stats.json"
    run = [sys.executable, "-m", "live", "run", "--headless", "--windowed", "--input", str(house_music), "--engine", "shader"]
    run += ["--profile", "laptop", "--size", "128", "--duration", "16", "--link", "--tempo-source", "link"]
    run += ["--stats-json", str(stats_file)]
    peer = [sys.executable, str(PEER), "100", "140", "7", "30"]  # outlives the run; killed with the namespace's shell
    script = f"ip link set lo up && {shlex.join(peer)} & {shlex.join(run)}; code=$?; kill %1; exit $code"
    r = subprocess.run(
        ["unshare", "--net", "sh", "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "peer: tempo 140.0" in r.stdout, r.stdout  # the change happened while the run was in the session
    stats = json.loads(stats_file.read_text())
    # the session's tempo before the change is the peer's 100 or the run's own 120 (Link settles two
    # timelines on one, either way round); after it, 140, in the run's record and in its beat clock
    tempos = stats["link"]["tempos"]
    assert stats["link"]["peers"] == 1 and tempos[-1] == 140.0 and tempos[-2] in (100.0, 120.0), tempos
    assert stats["tempo_source"] == "link" and abs(stats["tempo_bpm"] - 140.0) < 1.0, stats["tempo_bpm"]
    assert stats["controls"]["received"]["link"] >= 10  # one tap a beat
