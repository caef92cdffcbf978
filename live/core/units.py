"""Values as people type them, parsed once for every command and profile: picture sizes, frame
rates, and the argument types of every command's numeric flags.

parse_size("512") -> (512, 512)        parse_size("1920x1080") -> (1920, 1080)
parse_fps("24") -> Fraction(24)        parse_fps("29.97") -> Fraction(30000, 1001)   (NTSC, exact)
SECONDS("0.2") -> 0.2                  SECONDS("nan") -> "--attack nan: not a number; give seconds >= 0, e.g. 0.2"

A flag's type refuses what the flag can never take (NaN, infinity, a negative time, a share
above 1), naming what was typed; a range that belongs to a stage (which picture sizes an engine
draws, which sizes a model takes) is that stage's, stated there once.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from fractions import Fraction

from live.core.errors import PhospheneError

# the broadcast rates people write as decimals, and the exact rationals a video timeline means by them
NTSC_RATES = {
    "23.976": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "59.94": Fraction(60000, 1001),
    "119.88": Fraction(120000, 1001),
}


class Size(tuple):
    """(width, height) as typed `WxH`: a plain pair that remembers its text, so a message names
    `--size 7x7` as the user wrote it (size_text of a square pair says `7`)."""

    def __new__(cls, sides, text: str | None = None):
        self = super().__new__(cls, sides)
        self.text = text or f"{self[0]}x{self[1]}"
        return self

    def __reduce__(self):  # pickled and copied with its text
        return Size, (tuple(self), self.text)


def parse_size(text: str | int | tuple | list, *, minimum: int | None = None) -> tuple[int, int]:
    """(width, height) from 512, "512", "1920x1080", or a [w, h] pair (profiles); a Size as it is.
    Only the form is checked here (whole numbers, N or WxH): which sizes can be drawn is the rule of
    the stage that draws them (the shader engine, the model, the profile), said there with its range.
    `minimum`, where given, refuses smaller sides."""
    if isinstance(text, Size):
        width, height = text
    else:
        if isinstance(text, int | tuple | list) and not isinstance(text, bool):
            values = [text, text] if isinstance(text, int) else list(text)
        else:
            values = str(text).lower().replace("×", "x").split("x")
            values = values * 2 if len(values) == 1 else values
        try:
            width, height = (int(v) for v in values)
        except (TypeError, ValueError):
            raise PhospheneError(f"size {text!r}: give pixels as N (square) or WIDTHxHEIGHT, e.g. 512 or 1280x720") from None
    if minimum is not None and (width < minimum or height < minimum):
        raise PhospheneError(f"size {text!r}: width and height must be at least {minimum} px")
    return text if isinstance(text, Size) else (width, height)


def size_text(size: tuple[int, int]) -> str:
    """`512` for a square, `1280x720`; a Size as it was typed (`7x7`)."""
    if isinstance(size, Size):
        return size.text
    return str(size[0]) if size[0] == size[1] else f"{size[0]}x{size[1]}"


def parse_fps(text: str | int | float | Fraction) -> Fraction:
    """An exact frame rate: whole numbers, N/M, or the NTSC decimals (29.97 is 30000/1001)."""
    if isinstance(text, Fraction | int) and not isinstance(text, bool):
        return Fraction(text)
    text = str(text).strip()
    if text in NTSC_RATES:
        return NTSC_RATES[text]
    try:
        fps = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise PhospheneError(f"--fps {text}: give frames per second as a number (24, 25, 30, 60), N/M, or 23.976 / 29.97 / 59.94") from None
    if fps.denominator > 1001 or (fps.denominator != 1 and fps != fps.limit_denominator(1001)):
        raise PhospheneError(f"--fps {text}: not a video frame rate; use a whole number, N/M, or 23.976 / 29.97 / 59.94")
    return fps


def fps_text(fps: Fraction) -> str:
    exact = {v: k for k, v in NTSC_RATES.items()}
    return exact.get(fps, str(fps) if fps.denominator != 1 else str(fps.numerator))


# ---- argument types: what each numeric flag takes, checked as it is parsed ----------------------


class FlagValueError(argparse.ArgumentTypeError):
    """A value a flag's type refused. Its text starts with the value as typed; the parser
    (live/core/cli.py) puts the flag in front and prints it as one line."""


def _g(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Number:
    """A numeric flag's type: a finite number (a whole one if `whole`) in a range.

    `what` names the quantity (`seconds`, `a share`), `example` a value that works; `takes` is the
    rule in words, used by the refusal and by --help (live/core/cli.py's formatter shows it)."""

    what: str = "a number"
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself refused: (lo, ...
    example: str = "1"
    whole: bool = False

    @property
    def takes(self) -> str:
        if self.lo is not None and self.hi is not None:
            if self.lo_open:
                return f"{self.what} in ({_g(self.lo)}, {_g(self.hi)}]"
            return f"{self.what} from {_g(self.lo)} to {_g(self.hi)}"
        if self.lo is not None:
            return f"{self.what} {'>' if self.lo_open else '>='} {_g(self.lo)}"
        if self.hi is not None:
            return f"{self.what} <= {_g(self.hi)}"
        return self.what

    def __call__(self, text: str) -> float | int:
        fix = f"give {self.takes}, e.g. {self.example}"
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise FlagValueError(f"{text}: not a number; {fix}") from None
        if math.isnan(value):
            raise FlagValueError(f"{text}: not a number; {fix}")
        if math.isinf(value):
            raise FlagValueError(f"{text}: not a finite number; {fix}")
        if self.whole and not value.is_integer():
            raise FlagValueError(f"{text}: not a whole number; {fix}")
        low = self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo)
        if low or (self.hi is not None and value > self.hi):
            raise FlagValueError(f"{text}: out of range; {fix}")
        return int(value) if self.whole else value

    def __repr__(self) -> str:  # what argparse would name the type by
        return self.takes


# the types every command's flags use (a flag with its own range makes its own Number beside it)
SECONDS = Number("seconds", lo=0, example="0.2")  # a time or a time constant: 0 allowed
DURATION = Number("seconds", lo=0, lo_open=True, example="30")  # a length of time: more than 0
SHARE = Number("a share", lo=0, hi=1, lo_open=True, example="0.5")  # of each frame repainted: (0, 1]
WEIGHT = Number("a weight", lo=0, hi=1, example="0.6")  # a mix between two things: [0, 1]
POSITIVE = Number("a number", lo=0, lo_open=True, example="2")  # a rate, a scale
COUNT = Number("a whole number", lo=1, example="2", whole=True)  # steps, bars, repeats, batch sizes
INDEX = Number("a whole number", lo=0, example="0", whole=True)  # a display, a seed
SEED = Number("a whole number", example="7", whole=True)
PORT = Number("a UDP port", lo=0, hi=65535, example="9000", whole=True)  # 0: one the OS picks
DISPLAY_FPS = Number("frames per second", lo=1, hi=240, example="60", whole=True)  # what a display presents


def size_arg(text: str) -> int | Size:
    """--size N or WxH: N stays a number, WxH a Size that remembers how it was typed."""
    try:
        width, height = parse_size(text)
    except PhospheneError:
        raise FlagValueError(f"{text}: give pixels as N (square) or WIDTHxHEIGHT, e.g. 512 or 1280x720") from None
    return width if "x" not in text.lower().replace("×", "x") else Size((width, height))


def fps_arg(text: str) -> Fraction:
    """--fps as a video timeline means it (parse_fps), refused in one line."""
    try:
        fps = parse_fps(text)
    except PhospheneError as e:
        raise FlagValueError(str(e).removeprefix("--fps ")) from None
    return fps  # its range is the render's (live/app/settings.py check_fps)
