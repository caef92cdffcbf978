"""Numbers read from files (profiles, scenes, timelines) and flags, checked in one place.

    check_number(value, "my-rig.toml: strength", lo=0, hi=1, lo_open=True)
    -> PhospheneError "my-rig.toml: strength = nan is not a number; give a number in (0, 1]"

TOML accepts `nan` and `inf` as floats, and every comparison with NaN is false, so a range check
alone lets NaN through (and `int(steps * inf)` raises OverflowError): a finite number is asked for
first, then its range. `said` is how the value is named to the user: a flag (`--strength`, shown
as `--strength inf`) or a file and key (`my-rig.toml: strength`, shown as `... strength = inf`).
"""

from __future__ import annotations

import math

from live.core.errors import PhospheneError


class NumberError(PhospheneError, ValueError):
    """A number refused: a PhospheneError (one line to the user) that parsers catching ValueError
    (to add a file's line number) catch too."""


def _g(x: float) -> str:
    return f"{x:g}"


def allowed(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False) -> str:
    """The range in words: "1 to 32", "(0, 1]", "at least 0", "above 0", "at most 240", "any"."""
    if lo is not None and hi is not None:
        if not lo_open and not hi_open:
            return f"{_g(lo)} to {_g(hi)}"
        return f"{'(' if lo_open else '['}{_g(lo)}, {_g(hi)}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'above' if lo_open else 'at least'} {_g(lo)}"
    if hi is not None:
        return f"{'below' if hi_open else 'at most'} {_g(hi)}"
    return "any finite value"


def give(lo=None, hi=None, *, lo_open=False, hi_open=False, integer=False) -> str:
    """The fix: "give a number from 1 to 32", "give a number in (0, 1]", "give a whole number of at least 1"."""
    what = "a whole number" if integer else "a number"
    words = allowed(lo, hi, lo_open=lo_open, hi_open=hi_open)
    if lo is not None and hi is not None and not lo_open and not hi_open:
        return f"give {what} from {words}"
    if lo is not None and hi is not None:
        return f"give {what} in {words}"
    if lo is not None or hi is not None:
        return f"give {what} {'of ' if words.startswith(('at ', 'any')) else ''}{words}"
    return f"give {what}"


def shown(said: str, value) -> str:
    """`--strength inf` for a flag, `my-rig.toml: strength = inf` for a file's key."""
    text = _g(value) if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)
    return f"{said} {text}" if said.startswith("-") else f"{said} = {text}"


def check_number(
    value,
    said: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
    fix: str | None = None,
) -> float | int:
    """`value` as a finite float (an int for `integer`), or a NumberError naming it as `said`:
    not a number (a string, a bool, NaN, infinity), a fraction where a whole number is meant, or out
    of the range. `fix` replaces the "give a number ..." advice."""
    advice = fix or give(lo, hi, lo_open=lo_open, hi_open=hi_open, integer=integer)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NumberError(f"{shown(said, value)}: {advice}")
    if not math.isfinite(value):
        raise NumberError(f"{shown(said, value)} is not a number; {advice}")
    if integer and not float(value).is_integer():
        raise NumberError(f"{shown(said, value)} is not a whole number; {advice}")
    low = lo is not None and (value <= lo if lo_open else value < lo)
    high = hi is not None and (value >= hi if hi_open else value > hi)
    if low or high:
        rule = f"; {fix}" if fix else f": allowed {allowed(lo, hi, lo_open=lo_open, hi_open=hi_open)}"
        raise NumberError(f"{shown(said, value)} is out of range{rule}")
    return int(value) if integer else float(value)
