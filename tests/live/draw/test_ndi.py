"""--ndi: a real live run (shader engine, headless or in an Xvfb window) sends its picture as an
NDI source, and a receiver in a second process (tests/live/draw/ndi_receiver.py) finds it by name
and gets its frames at the right size with the right picture. Both run inside a private network namespace
(`unshare --net`, loopback only) with NDI's config restricted to 127.0.0.1 and no discovery
server, so no NDI traffic (mDNS, the stream) can leave the machine; without `unshare` (not root,
no user namespaces) those tests are skipped and say why.

The picture check: the run's stats keep a 2x2 colour thumbnail of every frame it sent; 95% of the
frames received must match one of them, in order, within NDI's compression error; a receiver that
swapped red and blue, flipped the picture or got black would not (checked on the same frames).

A receiver that leaves mid-set costs the run nothing: no error, the picture goes on.

Bad input: no cyndilib (the optional extra), a blank name, a name the runtime refuses: one line,
exit 2, before audio or models open.
"""

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
RECEIVER = Path(__file__).with_name("ndi_receiver.py")
TOLERANCE = 12  # levels of 255 a quarter's mean may move through NDI's 4:2:2 compression (measured: up to 8, mean 3)

needs_cyndilib = pytest.mark.skipif(
    importlib.util.find_spec("cyndilib") is None, reason="the NDI extra is not installed: pip install -r requirements-ndi.txt"
)


def can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_netns = pytest.mark.skipif(
    not can_unshare(), reason="needs `unshare --net` (root or user namespaces): NDI is only tested on a private loopback network"
)


def ndi_config(tmp_path) -> Path:
    folder = tmp_path / "ndi"
    folder.mkdir()
    (folder / "ndi-config.v1.json").write_text(json.dumps({"ndi": {"networks": {"ips": "127.0.0.1", "discovery": ""}}}))
    return folder


def run_cmd(music, *extra) -> list[str]:
    return [sys.executable, "-m", "live", "run", "--headless", "--windowed", "--input", str(music), "--engine", "shader", *extra]


def matched_in_order(received: np.ndarray, sent: np.ndarray) -> int:
    """How many received thumbnails (N, 12) match sent ones (M, 12) within TOLERANCE, each at or
    after the sent frame the previous one matched (frames are dropped, never reordered)."""
    count, i = 0, 0
    for thumb in received:
        close = np.nonzero(np.abs(sent[i:] - thumb).max(axis=1) <= TOLERANCE)[0]
        if len(close):
            i += close[0]
            count += 1
    return count


def free_x_display() -> str:
    return next(f":{n}" for n in range(91, 200) if not Path(f"/tmp/.X{n}-lock").exists())


