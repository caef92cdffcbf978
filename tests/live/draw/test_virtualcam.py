"""--virtual-camera: only the refusal path is tested here. A virtual camera needs the v4l2loopback
kernel module, which containers (this machine, CI) never have; where no loopback device exists, the
run stops in one line naming `sudo modprobe v4l2loopback` (with exclusive_caps=1 and a card label),
exit 2, before audio or models open, and writes nothing. Sending frames to a real device is not
tested here: on a desktop, `sudo modprobe v4l2loopback exclusive_caps=1 card_label=Phosphene` and
`python -m live run --virtual-camera` shows the picture in OBS or a browser."""

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(
    bool(glob.glob("/dev/video*")), reason="this machine has video devices (perhaps a v4l2loopback one): no refusal to test"
)
@pytest.mark.parametrize("device", [None, "/dev/video63"])
def test_no_loopback_device_is_one_line_naming_modprobe(house_music, tmp_path, device):
    stats_file = tmp_path / "stats.json"
    cmd = [sys.executable, "-m", "live", "run", "--headless", "--input", str(house_music), "--engine", "shader"]
    cmd += ["--virtual-camera", *([device] if device else []), "--stats-json", str(stats_file)]
    r = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith("error: --virtual-camera") and "sudo modprobe v4l2loopback" in lines[0], lines[0]
    assert "exclusive_caps=1" in lines[0] and "card_label=" in lines[0], lines[0]
    assert (device or "no v4l2loopback device") in lines[0], lines[0]
    assert not stats_file.exists()  # nothing half-written
