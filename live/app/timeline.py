"""Timelines: a TOML list of cues, the script of a music video (`render --timeline`) or a cue list
live (`run --timeline`: the next entry on "next", or by itself at its time or bar).

    [[cue]]
    at = "0:00"                        # m:ss.s, or seconds ("92.5"), or "bar 17"
    scene = "tunnel"
    [[cue]]
    at = "1:32.5"
    scene = "kaleido"                  # a scene and/or a prompt (diffusion: the prompt travels there)
    prompt = "neon city at night"
    transition = "crossfade 4 beats"   # cut | crossfade N beats|bars | dissolve N beats|bars [on now|beat|bar|phrase N]
    travel = "8 bars"                  # the prompt's own span (default: the transition's)

A time-keyed cue is quantised to the next bar line unless its transition says otherwise ("... on
now" lands on the stated time exactly); a bar-keyed cue starts on its bar line. Prompt travel: from
the cue's start, the prompt embeddings go from the prompt before to the cue's by per-token slerp
over `travel` (else the transition's span; a cut: at once). Refusals name the line: an unknown
scene, a time or a bar past the end of the audio, entries out of order (bars are turned into times
first, with the bars `python -m live beats FILE --bars` prints), a syntax error.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from live.app.transition import Transition, parse_transition
from live.core.errors import PhospheneError
from live.core.numbers import check_number

CUE_KEYS = ("at", "scene", "prompt", "transition", "travel")
_TIME = re.compile(r"^(?:(?P<m>\d+):)?(?P<s>\d+(?:\.\d+)?)$")
_BAR = re.compile(r"^bar\s+(?P<n>\d+)$")
_SPAN = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s+(?P<unit>beats?|bars?)$")


@dataclass(frozen=True)
class Cue:
    line: int  # where the entry's [[cue]] header is, 1-based
    at_s: float | None  # a time-keyed cue ...
    at_bar: int | None  # ... or a bar-keyed one (bar 1 is the first)
    scene: str | None
    prompt: str | None
    transition: Transition
    travel: tuple[float, str] | None = None  # the prompt's span (N, "beats" | "bars"); None: the transition's


def parse_span(text) -> tuple[float, str]:
    """ "8 bars" -> (8.0, "bars"); a ValueError otherwise."""
    m = _SPAN.match(" ".join(str(text).lower().split())) if isinstance(text, str) else None
    if not m or not 0 < float(m["n"]) <= 64:
        raise ValueError(f'travel = {text!r}: give "N beats" or "N bars", N from 1 to 64 (e.g. "8 bars")')
    return float(m["n"]), "bars" if m["unit"].startswith("bar") else "beats"


def parse_at(text) -> tuple[float | None, int | None]:
    """ "1:32.5" -> (92.5, None); "bar 17" -> (None, 17); a ValueError otherwise."""
    if isinstance(text, int | float) and not isinstance(text, bool):  # seconds: finite, not before the start (nan, inf refused)
        return check_number(text, "at", lo=0.0, fix='give seconds (0 or more), a time "m:ss.s" or "bar N"'), None
    if not isinstance(text, str):
        raise ValueError(f'at = {text!r}: give a time "m:ss.s" or "bar N"')
    t = text.strip().lower()
    if m := _BAR.match(t):
        if int(m["n"]) < 1:
            raise ValueError(f'at = "{text}": bars count from 1')
        return None, int(m["n"])
    if m := _TIME.match(t):
        seconds = float(m["s"])
        if m["m"] is not None and seconds >= 60:
            raise ValueError(f'at = "{text}": seconds after the colon are 0 to 59.9')
        return 60 * int(m["m"] or 0) + seconds, None
    raise ValueError(f'at = "{text}": give a time "m:ss.s" (e.g. "1:32.5"), seconds, or "bar N"')


def _lines(text: str) -> list[tuple[int, dict[str, int]]]:
    """For each [[cue]] header: its line number and the line of each key under it."""
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if re.match(r"^\[\[\s*cue\s*\]\]", s):
            entries.append((n, {}))
        elif entries and (m := re.match(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*=", s)):
            entries[-1][1].setdefault(m[1], n)
    return entries


def load_timeline(
    path: str | Path, library: dict, *, duration_s: float | None = None, downbeats: Callable[[], list[float]] | None = None
) -> list[Cue]:
    """The cues of a timeline file, checked against the scenes and the audio's length. `downbeats`:
    the audio's bar lines in seconds (bar 1 first; live.app.beats.bars_of_file), asked for once and
    only when a cue is keyed by bar: a bar past the last is refused and bars are ordered by time."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise PhospheneError(f"--timeline {path}: cannot read it ({e})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        where = f"{path}:{m[1]}" if m else str(path)
        raise PhospheneError(f"{where}: not valid TOML: {e}") from None
    if set(data) - {"cue"} or not isinstance(data.get("cue"), list):
        extra = ", ".join(sorted(set(data) - {"cue"})) or "no [[cue]] entries"
        raise PhospheneError(f"{path}: a timeline is a list of [[cue]] entries ({extra})")
    lines = _lines(text)
    cues: list[Cue] = []
    bar_lines: list[float] | None = None
    for i, entry in enumerate(data["cue"]):
        header, key_lines = lines[i] if i < len(lines) else (0, {})

        def fail(message: str, key: str | None = None, header=header, key_lines=key_lines):
            raise PhospheneError(f"{path}:{key_lines.get(key, header) if key else header}: {message}")

        for key in entry:
            if key not in CUE_KEYS:
                fail(f"unknown key {key!r} in a [[cue]] (allowed: {', '.join(CUE_KEYS)})", key)
        if "at" not in entry:
            fail('this [[cue]] has no at = "m:ss.s" or "bar N"')
        try:
            at_s, at_bar = parse_at(entry["at"])
        except ValueError as e:
            fail(str(e), "at")
        scene, prompt = entry.get("scene"), entry.get("prompt")
        if scene is None and prompt is None:
            fail("a cue names a scene, a prompt, or both")
        if scene is not None and scene not in library:
            fail(f"scene = {scene!r}: no such scene (there are: {', '.join(library)})", "scene")
        if prompt is not None and not (isinstance(prompt, str) and prompt.strip()):
            fail("prompt = ...: give a line of text", "prompt")
        try:
            transition = parse_transition(entry.get("transition", "cut"), on="now" if at_bar is not None else "bar")
        except ValueError as e:
            fail(str(e), "transition")
        travel = None
        if "travel" in entry:
            try:
                travel = parse_span(entry["travel"])
            except ValueError as e:
                fail(str(e), "travel")
        if at_s is not None and duration_s is not None and at_s > duration_s:
            fail(f'at = "{entry["at"]}" is past the end of the audio ({duration_s:.1f} s)', "at")
        if at_bar is not None and downbeats is not None:
            bar_lines = downbeats() if bar_lines is None else bar_lines
            if at_bar > len(bar_lines):
                fail(
                    f'at = "{entry["at"]}" is past the end of the audio (it has {len(bar_lines)} bars; '
                    "`python -m live beats FILE --bars` lists them)",
                    "at",
                )
        for before in cues:
            mine, theirs = cue_time(at_s, at_bar, bar_lines), cue_time(before.at_s, before.at_bar, bar_lines)
            if mine is not None and theirs is not None:  # both times, or bars turned into times
                out_of_order = mine <= theirs
            else:  # a bar and a time with no bar lines to compare them by: only the same kind is ordered
                same_kind = (before.at_s is not None) == (at_s is not None)
                out_of_order = same_kind and (at_s if at_s is not None else at_bar) <= (before.at_s if at_s is not None else before.at_bar)
            if out_of_order:
                fail(f'at = "{entry["at"]}" is not after the cue at line {before.line}: cues go in order', "at")
        cues.append(Cue(header, at_s, at_bar, scene, prompt.strip() if prompt else None, transition, travel))
    return cues


def cue_time(at_s: float | None, at_bar: int | None, bar_lines: list[float] | None) -> float | None:
    """A cue's time in seconds: its own, or its bar line's (None where the bars are not known)."""
    if at_s is not None:
        return at_s
    if bar_lines is not None and at_bar is not None and at_bar <= len(bar_lines):
        return bar_lines[at_bar - 1]
    return None