def sender_and_receiver(music, tmp_path, *, window: bool = False, leave_s: float | None = None):
    """A 5 s live run with --ndi and a receiver, both in one private network namespace; returns
    the finished process, the run's NDI stats and what the receiver got."""
    stats_file, got_file = tmp_path / "stats.json", tmp_path / "received.json"
    run = run_cmd(music, "--profile", "laptop", "--size", "192x128", "--duration", "5")
    run += ["--ndi", "Phosphene test", "--stats-json", str(stats_file)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NDI_CONFIG_DIR": str(ndi_config(tmp_path))}
    x = ":"  # no X server: sh's no-op
    if window:
        run.remove("--headless")
        env["DISPLAY"] = free_x_display()
        x = f"Xvfb {env['DISPLAY']} -screen 0 640x480x24 -nolisten tcp 2>/dev/null & xvfb=$!; sleep 1"
    receiver = [sys.executable, str(RECEIVER), "Phosphene test", str(got_file), "60", *([str(leave_s)] if leave_s else [])]
    script = f"""ip link set lo up
{x}
{shlex.join(receiver)} & receiver=$!
{shlex.join(run)}; code=$?
wait $receiver
[ -n "$xvfb" ] && kill $xvfb
exit $code"""
    r = subprocess.run(["unshare", "--net", "sh", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=150)
    assert r.returncode == 0, r.stderr
    assert "receiver: " in r.stdout and got_file.exists(), r.stdout + r.stderr
    return json.loads(stats_file.read_text()), json.loads(got_file.read_text())


@needs_cyndilib
@needs_netns
@pytest.mark.parametrize("where", ["headless", "window"])
def test_a_receiver_gets_the_live_picture(house_music, tmp_path, where):
    if where == "window" and shutil.which("Xvfb") is None:
        pytest.skip("needs Xvfb for a real window")
    run, got = sender_and_receiver(house_music, tmp_path, window=where == "window")
    stats = run["ndi"]
    # the sender: most shown frames went out, none failed, one receiver was connected
    assert stats["sent"] >= 0.8 * run["frames"] and stats["errors"] == 0 and stats["receivers"] == 1, stats | {"sent_2x2": "..."}
    assert got["source"] == stats["source"] and got["source"].endswith("(Phosphene test)")
    # the receiver: most of them arrived, every one at the run's size, as RGB(X/A)
    received = got["frames"]
    assert len(received) >= 0.5 * stats["sent"], (len(received), stats["sent"])
    assert {tuple(f["size"]) for f in received} == {(192, 128)} and {f["fourcc"] for f in received} <= {"RGBX", "RGBA"}
    # the picture: not black, moving, and each frame one the run sent (in the order it sent them)
    sent, thumbs = np.array(stats["sent_2x2"]), np.array([f["thumb"] for f in received])
    assert len(sent) == stats["sent"] and thumbs.max() > 20 and len(np.unique(thumbs, axis=0)) >= 0.5 * len(thumbs)
    assert matched_in_order(thumbs, sent) >= 0.95 * len(thumbs), (matched_in_order(thumbs, sent), len(thumbs))
    # the check has teeth on this picture: red and blue swapped, or upside down, would not pass, on
    # the frames where that change shows in the thumbnail (a look can be near-symmetric top to bottom
    # for seconds: there a flipped frame is the frame)
    swapped = thumbs.reshape(-1, 4, 3)[:, :, ::-1].reshape(-1, 12)
    flipped = thumbs.reshape(-1, 2, 2, 3)[:, ::-1].reshape(-1, 12)
    shown = 0
    for wrong in (swapped, flipped):
        shows = np.abs(wrong - thumbs).max(axis=1) > 2 * TOLERANCE
        shown += int(shows.sum())
        assert matched_in_order(wrong[shows], sent) <= 0.5 * shows.sum(), (matched_in_order(wrong[shows], sent), shows.sum())
    assert shown >= 0.1 * len(thumbs), shown  # the controls bit on some frames: the picture has colour or a top and a bottom


@needs_cyndilib
@needs_netns
def test_a_receiver_lost_mid_set_never_stops_the_picture(house_music, tmp_path):
    run, got = sender_and_receiver(house_music, tmp_path, leave_s=1.5)  # gone after 1.5 s of a 5 s run
    stats = run["ndi"]
    assert 0 < len(got["frames"]) < 0.6 * stats["sent"], (len(got["frames"]), stats["sent"])  # it did leave early
    assert stats["sent"] >= 0.8 * run["frames"] and stats["errors"] == 0 and stats["receivers"] == 1, stats | {"sent_2x2": "..."}
    assert run["frames"] >= 0.7 * 5 * run["display_fps"], run["frames"]  # the picture went on after it left


def test_without_cyndilib_the_run_says_how_to_install_it(house_music, tmp_path):
    hide = tmp_path / "hide"
    (hide / "cyndilib").mkdir(parents=True)
    (hide / "cyndilib" / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'cyndilib'\", name='cyndilib')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hide), str(ROOT)])}
    r = subprocess.run(run_cmd(house_music, "--ndi", "Phosphene"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "pip install -r requirements-ndi.txt" in lines[0], r.stderr


@pytest.mark.parametrize(
    "name, says",
    [
        ("   ", "--ndi needs a name"),
        ("two\nlines", "cannot hold control characters"),
        ("x" * 300, "the NDI runtime refuses this name"),  # the runtime's own limit on 'HOST (NAME)'
    ],
)
@needs_cyndilib
@needs_netns
def test_a_name_ndi_refuses_is_one_line(house_music, tmp_path, name, says):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NDI_CONFIG_DIR": str(ndi_config(tmp_path))}
    stats_file = tmp_path / "stats.json"
    script = f"ip link set lo up && {shlex.join(run_cmd(house_music, '--ndi', name, '--stats-json', str(stats_file)))}"
    r = subprocess.run(["unshare", "--net", "sh", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: --ndi") and says in lines[0], r.stderr
    assert not stats_file.exists()  # nothing half-written
