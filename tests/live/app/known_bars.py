"""Music whose bars are known: a drum-and-bass loop synthesised at a stated tempo, metre and first
downbeat (a kick and a new bass note on each bar line, a click on every beat), for the tests that
check where scenes change against the bars `python -m live beats FILE --bars` prints."""

import numpy as np

SR = 16_000


def groove(bpm: float, seconds: float, *, beats_per_bar: int = 4, first_s: float = 0.25, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """(samples float32 (n, 1), the true bar lines in s). Beat i is at first_s + i * 60 / bpm; every
    beats_per_bar-th beat from the first is a bar line."""
    n = int(seconds * sr)
    x = np.zeros(n, np.float32)
    period = 60.0 / bpm
    beats = np.arange(first_s, seconds - 0.05, period)
    roots = (55.0, 73.4, 61.7, 82.4)  # A1, D2, B1, E2: one a bar, so the harmony changes on the bar line
    t = np.arange(int(0.08 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-t / 0.02)) * t) * np.exp(-t / 0.06)
    click = np.sin(2 * np.pi * 2000 * t) * np.exp(-t / 0.004)
    for i, b in enumerate(beats):
        a = int(b * sr)
        hit = 0.9 * kick if i % beats_per_bar == 0 else 0.35 * click
        x[a : a + len(hit)] += hit[: n - a]
        if i % beats_per_bar == 0:  # the bar's bass note, held to the next bar line
            bar = i // beats_per_bar
            end = min(n, a + int(beats_per_bar * period * sr))
            tt = np.arange(end - a) / sr
            x[a:end] += 0.25 * np.sin(2 * np.pi * roots[bar % len(roots)] * tt) * np.exp(-tt / 1.5)
    return np.clip(x, -1, 1)[:, None], beats[::beats_per_bar]
