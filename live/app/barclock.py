"""Where a frame is in the music's bars: the one place scenes, transitions and timelines read it.

    clock = BarClock()
    pos = clock.advance(drive)      # BarPosition(beat, bar, beat_in_bar, beats_per_bar, beat_pos)

`bar_position` is a stand-in to be replaced by the bar tracker: when the `Drive` record carries bar
fields (`bar`, `beat_in_bar`, `beats_per_bar`: live/analysis/bars.py) it reads them; otherwise it
counts bars as 4 beats from the first beat. Everything else here only counts beats.
"""

from __future__ import annotations

from dataclasses import dataclass

BEATS_PER_BAR = 4  # the stand-in's bar, when the analysis gives none


@dataclass(frozen=True)
class BarPosition:
    beat: int  # beats since the start (the first beat is beat 1; 0 before it)
    bar: int  # bar 1 starts at the first beat (or the first downbeat the analysis found); 0 before it
    beat_in_bar: int  # 0 on the bar line
    beats_per_bar: int
    beat_pos: float  # beat + the phase: a continuous beat clock, for transitions measured in beats


def bar_position(drive, beat: int) -> tuple[int, int, int]:
    """(bar, beat_in_bar, beats_per_bar) of a frame whose beat count is `beat`.

    STAND-IN for the bar tracker: reads the Drive's bar fields once the analysis has placed a
    downbeat (live/analysis/bars.py: `bar` > 0, `beat_in_bar`, `beats_per_bar`), else counts bars as
    BEATS_PER_BAR beats from the first beat. Replace this function, nothing else, when bar tracking
    changes."""
    if getattr(drive, "bar", 0) > 0 and hasattr(drive, "beat_in_bar"):  # the analysis has found a downbeat
        return int(drive.bar), int(drive.beat_in_bar), int(getattr(drive, "beats_per_bar", BEATS_PER_BAR) or BEATS_PER_BAR)
    if beat <= 0:
        return 0, 0, BEATS_PER_BAR
    return (beat - 1) // BEATS_PER_BAR + 1, (beat - 1) % BEATS_PER_BAR, BEATS_PER_BAR


class BarClock:
    """Counts beats from the beat phase's wraps (the Drive's beat_phase falls back to 0 on each beat)."""

    def __init__(self):
        self.beat, self._last_phase = 0, None

    def advance(self, drive) -> BarPosition:
        phase = drive.beat_phase
        if self._last_phase is not None and phase < self._last_phase - 0.5:  # wrapped: a beat
            self.beat += 1
        self._last_phase = phase
        bar, beat_in_bar, per_bar = bar_position(drive, self.beat)
        return BarPosition(self.beat, bar, beat_in_bar, per_bar, self.beat + (phase if self.beat else 0.0))
