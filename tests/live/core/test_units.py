"""Sizes and frame rates as people type them: N or WxH, whole rates, N/M and the NTSC decimals."""

import copy
import pickle
from fractions import Fraction

import pytest

from live.core.errors import PhospheneError
from live.core.units import SECONDS, SHARE, FlagValueError, Number, fps_text, parse_fps, parse_size, size_arg, size_text


def test_sizes():
    assert parse_size("512") == parse_size(512) == (512, 512)
    assert parse_size("1920x1080") == parse_size([1920, 1080]) == (1920, 1080)
    assert size_text((512, 512)) == "512" and size_text((1280, 720)) == "1280x720"
    for bad in ("big", "12x", "1x2x3", "1.5"):
        with pytest.raises(PhospheneError, match="size"):
            parse_size(bad)
    # only the form is checked here: the range is the rule of the stage that draws (the engine, the model, the profile)
    assert parse_size("0x5") == (0, 5) and parse_size("-64") == (-64, -64)
    with pytest.raises(PhospheneError, match="at least 1 px"):
        parse_size("0x5", minimum=1)


def test_a_size_typed_wxh_keeps_its_text():
    """`--size 7x7` is named `7x7` in every message (a square pair alone would read `7`)."""
    typed = size_arg("7x7")
    assert typed == (7, 7) and size_text(typed) == "7x7" and size_text(parse_size(typed)) == "7x7"
    assert size_arg("7") == 7 and size_text(parse_size(7)) == "7"
    assert pickle.loads(pickle.dumps(typed)).text == "7x7" and copy.deepcopy(typed).text == "7x7"


def test_frame_rates_are_exact():
    assert parse_fps("24") == 24 and parse_fps("25/2") == Fraction(25, 2)
    assert parse_fps("29.97") == Fraction(30000, 1001) and parse_fps("23.976") == Fraction(24000, 1001)
    assert parse_fps("59.94") == Fraction(60000, 1001) and fps_text(Fraction(30000, 1001)) == "29.97"
    for bad in ("fast", "1.2345", "1/0"):
        with pytest.raises(PhospheneError, match="--fps"):
            parse_fps(bad)


def test_number_types_refuse_nan_infinity_and_the_range_in_words():
    assert SECONDS("0.2") == 0.2 and SECONDS("0") == 0 and SHARE("1") == 1.0
    for text, words in (("nan", "nan: not a number; give seconds >= 0, e.g. 0.2"), ("inf", "inf: not a finite number"),
                        ("-1", "-1: out of range; give seconds >= 0"), ("soon", "soon: not a number")):  # fmt: skip
        with pytest.raises(FlagValueError) as e:
            SECONDS(text)
        assert str(e.value).startswith(words), e.value
    with pytest.raises(FlagValueError, match=r"give a share in \(0, 1\]"):
        SHARE("0")
    bars = Number("a whole number of bars", lo=1, example="8", whole=True)
    assert bars("4") == 4 and isinstance(bars("4"), int)
    with pytest.raises(FlagValueError, match="2.5: not a whole number"):
        bars("2.5")
