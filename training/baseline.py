"""The trivial baseline eval prints beside an encoder: nearest class centroid on log-mel statistics.

    features = logmel_stats(waveform, mask)        (2 * MEL_BINS,) mean and std of the active frames' log-mel
    centroids = fit_centroids(features, labels)    per class, on standardised features
    accuracy = centroid_accuracy(centroids, features, labels)

Nothing is learnt beyond a mean per class: if an encoder's zero-shot accuracy is not clearly above
this, it hears the classes no better than a spectrum average does. Frames quieter than ACTIVE_DB
below the window's loudest frame are left out (silence between notes says nothing about the
instrument). numpy only.
"""

from __future__ import annotations

import numpy as np

from live.core.defaults import SAMPLE_RATE

MEL_BINS = 40
FRAME = 400  # 25 ms at 16 kHz
HOP = 160  # 10 ms
ACTIVE_DB = 30.0  # frames within this of the window's loudest are "active"


def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = 512, bins: int = MEL_BINS) -> np.ndarray:
    """(bins, n_fft // 2 + 1) triangular filters on the HTK mel scale, 20 Hz to sr / 2."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    edges_hz = 700 * (10 ** (np.linspace(mel(20.0), mel(sr / 2), bins + 2) / 2595) - 1)
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    lo, mid, hi = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    return np.maximum(0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))


FILTERS = mel_filters()


def logmel_stats(waveform: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(2 * MEL_BINS,): per-bin mean and std of log-mel over the active frames of the real samples."""
    x = np.asarray(waveform, np.float64)
    if mask is not None:
        x = x[np.asarray(mask, bool)]
    x = np.pad(x, (0, max(0, FRAME - len(x))))
    starts = np.arange(0, len(x) - FRAME + 1, HOP)
    frames = np.stack([x[s : s + FRAME] for s in starts]) * np.hanning(FRAME)  # (F, FRAME)
    power = np.abs(np.fft.rfft(frames, n=512, axis=1)) ** 2  # (F, 257)
    logmel = np.log(power @ FILTERS.T + 1e-10)  # (F, MEL_BINS)
    level_db = 10 * np.log10(power.sum(1) + 1e-20)  # (F,)
    active = logmel[level_db >= level_db.max() - ACTIVE_DB]
    return np.concatenate([active.mean(0), active.std(0)])


def fit_centroids(features: np.ndarray, labels: list[str]) -> dict:
    """Class centroids of standardised features (N, F); the standardisation is the training split's."""
    features = np.asarray(features, np.float64)
    mean, std = features.mean(0), features.std(0) + 1e-8
    z = (features - mean) / std
    classes = sorted(set(labels))
    centres = np.stack([z[[i for i, label in enumerate(labels) if label == c]].mean(0) for c in classes])
    return {"mean": mean, "std": std, "classes": classes, "centres": centres}


def predict(centroids: dict, features: np.ndarray) -> list[str]:
    z = (np.asarray(features, np.float64) - centroids["mean"]) / centroids["std"]  # (N, F)
    distances = ((z[:, None] - centroids["centres"][None]) ** 2).sum(-1)  # (N, C)
    return [centroids["classes"][k] for k in distances.argmin(1)]


def centroid_accuracy(centroids: dict, features: np.ndarray, labels: list[str]) -> float:
    """Share of clips whose nearest centroid is their own class (a class unseen in fitting counts as wrong)."""
    return float(np.mean([p == label for p, label in zip(predict(centroids, features), labels, strict=True)]))
