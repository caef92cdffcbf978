"""live.models.fbank.Fbank against transformers' SeamlessM4TFeatureExtractor, on real recorded music.

Tolerance: the 80 log-mel bins are computed in float32 (a folded DFT in a conv1d) where the
extractor uses a float64 FFT. Bins that hold music agree to ~1e-5 in normalised units; bins far
below the frame's energy (house_lo is an 11 kHz recording, so nothing lies above 5.5 kHz: mel bins
70-79) carry float32 rounding noise, up to ~0.35. So: every bin within 0.5, 99.9 % within 0.2,
the mean within 5e-3, and bins 0-63 (up to ~4 kHz) within 1e-3.
"""

import numpy as np
import pytest
import torch
from transformers import SeamlessM4TFeatureExtractor

from live.models.fbank import Fbank


def reference(waves: np.ndarray, min_frames: int) -> np.ndarray:
    fe = SeamlessM4TFeatureExtractor(stride=2)
    frames = 1 + (waves.shape[1] - 400) // 160
    kwargs = {"padding": "max_length", "max_length": min_frames} if min_frames and frames < min_frames else {"padding": True}
    return fe(list(waves), sampling_rate=16_000, return_tensors="np", **kwargs)["input_features"]


@pytest.mark.parametrize("samples", [16_000, 32_000, 60_160, 80_000, 16_160])
@pytest.mark.parametrize("min_frames", [0, 375])
def test_fbank_matches_transformers_on_music(music_16k, other_16k, samples, min_frames):
    waves = np.stack([music_16k[:samples], music_16k[30_000 : 30_000 + samples], np.resize(other_16k, samples)])  # (3, S)
    ref = reference(waves, min_frames)
    out = Fbank(min_frames=min_frames)(torch.from_numpy(waves)).numpy()
    assert out.shape == ref.shape  # (3, F2, 160): odd frame counts padded to even, short ones to 376 for audio2img
    diff = np.abs(out - ref)
    assert diff.max() < 0.5 and np.quantile(diff, 0.999) < 0.2 and diff.mean() < 5e-3
    low_bins = diff.reshape(3, -1, 2, 80)[..., :64]  # the bins with music in them
    assert low_bins.max() < 1e-3


def test_fbank_without_per_bin_normalisation_matches_transformers(music_16k, tmp_path):
    """The tiny encoders' extractor (do_normalize_per_mel_bins=False, saved in preprocessor_config.json):
    log-mel levels as they are, so a window keeps its spectral envelope."""
    from live.models.fbank import fbank_for

    waves = np.stack([music_16k[:32_000], 0.1 * music_16k[:32_000]])  # (2, S): the same music, 20 dB quieter
    fe = SeamlessM4TFeatureExtractor(stride=2, do_normalize_per_mel_bins=False)
    fe.save_pretrained(tmp_path)
    fb = fbank_for(SeamlessM4TFeatureExtractor.from_pretrained(tmp_path))
    assert fb.normalize is False and fbank_for(SeamlessM4TFeatureExtractor(stride=2)).normalize is True
    ref = fe(list(waves), sampling_rate=16_000, return_tensors="np", padding=True, do_normalize_per_mel_bins=False)["input_features"]
    out = fb(torch.from_numpy(waves)).numpy()
    low_bins = np.abs(out - ref).reshape(2, -1, 2, 80)[..., :64]  # bins with music in them (see the module docstring)
    assert out.shape == ref.shape and low_bins.max() < 1e-3
    assert abs(out[0, :, :64].mean() - out[1, :, :64].mean() - np.log(100)) < 0.1  # 20 dB quieter: ln(100) lower, not normalised away


def test_fbank_shapes_follow_audio2img_padding():
    fb = Fbank(min_frames=375)
    assert fb(torch.zeros(2, 16_000)).shape == (2, 188, 160)  # 1 s -> 98 frames, padded to 376
    assert fb(torch.zeros(1, 80_000)).shape == (1, 249, 160)  # 5 s -> 498 frames: longer windows are not cut
    assert Fbank()(torch.zeros(1, 16_000)).shape == (1, 49, 160)  # own format: no padding to 376


def test_fbank_exports_with_dynamic_axes(tmp_path, music_16k):
    import onnxruntime as ort

    fb = Fbank(min_frames=375).eval()
    path = tmp_path / "fbank.onnx"
    torch.onnx.export(
        fb,
        (torch.zeros(2, 40_000),),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["waveforms"],
        output_names=["features"],
        dynamic_axes={"waveforms": {0: "batch", 1: "samples"}, "features": {0: "batch", 1: "frames"}},
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, samples in [(1, 16_000), (3, 32_000), (2, 60_160), (1, 80_000), (3, 16_320)]:
        waves = np.stack([music_16k[i * 5000 : i * 5000 + samples] for i in range(batch)])
        (got,) = session.run(None, {"waveforms": waves})
        want = fb(torch.from_numpy(waves)).numpy()
        assert got.shape == want.shape
        diff = np.abs(got - want).reshape(batch, -1, 2, 80)
        assert diff[..., :64].max() < 1e-3 and diff.max() < 0.2  # near-silent top bins: float32 noise, as above
