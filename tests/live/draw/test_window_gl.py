"""The live window drawn by OpenGL, on a real X server (Xvfb, Mesa's GLX) and read back from the
screen with ImageMagick's `import -window root`: the frame scaled by GL with the letterbox bars where
they belong, the HUD over it, and the software path (with its one line) where GL cannot be had."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
SCREEN = (640, 480)

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("import") is None, reason="needs Xvfb (xvfb) and ImageMagick's import")

# The child: a fullscreen Display, one frame presented (twice, as a held frame is), a screenshot taken
# while it is up. A 64x32 frame (2:1) on a 4:3 screen: 640x320 at y 80, bars above and below.
CHILD = r"""
import json, os, subprocess, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import live.draw.window_gl as window_gl
if sys.argv[4] == "nogl":  # as on a driver without GL 3.3
    class NoGL:
        def __init__(self):
            raise RuntimeError("GLX: no GL 3.3 context")
    window_gl.GLScreen = NoGL
from live.draw.display import Display
frame = np.zeros((32, 64, 3), np.uint8)
frame[:16, :32] = (255, 0, 0); frame[:16, 32:] = (0, 255, 0); frame[16:, :32] = (0, 0, 255); frame[16:, 32:] = (255, 255, 255)
toggle = sys.argv[5] == "toggle"  # start in a small window, then F: fullscreen
display = Display(windowed=toggle, size=(320, 240), hud=sys.argv[3] == "hud")
display.open()
hud = dict(fps=24.0, latency_ms=[30.0], level=0.5, encoder_ms=0.0, unet_ms=0.0, overflows=0, dropped=0, input_lost=False, reconnects=0)
if toggle:
    display.present(frame, hud)
    display.apply("fullscreen")
    frame = frame.copy()
for _ in range(3):
    display.present(frame, hud)
subprocess.run(["import", "-window", "root", sys.argv[2]], check=True)
print(json.dumps({"gl": display.gl_screen is not None, "uploads": display.gl_screen.uploads if display.gl_screen else None}))
display.close()
"""


@pytest.fixture(scope="module")
def xdisplay():
    number = next(n for n in range(70, 99) if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists())
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield f":{number}"
    finally:
        xvfb.kill()  # ours, by its own process
        xvfb.wait()


def show(xdisplay, tmp_path, *, hud: bool, gl: bool = True, toggle: bool = False):
    shot = tmp_path / "screen.png"
    env = {**os.environ, "DISPLAY": xdisplay, "SDL_VIDEODRIVER": "x11", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), str(shot), "hud" if hud else "nohud", "gl" if gl else "nogl", "toggle" if toggle else "-"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert r.returncode == 0, r.stderr
    from PIL import Image

    return np.asarray(Image.open(shot).convert("RGB")).astype(int), json.loads(r.stdout.strip().splitlines()[-1]), r.stderr


def check_picture(pixels):
    assert pixels.shape == (SCREEN[1], SCREEN[0], 3)
    clear = np.array([12, 0, 24])
    for bar in (pixels[:76], pixels[404:]):  # letterbox bars: 80 rows above and below the 640x320 picture
        assert np.abs(bar - clear).max() <= 2
    quadrants = {(90, 230, 10, 310): (255, 0, 0), (90, 230, 330, 630): (0, 255, 0), (250, 390, 10, 310): (0, 0, 255), (250, 390, 330, 630): (255, 255, 255)}
    for (y0, y1, x0, x1), colour in quadrants.items():
        assert np.abs(pixels[y0:y1, x0:x1] - np.array(colour)).mean() < 3, (y0, x0, pixels[y0:y1, x0:x1].mean(axis=(0, 1)))
    return pixels


def test_the_gl_window_shows_the_frame_scaled_and_letterboxed(xdisplay, tmp_path):
    pixels, info, stderr = show(xdisplay, tmp_path, hud=False)
    assert info == {"gl": True, "uploads": 1}, stderr  # GL drew it; the frame held three times went up once
    check_picture(pixels)
    # the top row of the picture, the left half red up to the middle: GL's scaling, not a flipped image
    assert (pixels[82, 20] == [255, 0, 0]).all() and (pixels[398, 620] == [255, 255, 255]).all()


def test_f_from_a_window_to_fullscreen_draws_the_whole_screen_in_gl(xdisplay, tmp_path):
    pixels, info, stderr = show(xdisplay, tmp_path, hud=False, toggle=True)
    assert info == {"gl": True, "uploads": 1}, stderr  # a new GL window: the frame goes up once to it
    check_picture(pixels)


def test_the_hud_is_drawn_over_the_picture_in_gl(xdisplay, tmp_path):
    pixels, info, _ = show(xdisplay, tmp_path, hud=True)
    assert info["gl"]
    corner = pixels[8:60, 8:300]  # the HUD's text over the bar and the red quadrant: light text on black boxes
    assert (corner.min(axis=2) > 200).mean() > 0.01 and (corner.max(axis=2) < 8).mean() > 0.1  # (no HUD: all the clear colour)
    assert np.abs(pixels[250:390, 330:630] - 255).mean() < 3  # the rest of the picture as it was


def test_without_gl_the_software_path_draws_it_and_says_so_once(xdisplay, tmp_path):
    pixels, info, stderr = show(xdisplay, tmp_path, hud=False, gl=False)
    assert info == {"gl": False, "uploads": None}
    said = [line for line in stderr.splitlines() if "no OpenGL window here" in line]
    assert len(said) == 1 and "GLX: no GL 3.3 context" in said[0] and "software path" in said[0]
    check_picture(pixels)
