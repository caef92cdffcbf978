"""The one number check (live/core/numbers.py) and the three loaders that read numbers from TOML
with it: latency profiles, scenes and timelines. TOML accepts `nan`, `inf` and `-inf`, and every
comparison with NaN is false, so a range check alone let NaN through (a scene's `zoom = nan` drew
black; a timeline's `at = nan` cue never fired, `at = -inf` sorted before everything)."""

import pytest

from live.core.errors import PhospheneError
from live.core.numbers import NumberError, allowed, check_number


@pytest.mark.parametrize(
    "value, kwargs, says",
    [
        (float("nan"), dict(lo=0, hi=1, lo_open=True), "my-rig.toml: strength = nan is not a number; give a number in (0, 1]"),
        (float("inf"), dict(lo=0), "my-rig.toml: strength = inf is not a number; give a number of at least 0"),
        (float("-inf"), dict(lo=0, lo_open=True), "my-rig.toml: strength = -inf is not a number; give a number above 0"),
        ("0.5", dict(lo=0, hi=1), "my-rig.toml: strength = '0.5': give a number from 0 to 1"),
        (True, dict(lo=0, hi=1), "my-rig.toml: strength = True: give a number from 0 to 1"),
        (1.5, dict(lo=0, hi=1), "my-rig.toml: strength = 1.5 is out of range: allowed 0 to 1"),
        (2.5, dict(lo=1, integer=True), "my-rig.toml: strength = 2.5 is not a whole number; give a whole number of at least 1"),
    ],
)
def test_a_number_is_finite_then_in_range_and_named_as_given(value, kwargs, says):
    with pytest.raises(NumberError) as e:
        check_number(value, "my-rig.toml: strength", **kwargs)
    assert str(e.value) == says
    assert isinstance(e.value, ValueError)  # parsers that add a line number to a ValueError add it here too


def test_a_flag_is_shown_as_typed_and_good_values_come_back_as_numbers():
    with pytest.raises(PhospheneError, match=r"^--strength inf is not a number; give a number in \(0, 1\]$"):
        check_number(float("inf"), "--strength", lo=0, hi=1, lo_open=True)
    assert check_number(1, "x", lo=0) == 1.0 and isinstance(check_number(1, "x"), float)
    assert check_number(3.0, "x", integer=True) == 3 and isinstance(check_number(3.0, "x", integer=True), int)
    assert (allowed(0, 1), allowed(0, 1, lo_open=True), allowed(hi=240)) == ("0 to 1", "(0, 1]", "at most 240")


@pytest.mark.parametrize("literal", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    "table, key",
    [("warp", "zoom"), ("warp", "decay"), ("structure", "count"), ("grade", "beat_decay"), ("diffusion", "strength")],
)
def test_a_scene_refuses_nan_and_infinity_naming_file_and_key(tmp_path, table, key, literal):
    from live.app.scenes import load_scene

    path = tmp_path / "x.toml"
    path.write_text(f"[{table}]\n{key} = {literal}\n")
    with pytest.raises(PhospheneError) as e:
        load_scene(path)
    assert str(e.value).startswith(f"{path}: [{table}] {key} = {literal} is not a number; give a number from "), str(e.value)


@pytest.mark.parametrize("literal", ["nan", "inf", "-inf"])
def test_a_scene_colour_refuses_nan_in_any_channel(tmp_path, literal):
    from live.app.scenes import load_scene

    path = tmp_path / "x.toml"
    path.write_text(f"[grade]\ntint = [1.0, {literal}, 1.0]\n")
    with pytest.raises(PhospheneError, match=rf"\[grade\] tint = {literal} is not a number; give a number from 0 to 2$"):
        load_scene(path)


@pytest.mark.parametrize("literal, says", [("nan", "is not a number"), ("inf", "is not a number"), ("-inf", "is not a number"), ("-5", "is out of range")])
def test_a_timeline_cue_time_refuses_nan_infinity_and_negative_seconds_naming_the_line(tmp_path, literal, says):
    from live.app.scenes import load_library
    from live.app.timeline import load_timeline

    path = tmp_path / "t.toml"
    path.write_text(f'[[cue]]\nat = 0\nscene = "classic"\n\n[[cue]]\nscene = "classic"\nat = {literal}\n')
    with pytest.raises(PhospheneError) as e:
        load_timeline(path, load_library())
    assert str(e.value).startswith(f"{path}:7: at = {literal} {says}"), str(e.value)
    assert str(e.value).endswith('; give seconds (0 or more), a time "m:ss.s" or "bar N"'), str(e.value)
    path.write_text('[[cue]]\nat = 1.5\nscene = "classic"\n')
    assert load_timeline(path, load_library())[0].at_s == 1.5
