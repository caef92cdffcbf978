"""A learned, causal beat activation: a small temporal convolutional network over the features' log
bands, run with numpy (no torch at run time).

Onset flux says where something starts; it cannot say which of the onsets are beats. A kick on one
and three with a snare on two and four, a bass on the beat under an off-beat skank: the patterns
that tell a listener where the beat is are learned here from music with known beats. The network
sees only the past (causal dilated convolutions, about 5 s of context) and gives, per analysis
frame, the probability that a beat sounds in it. The beat tracker (live/analysis/beats.py) reads it next to
the flux, so audio the network never learned from (click tracks, noise) still has a beat.

    net = BeatNet()                          # live/analysis/beat_net.npz, the shipped weights
    activation = net.push(log_bands, rise)   # (n, 40) frames each -> (n,) in 0..1, streamed

Pushing frames in blocks of any size gives what one push of all of them gives (to float rounding).

The shipped weights come from `python -m live train-beats` (live/lab/beat_train.py, seed 0): 1200 mma
accompaniment grooves rendered with fluidsynth, from none of the style files that define a groove the
bench scores (live/lab/beat_eval.py GROOVES), and 400 pieces of varied metre, tempo map, swing, kit and
soundfont written by live/lab/hard_corpus.py (never one it scores), so the bench's figures are on music
the network never heard. (Until issue 19 it learned from the grooves alone: docs/beats.md has both.)

Architecture (Davies & Böck, "Temporal convolutional networks for musical audio beat tracking",
EUSIPCO 2019, made causal and small): input = [log bands, their positive rise] (80) -> 1x1 conv ->
L residual blocks of (causal conv, kernel k, dilation 2**l; ELU; 1x1 conv) -> 1x1 conv -> sigmoid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from live.core.errors import PhospheneError

WEIGHTS = Path(__file__).with_name("beat_net.npz")
KEYS = ("inp_w", "inp_b", "conv_w", "conv_b", "mix_w", "mix_b", "out_w", "out_b", "dilations", "n_bands")


class BeatNet:
    """The network with its streaming state: per layer, the last (k - 1) * dilation frames of that
    layer's input."""

    def __init__(self, weights: Path | dict = WEIGHTS):
        w = load_weights(weights) if isinstance(weights, (str, Path)) else weights
        self.inp_w, self.inp_b = w["inp_w"], w["inp_b"]  # (2F, C), (C,)
        layers, k, channels = w["conv_w"].shape[:3]
        self.conv_w, self.conv_b = w["conv_w"].reshape(layers, k * channels, -1), w["conv_b"]  # (L, k*C, C): the k taps in one product
        self.mix_w, self.mix_b = w["mix_w"], w["mix_b"]  # (L, C, C), (L, C)
        self.out_w, self.out_b = w["out_w"], float(w["out_b"])  # (C,), ()
        self.dilations = [int(d) for d in w["dilations"]]
        self.n_bands = int(w["n_bands"])
        self.k = k
        self.history = [np.zeros(((k - 1) * d, channels), np.float32) for d in self.dilations]

    def push(self, log_bands: np.ndarray, rise: np.ndarray) -> np.ndarray:
        """(n, F) log bands (live.analysis.features: log1p(compression * band amplitude)) and their rise over
        the frame before, floored at 0 (the features compute it for the flux) -> (n,) beat activation."""
        x = np.concatenate([log_bands, rise], axis=1, dtype=np.float32)  # (n, 2F)
        if x.shape[1] != 2 * self.n_bands:
            raise ValueError(f"log bands and rise must be (n, {self.n_bands}) each, got {np.shape(log_bands)} and {np.shape(rise)}")
        n = len(x)
        if n == 0:
            return np.zeros(0, np.float32)
        h = _elu(x @ self.inp_w + self.inp_b)  # (n, C)
        k = self.k
        for layer, d in enumerate(self.dilations):
            past = np.concatenate([self.history[layer], h])  # ((k-1)d + n, C)
            self.history[layer][:] = past[n:]  # copied into the same array every push: no allocation outlives the call
            taps = np.concatenate([past[j * d : j * d + n] for j in range(k)], axis=1)  # (n, k*C): row t holds past[t + j*d], j < k
            y = taps @ self.conv_w[layer]
            y += self.conv_b[layer]
            h = h + _elu(y) @ self.mix_w[layer] + self.mix_b[layer]
        z = h @ self.out_w + self.out_b
        return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)  # the logistic, without exp overflow


def load_weights(path: Path | str) -> dict[str, np.ndarray]:
    path = Path(path)
    try:
        with np.load(path) as f:
            w = {k: f[k] for k in KEYS}
    except FileNotFoundError:
        raise PhospheneError(f"beat network weights {path} not found: train them with `python -m live train-beats --out {path}`") from None
    except (KeyError, ValueError, OSError) as e:
        raise PhospheneError(
            f"beat network weights {path} are not a train-beats file ({e}): retrain with `python -m live train-beats`"
        ) from None
    w = {k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in w.items()}
    if w["inp_w"].shape[0] != 2 * int(w["n_bands"]) or w["conv_w"].shape[0] != len(w["dilations"]):
        raise PhospheneError(f"beat network weights {path} have inconsistent shapes: retrain with `python -m live train-beats`")
    return w


def _elu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) + np.expm1(np.minimum(x, 0))
