"""The causal beat tracker over one music file: `python -m live beats`, and the beat bench's scorer."""

from __future__ import annotations

import json

import numpy as np

from live.analysis.beats import BeatConfig
from live.analysis.clock import Analyzer
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


def cmd_beats(args) -> int:
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
