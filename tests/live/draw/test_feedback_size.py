"""The feedback drawn smaller than the frame above FEEDBACK_MAX_PX (1920x1080 draws it at 960x540,
half per side) keeps every scene's look: each scene rendered at the stored thumbnails' 256x256 with
the budget cut to 128x128 (the same half per side) stays within test_looks' tolerance of the frames
stored before the speed work; and 512x512 is never reduced."""

import numpy as np
import pytest

import live.draw.shaders as shaders
from tests.live.draw.test_looks import DATA, TOLERANCE, library, mean_abs_error, scene_thumbnails


def test_the_budget_halves_1080p_per_side_and_leaves_512_alone():
    assert shaders.feedback_size(1920, 1080) == (960, 540)
    assert shaders.feedback_size(512, 512) == (512, 512)
    assert shaders.feedback_size(256, 256, 128 * 128) == (128, 128)


@pytest.mark.parametrize("name", sorted(p.stem for p in DATA.glob("*.npz")))
def test_each_scene_looks_as_it_did_with_the_feedback_at_half_size(ctx, name, monkeypatch):
    monkeypatch.setattr(shaders, "FEEDBACK_MAX_PX", 128 * 128)
    stored = np.load(DATA / f"{name}.npz")["frames"]
    error = mean_abs_error(scene_thumbnails(library()[name], ctx), stored)
    assert error <= TOLERANCE, f"{name}: mean abs error {error:.2f} with the feedback at half size (tolerance {TOLERANCE})"
