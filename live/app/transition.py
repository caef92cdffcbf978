"""A transition between two scenes, and its text: `KIND [N beats|bars] [on now|beat|bar|phrase [N]]`,
e.g. "cut", "crossfade 4 beats", "dissolve 2 bars on phrase 8". The director (live/app/director.py)
runs them; a timeline's cues (live/app/timeline.py) and the --transition flag are parsed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("cut", "crossfade", "dissolve")
ONS = ("now", "beat", "bar", "phrase")
PHRASE_BARS = (4, 8, 16)
DEFAULT_TRANSITION = "crossfade 4 beats on bar"  # a session's, when --transition is not given


@dataclass(frozen=True)
class Transition:
    kind: str = "crossfade"
    span: float = 4.0  # how long the crossfade or dissolve lasts, in `unit`
    unit: str = "beats"  # beats | bars
    on: str = "bar"  # when a go takes effect: now | beat | bar | phrase
    phrase_bars: int = 8  # bars per phrase, for on = phrase

    def span_beats(self, beats_per_bar: int) -> float:
        if self.kind == "cut":
            return 0.0
        return self.span * (beats_per_bar if self.unit == "bars" else 1)

    def text(self) -> str:
        span = "" if self.kind == "cut" else f" {self.span:g} {self.unit}"
        on = f" on phrase {self.phrase_bars}" if self.on == "phrase" else f" on {self.on}"
        return f"{self.kind}{span}{on}"


_TRANSITION = re.compile(
    r"^(?P<kind>[a-z]+)(?:\s+(?P<span>\d+(?:\.\d+)?)\s+(?P<unit>beats?|bars?))?(?:\s+on\s+(?P<on>[a-z]+)(?:\s+(?P<phrase>\d+))?)?$"
)


def parse_transition(text: str, *, on: str = "bar", phrase_bars: int = 8) -> Transition:
    """ "crossfade 4 beats" -> Transition; a ValueError saying the form otherwise. `on` and
    `phrase_bars` are the defaults when the text does not say."""
    form = 'KIND [N beats|bars] [on now|beat|bar|phrase [4|8|16]], KIND one of cut, crossfade, dissolve (e.g. "crossfade 4 beats")'
    m = _TRANSITION.match(" ".join(str(text).lower().split()))
    if not m or m["kind"] not in KINDS:
        raise ValueError(f"transition {text!r}: give {form}")
    kind = m["kind"]
    if kind == "cut" and m["span"]:
        raise ValueError(f"transition {text!r}: a cut has no length (say 'cut' or 'cut on bar')")
    span = float(m["span"]) if m["span"] else (0.0 if kind == "cut" else 4.0)
    if kind != "cut" and not 0 < span <= 64:
        raise ValueError(f"transition {text!r}: the length is 1 to 64 beats or bars")
    unit = "bars" if (m["unit"] or "beats").startswith("bar") else "beats"
    on_ = m["on"] or on
    if on_ not in ONS:
        raise ValueError(f"transition {text!r}: 'on' takes one of {', '.join(ONS)}")
    phrase = int(m["phrase"]) if m["phrase"] else phrase_bars
    if m["phrase"] and on_ != "phrase":
        raise ValueError(f"transition {text!r}: only 'on phrase' takes a number of bars")
    if phrase not in PHRASE_BARS:
        raise ValueError(f"transition {text!r}: a phrase is {', '.join(map(str, PHRASE_BARS))} bars")
    return Transition(kind, span, unit, on_, phrase)
