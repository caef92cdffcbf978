"""A live run in a real GL window (Xvfb, Mesa's GLX): the shader engine draws into the window's own
context, so the frame reaches the screen with no readback and no upload; an output that needs pixels
(the UDP stream, received by PyAV) gets every shown frame through the asynchronous readback, and
only then are pixels read (the run's stats count the reads)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("import") is None, reason="needs Xvfb (xvfb) and ImageMagick's import")


@pytest.fixture(scope="module")
def xdisplay():
    number = next(n for n in range(60, 90) if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists())
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "640x480x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield f":{number}"
    finally:
        xvfb.kill()  # ours, by its own process
        xvfb.wait()


def live_run(xdisplay, music, stats_file, *extra, duration=4):
    cmd = [sys.executable, "-m", "live", "run", "--input", str(music), "--engine", "shader", "--profile", "laptop"]
    cmd += ["--windowed", "--size", "192x128", "--duration", str(duration), "--stats-json", str(stats_file), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISPLAY": xdisplay, "SDL_VIDEODRIVER": "x11", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_window_shows_the_engine_frame_with_no_pixels_read(xdisplay, house_music, tmp_path):
    stats_file, shot = tmp_path / "stats.json", tmp_path / "screen.png"
    proc = live_run(xdisplay, house_music, stats_file, duration=5)
    pixels = None
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(1.0)
        r = subprocess.run(["import", "-display", xdisplay, "-window", "root", str(shot)], capture_output=True)
        if r.returncode == 0:
            from PIL import Image

            pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
            if pixels.std() > 10:
                break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    stats = json.loads(stats_file.read_text())
    window = stats["window"]
    assert window == {"gl": True, "frames_in_gl": True, "uploads": 0, "readbacks": 0}, window  # no output needs pixels: none read
    assert stats["frames"] > 30 and stats["generator"]["frames"] >= stats["frames"] - 1 and stats["latency_ms"]["p50"] > 0
    # the picture is on the screen: a 192x128 window (SDL centres it on Xvfb's black root), not the clear colour
    ys, xs = np.nonzero(pixels.sum(axis=2) > 0)
    rows, cols = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1  # (a vignetted corner may be black itself)
    assert 110 <= rows <= 128 and 170 <= cols <= 192, (ys.min(), ys.max(), xs.min(), xs.max())
    picture = pixels[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert np.abs(picture - np.array([12, 0, 24])).mean() > 10 and picture.std() > 10


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_stream_gets_every_frame_through_the_asynchronous_readback(xdisplay, house_music, tmp_path):
    port = free_udp_port()
    received, sizes = [0], set()

    def receive():
        with av.open(f"udp://127.0.0.1:{port}?timeout=8000000", format="mpegts", timeout=10) as container:
            try:
                for frame in container.decode(video=0):
                    received[0] += 1
                    sizes.add((frame.width, frame.height))
            except av.error.OSError:  # UDP has no end of stream: 8 s without a packet reads as EIO
                pass

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    stats_file = tmp_path / "stats.json"
    proc = live_run(xdisplay, house_music, stats_file, "--stream", f"udp://127.0.0.1:{port}")
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    receiver.join(timeout=20)
    stats = json.loads(stats_file.read_text())
    window, stream = stats["window"], stats["stream"]
    assert window["frames_in_gl"] and window["uploads"] == 0
    assert window["readbacks"] == stats["frames"], (window, stats["frames"])  # one read per shown frame, for the stream
    # every frame read reached the sender (the two in flight at the end too): sent or, when it lagged, counted
    assert stream["sent"] + stream["dropped"] == stats["frames"] and stream["errors"] == 0, stream
    assert stream["sent"] >= 0.8 * stats["frames"], stream
    assert sizes == {(192, 128)} and received[0] >= 0.6 * stream["sent"], (received[0], stream)
