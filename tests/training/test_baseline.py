"""The nearest-centroid baseline eval prints: log-mel statistics of active frames, one centroid per class."""

import numpy as np

from training.baseline import MEL_BINS, centroid_accuracy, fit_centroids, logmel_stats, predict

SR = 16_000


def tone(freq_hz: float, seconds: float = 0.5, rng=None) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * freq_hz * t) + 0.1 * np.sin(2 * np.pi * 2 * freq_hz * t)
    return (x + (0.002 * rng.standard_normal(len(t)) if rng is not None else 0)).astype(np.float32)


def test_silence_around_a_note_does_not_change_its_statistics():
    rng = np.random.default_rng(1)
    note, other = tone(440.0, rng=rng), tone(880.0, rng=rng)
    padded = np.concatenate([np.zeros(SR), note, np.zeros(2 * SR)]).astype(np.float32)
    a, b, c = logmel_stats(note), logmel_stats(padded), logmel_stats(other)
    assert a.shape == (2 * MEL_BINS,)
    # silence frames are left out: 2.5 s of silence moves the statistics far less than another pitch does
    assert np.abs(a - b).mean() < 0.4 * np.abs(a - c).mean()
    masked = logmel_stats(padded, mask=np.arange(len(padded)) < SR + len(note))  # samples after the mask are never read
    assert np.abs(a - masked).mean() < 0.4 * np.abs(a - c).mean()


def test_centroids_separate_low_and_high_tones_and_unseen_classes_count_as_wrong():
    rng = np.random.default_rng(0)
    low = [logmel_stats(tone(f, rng=rng)) for f in rng.uniform(200, 230, 6)]
    high = [logmel_stats(tone(f, rng=rng)) for f in rng.uniform(2000, 2300, 6)]
    centroids = fit_centroids(np.stack(low[:4] + high[:4]), ["low"] * 4 + ["high"] * 4)
    assert predict(centroids, np.stack(low[4:] + high[4:])) == ["low", "low", "high", "high"]
    assert centroid_accuracy(centroids, np.stack(low[4:] + high[4:]), ["low", "low", "high", "high"]) == 1.0
    assert centroid_accuracy(centroids, np.stack(low[4:]), ["middle", "low"]) == 0.5
