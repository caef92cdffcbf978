"""SeamlessM4TFeatureExtractor's features as a torch module: raw 16 kHz waveforms in, w2v-bert input out.

    Fbank()(waveforms: float32 (B, S) at 16 kHz) -> float32 (B, F2, 160)

It reproduces transformers' numpy extractor step by step (Kaldi's fbank, as w2v-bert-2.0 was trained):

    x * 2**15                              Kaldi works on 16-bit integer amplitudes
    25 ms frames, 10 ms hop, no centring   F = 1 + (S - 400) // 160
    remove the DC offset of each frame, preemphasis 0.97, povey window, 512-point FFT, power
    80 Kaldi mel bins, max(mel_floor, .), natural log
    per-utterance, per-bin mean / variance normalisation (ddof=1, + 1e-7), unless the extractor's
        `do_normalize_per_mel_bins` is false (the tiny encoders': see `normalize`)
    zero-pad to an even number of frames (and up to `min_frames`, as audio2img pads to 375 -> 376)
    stack frame pairs: (B, F, 80) -> (B, F / 2, 160)

The first four steps per frame are all linear, so they are folded into one (514, 400) matrix that
a strided conv1d applies: the real and imaginary parts of the 257 FFT bins. That keeps the module
to ops every exporter knows (Conv, MatMul, Log, Reduce*, Pad, Reshape): it exports with
`torch.onnx.export(dynamo=False, opset_version=17)` with dynamic batch and sample axes, and builds
in TensorRT, which has no FFT. Everything runs in float32 (a float16 power spectrum would overflow:
(2**15 * 400)**2 > 65504); cast the output for a half-precision model.

Inputs shorter than one frame (400 samples, 25 ms) have no features; callers give whole windows.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from live.core.defaults import SAMPLE_RATE

FRAME = 400  # samples per fbank frame at 16 kHz (25 ms)
HOP = 160  # samples between frames (10 ms)
N_FFT = 512
PREEMPHASIS = 0.97
MEL_FLOOR = 1.192092955078125e-07  # float32 eps, as the extractor passes to spectrogram()
KALDI_SCALE = 2.0**15  # "Kaldi compliance: 16-bit signed integers"
NORM_EPS = 1e-7  # added to the variance before the square root, as the extractor does


def frame_matrix() -> np.ndarray:
    """(2 * 257, 400) float64: one frame -> [Re FFT; Im FFT] after DC removal, preemphasis, window."""
    from transformers.audio_utils import window_function

    n = FRAME
    dc = np.eye(n) - np.full((n, n), 1.0 / n)  # x - mean(x)
    pre = np.eye(n) - PREEMPHASIS * np.eye(n, k=-1)  # y[t] = x[t] - 0.97 x[t-1] ...
    pre[0, 0] = 1.0 - PREEMPHASIS  # ... and y[0] = (1 - 0.97) x[0]
    window = np.diag(window_function(n, "povey", periodic=False))
    k = np.arange(N_FFT // 2 + 1)[:, None]  # (257, 1)
    angle = 2 * np.pi * k * np.arange(n)[None, :] / N_FFT  # the 512-point DFT of a zero-padded 400-sample frame
    dft = np.concatenate([np.cos(angle), -np.sin(angle)])  # (514, 400)
    return dft @ window @ pre @ dc


def mel_matrix(num_mel_bins: int = 80, sr: int = SAMPLE_RATE) -> np.ndarray:
    """(257, num_mel_bins): the extractor's own Kaldi mel filters."""
    from transformers.audio_utils import mel_filter_bank

    return mel_filter_bank(
        num_frequency_bins=N_FFT // 2 + 1,
        num_mel_filters=num_mel_bins,
        min_frequency=20,
        max_frequency=sr // 2,
        sampling_rate=sr,
        norm=None,
        mel_scale="kaldi",
        triangularize_in_mel_space=True,
    )


class Fbank(nn.Module):
    """(B, S) float32 waveforms at 16 kHz -> (B, F2, 160) normalised, stacked log-mel features."""

    def __init__(self, *, num_mel_bins: int = 80, stride: int = 2, min_frames: int = 0, normalize: bool = True):
        super().__init__()
        self.num_mel_bins = num_mel_bins
        # per-utterance, per-bin normalisation (w2v-bert-2.0 was pretrained on it) takes each bin's mean
        # level out of a window: the spectral envelope that tells a flute from a cello. A pretrained model
        # has learnt to hear timbre without it; a small random one does not, so tiny encoders turn it off
        # (their backbone's feature projection still normalises each frame across bins).
        self.normalize = normalize
        self.stride = stride  # frames stacked into one model input step
        # pad up to this many frames, rounded up to a multiple of stride (audio2img: 375 -> 376)
        self.min_frames = -(-min_frames // stride) * stride if min_frames else 0
        kernel = torch.tensor(frame_matrix(), dtype=torch.float32).unsqueeze(1)  # (514, 1, 400)
        self.register_buffer("kernel", kernel, persistent=False)
        self.register_buffer("mel", torch.tensor(mel_matrix(num_mel_bins), dtype=torch.float32), persistent=False)  # (257, M)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        x = waveforms.float().unsqueeze(1) * KALDI_SCALE  # (B, 1, S)
        spec = nn.functional.conv1d(x, self.kernel, stride=HOP)  # (B, 514, F): Re and Im of 257 bins per frame
        re, im = spec.chunk(2, dim=1)  # (B, 257, F) each
        power = (re * re + im * im).transpose(1, 2)  # (B, F, 257)
        logmel = torch.log(torch.clamp(power @ self.mel, min=MEL_FLOOR))  # (B, F, M)

        feats = logmel
        if self.normalize:
            mean = logmel.mean(dim=1, keepdim=True)  # (B, 1, M)
            var = torch.var(logmel, dim=1, keepdim=True, unbiased=True)  # ddof=1, as the extractor
            feats = (logmel - mean) / torch.sqrt(var + NORM_EPS)  # (B, F, M)

        # Zero frames after normalisation: pad to a multiple of stride, and up to min_frames. The pad
        # length comes from the traced shape, so it stays dynamic in an exported graph.
        frames = torch.as_tensor(feats.shape[1])  # a traced size under export, an int-valued tensor in eager
        pad = (self.stride - frames % self.stride) % self.stride
        if self.min_frames:
            pad = torch.clamp(self.min_frames - frames, min=0) + pad * (frames >= self.min_frames)
        if not torch.jit.is_tracing():
            pad = int(pad)
        feats = nn.functional.pad(feats, (0, 0, 0, pad))
        return feats.reshape(feats.shape[0], -1, self.num_mel_bins * self.stride)  # (B, F2, 160)


def fbank_for(feature_extractor, *, min_frames: int = 0) -> Fbank:
    """The Fbank matching a loaded SeamlessM4TFeatureExtractor; other extractors are refused."""
    name = type(feature_extractor).__name__
    if name != "SeamlessM4TFeatureExtractor":
        raise ValueError(f"Fbank reproduces SeamlessM4TFeatureExtractor only, not {name}")
    if feature_extractor.sampling_rate != SAMPLE_RATE or getattr(feature_extractor, "padding_value", 0.0) != 0.0:
        raise ValueError("Fbank reproduces the extractor at 16 kHz with padding_value 0 only")
    normalize = bool(getattr(feature_extractor, "do_normalize_per_mel_bins", True))
    return Fbank(num_mel_bins=feature_extractor.num_mel_bins, stride=feature_extractor.stride, min_frames=min_frames, normalize=normalize)
