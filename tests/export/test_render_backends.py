"""A render with the ONNX Runtime backend gives the same frames as with torch, within the
tolerance of `export verify` carried through to pixels."""

import av
import numpy as np

from live.__main__ import main


def frames(path):
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(int)


def test_onnx_render_matches_torch_render(exports, house_music, tmp_path):
    common = ["render", str(house_music), "--diffusion", "tiny", "--vae", "tiny", "--size", "64", "--fps", "12", "--duration", "2", "-q"]
    own = str(exports["own"])
    assert main([*common, "-o", str(tmp_path / "torch.mp4"), "--encoder", own]) == 0
    assert main([*common, "-o", str(tmp_path / "onnx.mp4"), "--encoder", str(exports["own_onnx"]), "--encoder-backend", "onnx"]) == 0
    a, b = frames(tmp_path / "torch.mp4"), frames(tmp_path / "onnx.mp4")
    assert a.shape == b.shape == (24, 64, 64, 3)
    # Token cosine >= 0.9999 (verify's bound) moves the tiny random UNet/VAE, which amplify small
    # changes, by about a level per pixel, and the feedback loop carries that forward: measured
    # ~1 level on frame 0 and ~2 later, against ~7 for mixing in a text prompt and ~28 for another
    # seed. So: same frames up to noise well below what any real change in conditioning does.
    diff = np.abs(a - b).mean()
    assert diff < 3.0
    assert main([*common, "-o", str(tmp_path / "prompt.mp4"), "--encoder", own, "--prompt", "x y z"]) == 0
    assert diff < 0.5 * np.abs(a - frames(tmp_path / "prompt.mp4")).mean()
