"""Where a frame is in the music's bars: the one place scenes, transitions and timelines read it.

    clock = BarClock()                  # live: causal, from the Drive of each frame
    clock = FileBarClock(bars)          # offline: the whole file's bars (live.app.beats.bars_of_file,
                                        # what `python -m live beats FILE --bars` prints)
    pos = clock.advance(drive)          # BarPosition(beat, bar, beat_in_bar, beats_per_bar, beat_pos)

Both count bars as bar lines crossed: `bar` goes up by one on each bar line, never back, so "bar N",
"every N bars" and "on the next bar" mean the same on either clock.

Live, the bar tracker (live/analysis/bars.py) is causal and changes its mind while it is unsure
(early in a piece it may call three beats in a row a downbeat). The clock keeps its own count of the
beat in the bar, one step a beat, and takes the tracker's count only where the tracker is sure of it
(ADOPT_CONFIDENCE, or set by hand): a bar is a bar, not a guess per beat. Before the tracker has
placed a downbeat it counts bars of BEATS_PER_BAR beats from the first beat (bar 1 starts there).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

BEATS_PER_BAR = 4  # the count's bar, when the analysis gives none
ADOPT_CONFIDENCE = 0.6  # the bar tracker's probability of its count above which the live clock takes it:
#                         uniform over its 7 places is 0.14; on the demo track its wrong early guesses stay under 0.6


@dataclass(frozen=True)
class BarPosition:
    beat: int  # beats since the start (the first beat is beat 1; 0 before it)
    bar: int  # bar lines crossed: bar 1 starts at the first downbeat; 0 before it
    beat_in_bar: int  # 0 on the bar line
    beats_per_bar: int
    beat_pos: float  # beat + the phase: a continuous beat clock, for transitions measured in beats


class BarClock:
    """The live clock: beats from the beat phase's wraps (the Drive's beat_phase falls back to 0 on
    each beat); the beat in the bar counted on by one each beat, set from the Drive's bar fields
    (`bar` > 0, `beat_in_bar`, `beats_per_bar`, `downbeat_confidence`) when the tracker places its
    first downbeat and wherever it is sure of its count."""

    def __init__(self, adopt_confidence: float = ADOPT_CONFIDENCE):
        self.adopt = adopt_confidence
        self.beat, self._last_phase = 0, None
        self.bar, self.beat_in_bar, self.beats_per_bar = 0, -1, BEATS_PER_BAR  # -1: no beat yet
        self.placed = False  # has the tracker placed a downbeat yet

    def advance(self, drive) -> BarPosition:
        phase = drive.beat_phase
        if self._last_phase is not None and phase < self._last_phase - 0.5:  # wrapped: a beat
            self.beat += 1
            self._on_beat(drive)
        self._last_phase = phase
        return BarPosition(self.beat, self.bar, max(self.beat_in_bar, 0), self.beats_per_bar, self.beat + (phase if self.beat else 0.0))

    def _on_beat(self, drive) -> None:
        k = (self.beat_in_bar + 1) % self.beats_per_bar  # the count goes on by one
        placed = getattr(drive, "bar", 0) > 0 and hasattr(drive, "beat_in_bar")
        if placed and (not self.placed or getattr(drive, "downbeat_confidence", 0.0) >= self.adopt):
            k = int(drive.beat_in_bar)  # the tracker's first downbeat, or a count it is sure of
            self.beats_per_bar = int(getattr(drive, "beats_per_bar", BEATS_PER_BAR) or BEATS_PER_BAR)
            self.placed = True
        self.beat_in_bar = k % self.beats_per_bar
        if self.beat_in_bar == 0:
            self.bar += 1


class FileBarClock:
    """The offline clock: frame t's place in the file's own bars (a live.analysis.bars.Bars, times
    from the start of the rendered segment), read from the Drive's time_s alone. Beat j (1-based)
    starts at bars.beats_s[j - 1]; between two beats the beat clock moves linearly, and after the
    last one at the median beat period."""

    def __init__(self, bars):
        if not bars.beats_s:
            raise ValueError("no beats: a file clock needs the file's beats")
        self.beats = [float(t) for t in bars.beats_s]
        self.beat_in_bar, self.beats_per_bar = list(bars.beat_in_bar), list(bars.beats_per_bar)
        self.bar_of_beat = np.cumsum(np.asarray(self.beat_in_bar) == 0).tolist()  # bar lines up to and with each beat
        self.period = float(np.median(np.diff(self.beats))) if len(self.beats) > 1 else 0.5

    def advance(self, drive) -> BarPosition:
        t = float(drive.time_s)
        i = bisect.bisect_right(self.beats, t + 1e-9)  # beats at or before t
        if i == 0:  # before the first beat: the beat clock runs back from it at the tempo
            return BarPosition(0, 0, 0, self.beats_per_bar[0], 1.0 + (t - self.beats[0]) / self.period)
        j = i - 1
        length = self.beats[i] - self.beats[j] if i < len(self.beats) else self.period  # this beat's length
        beat_pos = i + (t - self.beats[j]) / length
        return BarPosition(i, int(self.bar_of_beat[j]), self.beat_in_bar[j], self.beats_per_bar[j], beat_pos)
