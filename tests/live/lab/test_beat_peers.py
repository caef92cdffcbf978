"""`bench beats --peers` and `--corpus hard` without rendering anything: the peers' environment
missing is one line saying how to make it, an unknown hard piece one line naming the pieces, and the
peer table's means and seconds per minute come out of the rows. The peers themselves (madmom,
BeatNet) are bench-only and never run here."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from live.lab import beat_eval

ROOT = Path(__file__).resolve().parents[3]


def bench(*args, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    cmd = [sys.executable, "-m", "live", "bench", "beats", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_peers_without_their_environment_is_one_line(tmp_path):
    r = bench(
        "--corpus", "hard", "--peers", "--no-librosa", env_extra={"PHOSPHENE_PEERS_PYTHON": str(tmp_path / "none" / "bin" / "python")}
    )
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert "scripts/install-peers.sh" in r.stderr and r.stdout == ""


def test_unknown_hard_piece_names_the_pieces(tmp_path):
    from live.lab import hard_corpus

    if (why := hard_corpus.missing()) is not None:  # the check for fluidsynth comes first
        pytest.skip(why)
    r = bench("--corpus", "hard", "--songs", "nope", "--no-librosa", "--keep", str(tmp_path))
    assert r.returncode == 2 and "no piece nope: choose among ramp120-128" in r.stderr


def test_peer_table_means_and_seconds_per_minute():
    def row(ours_f, peer_f, audio_s):
        s = beat_eval.Score
        return beat_eval.Row(
            "x", 0.0, 120.0, 120.0, s(ours_f, ours_f, 0.0), s(0.5, 0.6, 0.0), audio_s=audio_s,
            seconds={"ours": 0.1 * audio_s / 60, "librosa": 0.5, "madmom online": 3.0 * audio_s / 60},
            peers={"madmom online": s(peer_f, 0.9, 0.0)},
        )  # fmt: skip

    table = beat_eval.format_peer_table({"songs": [row(1.0, 0.5, 30.0), row(0.5, 1.0, 30.0)], "hard": [row(0.8, 0.6, 60.0)]})
    lines = table.splitlines()
    assert lines[0] == "| tracker | causal? | songs F | songs AMLt | hard F | hard AMLt | s per min |"
    ours, librosa, madmom = (line.split(" | ") for line in lines[2:5])
    assert ours[:6] == ["| ours", "yes", "0.750", "0.750", "0.800", "0.800"] and np.isclose(float(ours[6].rstrip(" |")), 0.1)
    assert librosa[1] == "no" and np.isclose(float(librosa[6].rstrip(" |")), 60 * 1.5 / 120)
    assert madmom[0] == "| madmom online" and madmom[2:4] == ["0.750", "0.900"] and np.isclose(float(madmom[6].rstrip(" |")), 3.0)
    # with --no-librosa there is no librosa row (it used to be a row of dashes)
    bare = dataclasses.replace(row(1.0, 0.5, 30.0), librosa=None)
    names = [line.split(" | ")[0] for line in beat_eval.format_peer_table({"songs": [bare]}).splitlines()[2:]]
    assert names == ["| ours", "| madmom online"]
