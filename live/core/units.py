"""Picture sizes and frame rates as people type them, parsed once for every command and profile.

parse_size("512") -> (512, 512)        parse_size("1920x1080") -> (1920, 1080)
parse_fps("24") -> Fraction(24)        parse_fps("29.97") -> Fraction(30000, 1001)   (NTSC, exact)
"""

from __future__ import annotations

from fractions import Fraction

from live.core.errors import PhospheneError

# the broadcast rates people write as decimals, and the exact rationals a video timeline means by them
NTSC_RATES = {
    "23.976": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "59.94": Fraction(60000, 1001),
    "119.88": Fraction(120000, 1001),
}


def parse_size(text: str | int | tuple | list, *, minimum: int = 1) -> tuple[int, int]:
    """(width, height) from 512, "512", "1920x1080", or a [w, h] pair (profiles). The CLI parses with
    minimum 0 and leaves the range to the stage that knows it (the model, the GL driver)."""
    if isinstance(text, int | tuple | list) and not isinstance(text, bool):
        values = [text, text] if isinstance(text, int) else list(text)
    else:
        values = str(text).lower().replace("×", "x").split("x")
        values = values * 2 if len(values) == 1 else values
    try:
        width, height = (int(v) for v in values)
    except (TypeError, ValueError):
        raise PhospheneError(f"size {text!r}: give pixels as N (square) or WIDTHxHEIGHT, e.g. 512 or 1280x720") from None
    if width < minimum or height < minimum:
        raise PhospheneError(f"size {text!r}: width and height must be at least {minimum} px")
    return width, height


def size_text(size: tuple[int, int]) -> str:
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
