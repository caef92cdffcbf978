"""Latency profiles: the three presets load, and bad files say what is wrong."""

import pytest

from live.core.errors import PhospheneError
from live.core.profiles import LatencyProfile, load_profile


def test_presets_load_and_order_by_cost():
    stage, balanced, laptop = (load_profile(n) for n in ("stage", "balanced", "laptop"))
    assert isinstance(stage, LatencyProfile) and stage.name == "stage"
    assert (stage.size, int(stage.steps * stage.strength), stage.hop_s) == (512, 1, 0.125)
    assert laptop.size <= 256 and laptop.hop_s > balanced.hop_s >= stage.hop_s
    assert stage.encoder_samples == (16_000, 32_000, 60_160)


def test_a_toml_path_works_and_bad_keys_are_named(tmp_path):
    good = tmp_path / "mine.toml"
    good.write_text("window_s = 1\nencoder_windows_s = [1, 2]\nsize = 256\n")
    p = load_profile(str(good))
    assert (p.name, p.window_s, p.encoder_windows_s, p.size) == ("mine", 1.0, (1.0, 2.0), 256)
    bad = tmp_path / "bad.toml"
    bad.write_text("window_s = 2.0\nlatency = 3\n")
    with pytest.raises(PhospheneError, match="unknown key.*latency; the keys are window_s, hop_s"):
        load_profile(str(bad))
    bad.write_text("size = '512'\n")
    with pytest.raises(PhospheneError, match="size = '512' should be a int"):
        load_profile(str(bad))
    bad.write_text("steps = 1\nstrength = 0.5\n")
    with pytest.raises(PhospheneError, match="gives no UNet call"):
        load_profile(str(bad))
    bad.write_text("window_s = [\n")
    with pytest.raises(PhospheneError, match="not valid TOML"):
        load_profile(str(bad))
    with pytest.raises(PhospheneError, match="no such preset"):
        load_profile("concert")
