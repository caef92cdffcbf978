"""Ctrl-C (SIGINT to the whole process group, as a terminal sends it) during `render` and
`bench render`: exit 130, the `interrupted:` line last and alone, no progress line after it, no
traceback, no output file."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "demo" / "phosphene-demo.mp3"


def interrupt(args, *, when, stream: str) -> tuple[int, str]:
    """Start `python -m live ARGS`, SIGINT its process group once a line of `stream` contains
    `when`, and return (exit code, stderr)."""
    cmd = [sys.executable, "-m", "live", *map(str, args)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen = []
    try:
        for line in getattr(proc, stream):
            seen.append(line)
            if when in line:
                time.sleep(0.5)
                break
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, ("".join(seen) if stream == "stderr" else "") + err


def test_ctrl_c_during_a_render_ends_with_the_interrupted_line(tmp_path):
    out = tmp_path / "clip.mp4"
    code, err = interrupt(["render", DEMO, "-o", out, "--engine", "shader", "--size", "256"], when="render:", stream="stderr")
    lines = err.strip().splitlines()
    assert code == 130 and "Traceback" not in err, err
    assert lines[-1] == "interrupted: no output was written", err  # the bar closed before it, not after
    assert not out.exists() and not list(tmp_path.iterdir()), list(tmp_path.iterdir())


def test_ctrl_c_during_bench_render_is_one_line():
    code, err = interrupt(["bench", "render", "--models", "tiny"], when="timing:", stream="stdout")
    assert code == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("interrupted: bench render stopped during the render of"), err
    assert err.count("interrupted:") == 1, err  # the render child does not say it too
