"""Timelines: bad ones refused in one line naming the line; a render changes scene at the stated frames."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "demo" / "phosphene-demo.mp3"  # 12.5 s


def cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "live", *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


@pytest.mark.parametrize(
    "text, needle",
    [
        (
            '[[cue]]\nat = "0:00"\nscene = "tunnel"\n[[cue]]\nat = "0:02"\nscene = "kaleidoscope"\n',
            ":6: scene = 'kaleidoscope': no such scene",
        ),
        (
            '[[cue]]\nat = "0:00"\nscene = "tunnel"\n\n[[cue]]\nat = "0:30"\nscene = "cells"\n',
            ':6: at = "0:30" is past the end of the audio (12.5 s)',
        ),
        (
            '[[cue]]\nat = "0:05"\nscene = "tunnel"\n[[cue]]\nat = "0:02"\nscene = "cells"\n',
            ':5: at = "0:02" is not after the cue at line 1',
        ),
        ('[[cue]]\nat = "0:05"\nscene = "tunnel"\n[[cue]\n', ":4: not valid TOML"),
        ('[[cue]]\nat = "0:05"\nscene = "tunnel"\ntransition = "wipe"\n', ":4: transition 'wipe': give KIND"),
        ('[[cue]]\nat = "later"\nscene = "tunnel"\n', ':2: at = "later": give a time'),
        (  # the demo track has 6 bars (`python -m live beats demo/phosphene-demo.mp3 --bars`)
            '[[cue]]\nat = "0:00"\nscene = "tunnel"\n[[cue]]\nat = "bar 7"\nscene = "cells"\n',
            ':5: at = "bar 7" is past the end of the audio (it has 6 bars',
        ),
        (  # bar 2 starts at 4.0 s: before the cue at 0:05
            '[[cue]]\nat = "0:05"\nscene = "tunnel"\n[[cue]]\nat = "bar 2"\nscene = "cells"\n',
            ':5: at = "bar 2" is not after the cue at line 1',
        ),
        ('[[cue]]\nat = "0:05"\nprompt = "fog"\ntravel = "long"\n', ':4: travel = \'long\': give "N beats" or "N bars"'),
    ],
)
def test_bad_timelines_are_refused_naming_the_line(tmp_path, text, needle):
    timeline = tmp_path / "t.toml"
    timeline.write_text(text)
    r = cli("render", DEMO, "-o", tmp_path / "o.mp4", "--engine", "shader", "--size", "32", "--timeline", timeline, "-q")
    err = r.stderr.strip()
    assert r.returncode == 2 and len(err.splitlines()) == 1 and f"{timeline}{needle}" in err, err
    assert not (tmp_path / "o.mp4").exists()


def test_a_render_changes_scene_at_the_stated_frames(tmp_path):
    """Cues 'on now' at 2.0 s and 4.5 s, at 12 fps: frames 24 and 54 are the first of each scene;
    the same --seed renders the same stats twice."""
    timeline = tmp_path / "t.toml"
    timeline.write_text(
        '[[cue]]\nat = "0:00"\nscene = "scope"\n'
        '[[cue]]\nat = "0:02.0"\nscene = "plasma"\ntransition = "cut on now"\n'
        '[[cue]]\nat = "4.5"\nscene = "cells"\ntransition = "crossfade 1 beats on now"\n'
    )
    stats = []
    for name in ("a", "b"):
        r = cli(
            "render",
            DEMO,
            "-o",
            tmp_path / f"{name}.mp4",
            "--engine",
            "shader",
            "--size",
            "32",
            "--fps",
            "12",
            "--duration",
            "6",
            "--timeline",
            timeline,
            "--seed",
            "3",
            "-q",
            "--stats-json",
            tmp_path / f"{name}.json",
        )
        assert r.returncode == 0, r.stderr
        stats.append(json.loads((tmp_path / f"{name}.json").read_text()))
    assert stats[0]["scene_changes"] == [[0, "scope"], [24, "plasma"], [54, "cells"]]
    per_frame = stats[0]["scene_per_frame"]
    assert len(per_frame) == 72 and per_frame[23] == "scope" and per_frame[24] == "plasma" and per_frame[71] == "cells"
    assert stats[0]["scene_per_frame"] == stats[1]["scene_per_frame"]
