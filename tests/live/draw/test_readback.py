"""OutputReader on a real GL context (EGL, Mesa llvmpipe): frames come back in order, two submits
late, exact at the frame's own size and scaled by GL (quadrants keep their colours) at a smaller one;
nothing is read unless something submits."""

import numpy as np
import pytest

from live.draw.gl import create_context, new_texture, upload
from live.draw.readback import OutputReader


@pytest.fixture(scope="module")
def ctx():
    ctx = create_context()
    yield ctx
    ctx.release()


def quadrants(k: int) -> np.ndarray:
    """A 64x32 frame, its four quadrants in colours that depend on k (so frames tell apart)."""
    frame = np.zeros((32, 64, 3), np.uint8)
    frame[:16, :32] = (255, 0, 10 * k)
    frame[:16, 32:] = (0, 255, 10 * k)
    frame[16:, :32] = (0, 10 * k, 255)
    frame[16:, 32:] = (200, 200, 10 * k)
    return frame


@pytest.mark.parametrize("size", [(64, 32), (16, 8)])
def test_frames_come_back_in_order_two_late_at_the_outputs_size(ctx, size):
    tex = new_texture(ctx, 64, 32, dtype="f1")
    reader = OutputReader(ctx, frame_size=(64, 32), size=size)
    assert reader.reads == 0 and reader.scaled == (size != (64, 32))
    got = []
    for k in range(6):
        upload(tex, quadrants(k))
        rgb = reader.submit(tex)
        assert (rgb is None) == (k < 2)  # the ring fills: a frame comes back two submits after its own
        if rgb is not None:
            got.append(rgb.copy())
    got += [rgb.copy() for rgb in reader.drain()]
    assert reader.reads == 6 and len(got) == 6
    w, h = size
    for k, rgb in enumerate(got):
        assert rgb.shape == (h, w, 3)
        want = quadrants(k)[:: 32 // h, :: 64 // w]  # each quadrant is flat: a scaled frame keeps it away from the seams
        inner = np.s_[1 : h // 2 - 1, 1 : w // 2 - 1] if reader.scaled else np.s_[:, :]
        for rows, cols in ((slice(0, h // 2), slice(0, w // 2)), (slice(h // 2, h), slice(w // 2, w))):
            a, b = rgb[rows, cols][inner], want[rows, cols][inner]
            assert np.abs(a.astype(int) - b).max() <= 1, (k, size, a[0, 0], b[0, 0])
    reader.release()
    tex.release()


def test_a_frame_of_another_size_is_refused(ctx):
    tex = new_texture(ctx, 32, 32, dtype="f1")
    reader = OutputReader(ctx, frame_size=(64, 32), size=(64, 32))
    with pytest.raises(ValueError, match="32x32"):
        reader.submit(tex)
    assert reader.reads == 0
