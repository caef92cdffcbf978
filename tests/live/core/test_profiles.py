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
    bad.write_text("size = 'big'\n")
    with pytest.raises(PhospheneError, match="size = 'big' should be N"):
        load_profile(str(bad))
    bad.write_text("display_fps = '60'\n")
    with pytest.raises(PhospheneError, match="display_fps = '60' should be a int"):
        load_profile(str(bad))
    bad.write_text("encoder_windows_s = [1.0, 'x']\n")  # a traceback before
    with pytest.raises(PhospheneError, match="should be a list of numbers"):
        load_profile(str(bad))
    bad.write_text("steps = 1\nstrength = 0.5\n")
    with pytest.raises(PhospheneError, match="gives no UNet call"):
        load_profile(str(bad))
    bad.write_text("window_s = [\n")
    with pytest.raises(PhospheneError, match="not valid TOML"):
        load_profile(str(bad))
    with pytest.raises(PhospheneError, match="no such preset"):
        load_profile("concert")


def test_a_file_starts_from_its_base_and_flags_override(tmp_path, caplog):
    """A partial file used to inherit the dataclass defaults without a word; now it starts from
    `base` (balanced unless named, said in the log), and run's flags override it in turn."""
    from live.core.profiles import with_overrides

    mine = tmp_path / "mine.toml"
    mine.write_text('base = "laptop"\nsize = "384x256"\n')
    p = load_profile(str(mine))
    laptop = load_profile("laptop")
    assert p.size == (384, 256) and (p.hop_s, p.block_size, p.encoder_backend) == (laptop.hop_s, laptop.block_size, "auto")
    partial = tmp_path / "partial.toml"
    partial.write_text("hop_s = 0.5\n")
    with caplog.at_level("INFO", logger="phosphene"):
        q = load_profile(str(partial))
    assert q.hop_s == 0.5 and q.display_fps == load_profile("balanced").display_fps and "starts from balanced" in caplog.text
    chained = tmp_path / "chained.toml"
    chained.write_text('base = "mine.toml"\nsteps = 4\n')  # a base file is found beside the file naming it
    assert (load_profile(str(chained)).size, load_profile(str(chained)).steps) == ((384, 256), 4)
    loop = tmp_path / "loop.toml"
    loop.write_text('base = "loop.toml"\n')
    with pytest.raises(PhospheneError, match="without a loop"):
        load_profile(str(loop))
    o = with_overrides(p, size=(640, 384), hop_s=0.25, steps=None)
    assert (o.size, o.hop_s, o.steps) == ((640, 384), 0.25, p.steps)
    with pytest.raises(PhospheneError, match="multiples of 64"):
        with_overrides(p, size=(650, 384))
