"""Sizes and frame rates as people type them: N or WxH, whole rates, N/M and the NTSC decimals."""

from fractions import Fraction

import pytest

from live.core.errors import PhospheneError
from live.core.units import fps_text, parse_fps, parse_size, size_text


def test_sizes():
    assert parse_size("512") == parse_size(512) == (512, 512)
    assert parse_size("1920x1080") == parse_size([1920, 1080]) == (1920, 1080)
    assert size_text((512, 512)) == "512" and size_text((1280, 720)) == "1280x720"
    for bad in ("big", "0x5", "12x", "1x2x3"):
        with pytest.raises(PhospheneError, match="size"):
            parse_size(bad)


def test_frame_rates_are_exact():
    assert parse_fps("24") == 24 and parse_fps("25/2") == Fraction(25, 2)
    assert parse_fps("29.97") == Fraction(30000, 1001) and parse_fps("23.976") == Fraction(24000, 1001)
    assert parse_fps("59.94") == Fraction(60000, 1001) and fps_text(Fraction(30000, 1001)) == "29.97"
    for bad in ("fast", "1.2345", "1/0"):
        with pytest.raises(PhospheneError, match="--fps"):
            parse_fps(bad)
