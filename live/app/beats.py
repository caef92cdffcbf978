"""The causal beat tracker over one music file: `python -m live beats [--bars]`, and the beat bench's scorer."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np

from live.analysis.bars import Bars
from live.analysis.beats import BeatConfig
from live.analysis.clock import Analyzer, bar_times
from live.audio.decode import open_segment, stream
from live.core.defaults import SAMPLE_RATE

MIN_BEATS = 3  # beats it takes to state a tempo: two intervals that agree
MIN_CONFIDENCE = 0.2  # the tracker's periodicity, at its best in the file: noise stays near 0.06, house music and clicks pass 0.45


def track_file(
    path, *, start_s: float = 0.0, duration_s: float | None = None, config: BeatConfig = BeatConfig()
) -> tuple[float | None, list[float]]:
    """(tempo in BPM, beat times in s from the segment start) for a music file, causally. The tempo is
    None when the tracker found no steady beat: fewer than MIN_BEATS beats, or beats at its prior
    tempo only, with no periodicity in the music (confidence never above MIN_CONFIDENCE)."""
    segment = open_segment(path, start_s, duration_s)
    analyzer = Analyzer(SAMPLE_RATE, beats=config)
    confidence, t_s = 0.0, 0.0
    for block in stream(segment, sr=SAMPLE_RATE, channels=1, block_s=1.0):
        analyzer.push(block)
        t_s += len(block) / SAMPLE_RATE
        confidence = max(confidence, analyzer.beats.state(t_s).confidence)
    beats = [t for t in analyzer.beats.beats_s if t >= 0]
    steady = len(beats) >= MIN_BEATS and confidence >= MIN_CONFIDENCE
    tempo = 60.0 / float(np.median(np.diff(beats))) if steady else None  # None: no steady beat
    return tempo, beats


def bars_of_file(path, *, start_s: float = 0.0, duration_s: float | None = None, causal: bool = False) -> Bars:
    """A music file's bars (live.analysis.clock.bar_times on its audio), times from the segment start."""
    blocks = list(stream(open_segment(path, start_s, duration_s), sr=SAMPLE_RATE, channels=1, block_s=1.0))
    samples = np.concatenate(blocks)[:, 0] if blocks else np.zeros(0, np.float32)
    return bar_times(samples, SAMPLE_RATE, causal=causal)


PHRASES = (16, 8, 4)  # phrase lengths in bars that `beats --bars` marks


def print_bars(bars: Bars, as_json: bool) -> None:
    """Bars and phrase starts, for writing a timeline by bar (`bar 17` in a timeline is bar 17 here)."""
    downbeats = bars.downbeats_s
    if as_json:
        out = {
            "tempo": None if bars.tempo_bpm is None else round(bars.tempo_bpm, 2),
            "bars": [round(t, 3) for t in downbeats],
            "beats_per_bar": [m for m, k in zip(bars.beats_per_bar, bars.beat_in_bar, strict=True) if k == 0],
            "phrases": {str(n): [round(t, 3) for t in bars.phrases_s(n)] for n in PHRASES},
        }
        print(json.dumps(out))
        return
    if not downbeats:
        print(f"no bars found ({len(bars.beats_s)} beat(s)): the music may be beatless, or too short for the tracker to lock on")
        return
    metres = Counter(m for m, k in zip(bars.beats_per_bar, bars.beat_in_bar, strict=True) if k == 0)
    metre = "/".join(f"{m}/4" for m, _ in metres.most_common())
    print(f"tempo: {bars.tempo_bpm:.1f} BPM, {metre}, {len(downbeats)} bars; bar 1 starts at the first downbeat found")
    print(f"{'bar':>5}{'start s':>10}{'m:ss':>13}  phrase starts")
    for i, t in enumerate(downbeats):
        marks = " ".join(f"{n}-bar" for n in PHRASES if i % n == 0)
        print(f"{i + 1:>5}{t:>10.3f}{int(t // 60):>6d}:{t % 60:06.3f}  {marks}")


def cmd_beats(args) -> int:
    if getattr(args, "bars", False):
        print_bars(bars_of_file(args.input, start_s=args.start, duration_s=args.duration), args.json)
        return 0
    tempo, beats = track_file(args.input, start_s=args.start, duration_s=args.duration)
    if args.json:
        print(json.dumps({"tempo": None if tempo is None else round(tempo, 2), "beats": [round(t, 3) for t in beats]}))
        return 0
    if tempo is None:
        print(f"no steady beat found ({len(beats)} beat(s)): the music may be beatless, or too short for the causal tracker to lock on")
        return 0
    print(f"tempo: {tempo:.1f} BPM, {len(beats)} beats (the live tracker's, causal: the first second has none)")
    for i in range(0, len(beats), 8):
        print(" ".join(f"{t:8.3f}" for t in beats[i : i + 8]))
    return 0
