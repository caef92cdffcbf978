"""--stream: a receiver on 127.0.0.1 (PyAV reading MPEG-TS over UDP, as ffmpeg or OBS would)
decodes the live run's frames at the right size; a URL the muxer cannot use is one line."""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[3]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_receiver_decodes_the_stream(house_music, tmp_path):
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
    cmd = [sys.executable, "-m", "live", "run", "--headless", "--windowed", "--input", str(house_music), "--engine", "shader"]
    cmd += [
        "--profile",
        "laptop",
        "--size",
        "192x128",
        "--duration",
        "4",
        "--stream",
        f"udp://127.0.0.1:{port}",
        "--stats-json",
        str(stats_file),
    ]
    r = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    receiver.join(timeout=20)
    stats = json.loads(stats_file.read_text())
    assert stats["stream"]["sent"] >= 0.8 * stats["frames"] and stats["stream"]["errors"] == 0, stats["stream"]
    assert sizes == {(192, 128)} and received[0] >= 0.6 * stats["stream"]["sent"], (received[0], stats["stream"])


def test_a_bad_url_is_one_line(house_music):
    cmd = [
        sys.executable,
        "-m",
        "live",
        "run",
        "--headless",
        "--input",
        str(house_music),
        "--engine",
        "shader",
        "--stream",
        "ftp://nowhere",
    ]
    r = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: --stream ftp://nowhere") and len(r.stderr.strip().splitlines()) == 1
