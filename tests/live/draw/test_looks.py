"""Every scene still looks as it did: each scene's frames against stored thumbnails.

The thumbnails (tests/live/draw/data/looks/NAME.npz, a few KB each) were rendered by the engine as
it was before the speed work of issue 30 (commit 18cbee0's shaders: per-pixel warp, structure at
full size): the demo track, the offline clock, 24 fps, seed 0, 256x256, the frames at 1.5, 3 and
4.5 s, each box-averaged to 32x32. A change that makes the engine faster may move a pixel here and
there (a warp evaluated on a mesh, a structure drawn smaller and upscaled), never the picture.

Regenerate (only when a scene is meant to change):
    .venv/bin/python -m tests.live.draw.test_looks --write
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data" / "looks"
SIZE, THUMB = 256, 32  # rendered size, stored thumbnail side
MOMENTS_S = (1.5, 3.0, 4.5)
# Mean absolute error per channel (0..255) between a scene's thumbnails and the stored ones. Two
# different scenes differ by 14 to 106 here (the closest pair, scope / flow, two dark scenes, by
# 14.5), and a scene against its own second render by 0: 4 lets through resampling noise, never
# another look.
TOLERANCE = 4.0


def thumbnail(rgb: np.ndarray, side: int = THUMB) -> np.ndarray:
    """uint8 (side, side, 3): the mean over each (H/side) x (W/side) box."""
    h, w = rgb.shape[:2]
    boxes = rgb.astype(np.float64).reshape(side, h // side, side, w // side, 3)
    return np.rint(boxes.mean(axis=(1, 3))).astype(np.uint8)


def scene_thumbnails(scene, ctx=None) -> np.ndarray:
    from live.app.sheet import DEMO, scene_frames

    frames = scene_frames(scene, DEMO, list(MOMENTS_S), size=SIZE, fps=24, seed=0, ctx=ctx)
    return np.stack([thumbnail(f) for f in frames])  # (len(MOMENTS_S), THUMB, THUMB, 3)


def mean_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def library():
    from live.app.scenes import load_library

    return load_library()


@pytest.mark.parametrize("name", sorted(p.stem for p in DATA.glob("*.npz")))
def test_each_scene_looks_as_it_did(ctx, name):
    stored = np.load(DATA / f"{name}.npz")["frames"]
    now = scene_thumbnails(library()[name], ctx)
    error = mean_abs_error(now, stored)
    assert error <= TOLERANCE, f"{name}: mean abs error {error:.2f} against the stored frames (tolerance {TOLERANCE})"


def test_every_scene_has_stored_frames_and_the_measure_tells_scenes_apart():
    """A scene without stored frames is a scene the test above does not watch; and the tolerance
    must be far below the difference between two scenes, or it would watch nothing."""
    names = set(library())
    assert names <= {p.stem for p in DATA.glob("*.npz")}, f"no stored frames for {sorted(names - {p.stem for p in DATA.glob('*.npz')})}"
    stored = {n: np.load(DATA / f"{n}.npz")["frames"] for n in names}
    closest = min(mean_abs_error(stored[a], stored[b]) for a in names for b in names if a < b)
    assert closest > 3 * TOLERANCE, closest


if __name__ == "__main__" and "--write" in sys.argv:
    DATA.mkdir(parents=True, exist_ok=True)
    for name, scene in sorted(library().items()):
        frames = scene_thumbnails(scene)
        np.savez_compressed(DATA / f"{name}.npz", frames=frames)
        print(name, frames.shape, (DATA / f"{name}.npz").stat().st_size, "bytes")
