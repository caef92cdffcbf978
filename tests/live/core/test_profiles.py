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
    with pytest.raises(PhospheneError, match=r"size = 'big': give N \(square\)"):
        load_profile(str(bad))
    bad.write_text("display_fps = '60'\n")
    with pytest.raises(PhospheneError, match="display_fps = '60': give a whole number from 1 to 240"):
        load_profile(str(bad))
    bad.write_text("encoder_windows_s = [1.0, 'x']\n")  # a traceback before
    with pytest.raises(PhospheneError, match="encoder_windows_s = 'x': give a number from 0.1 to 30"):
        load_profile(str(bad))
    bad.write_text("steps = 1\nstrength = 0.5\n")
    with pytest.raises(PhospheneError, match=r"bad\.toml: steps = 1 x strength = 0\.5 gives int\(0\.5\) = 0 UNet calls: raise strength to at least 1 or steps to at least 2$"):
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
    with pytest.raises(PhospheneError, match="leads back to itself"):
        load_profile(str(loop))
    o = with_overrides(p, size=(640, 384), hop_s=0.25, steps=None)
    assert (o.size, o.hop_s, o.steps) == ((640, 384), 0.25, p.steps)
    assert with_overrides(p, size=(650, 384)).size == (650, 384)  # any shape: the diffusion engine's own rule is its own
    with pytest.raises(PhospheneError, match=r"^--size 8x384: sides must be 16-8192 px"):
        with_overrides(p, size=(8, 384))


# ---- numbers: NaN and infinity, where each value came from ----------------------------------------

FLOATS = ["window_s", "hop_s", "strength", "attack_s", "release_s"]
WHOLE = ["encoder_batch", "block_size", "steps", "display_fps", "encoder_max_batch"]


@pytest.mark.parametrize("key", [*FLOATS, *WHOLE, "encoder_windows_s"])
@pytest.mark.parametrize("literal", ["nan", "inf", "-inf"])
def test_every_number_in_a_file_refuses_nan_and_infinity_naming_file_key_and_value(tmp_path, monkeypatch, key, literal):
    """TOML reads `nan` and `inf` as floats; NaN passed every range check (all comparisons are false)
    and `strength = inf` reached int(steps * strength): an OverflowError traceback."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-rig.toml").write_text(f"{key} = {'[1.0, ' + literal + ']' if key == 'encoder_windows_s' else literal}\n")
    with pytest.raises(PhospheneError) as e:
        load_profile("my-rig.toml")
    message = str(e.value)
    assert message.startswith(f"my-rig.toml: {key} = {literal} is not a number; give a ") and "\n" not in message, message


def test_the_issue_example_reads_as_promised(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-rig.toml").write_text("strength = nan\n")
    with pytest.raises(PhospheneError, match=r"^my-rig\.toml: strength = nan is not a number; give a number in \(0, 1\]$"):
        load_profile("my-rig.toml")


@pytest.mark.parametrize(
    "overrides, says",
    [
        ({"strength": float("inf")}, "--strength inf is not a number; give a number in (0, 1]"),
        ({"strength": float("nan")}, "--strength nan is not a number"),
        ({"window_s": float("nan")}, "--window nan is not a number; give a number from 0.1 to 30"),
        ({"hop_s": float("inf")}, "--hop inf is not a number"),
        ({"display_fps": 0}, "--display-fps 0 is out of range: allowed 1 to 240"),
        ({"steps": 0}, "--steps 0 is out of range: allowed 1 to 100"),
        ({"hop_s": 3.0}, "--hop 3: the hop must not be longer than the encoder window (window_s = 1 in profile 'laptop'); "),
        ({"steps": 1}, "--steps 1 x strength = 0.5 in profile 'laptop' gives int(0.5) = 0 UNet calls: raise --strength to at least 1"),
        ({"size": 0}, "--size 0: sides must be 16-8192 px"),
    ],
)
def test_a_flag_is_named_as_the_flag_never_as_the_profile(overrides, says):
    """`run --display-fps 0` blamed "latency profile 'balanced'" for a value the user typed as a flag."""
    from live.core.profiles import with_overrides

    with pytest.raises(PhospheneError) as e:
        with_overrides(load_profile("laptop"), **overrides)
    assert str(e.value).startswith(says), str(e.value)


def test_a_shipped_profile_is_named_by_its_name_and_a_file_by_the_path_given(tmp_path, monkeypatch):
    from live.core.profiles import with_overrides

    monkeypatch.chdir(tmp_path)
    (tmp_path / "rigs").mkdir()
    (tmp_path / "rigs" / "short.toml").write_text("window_s = 1.0\nencoder_windows_s = [1.0, 2.0]\n")
    with pytest.raises(PhospheneError, match=r"^--window 0\.5: must lie within encoder_windows_s \(encoder_windows_s = \(1\.0, 2\.0\) in rigs/short\.toml\)"):
        with_overrides(load_profile("rigs/short.toml"), window_s=0.5)
    (tmp_path / "rigs" / "long.toml").write_text('base = "laptop"\nhop_s = 2.0\n')
    with pytest.raises(PhospheneError, match=r"^rigs/long\.toml: hop_s = 2: the hop must not be longer than the encoder window \(window_s = 1 in profile 'laptop'\)"):
        load_profile("rigs/long.toml")
    (tmp_path / "rigs" / "bad.toml").write_text("block_size = 7\n")
    with pytest.raises(PhospheneError, match=r"^rigs/bad\.toml: block_size = 7 is out of range: allowed 16 to 8192$"):
        load_profile("rigs/bad.toml")
    (tmp_path / "rigs" / "int.toml").write_text("steps = 1.5\n")
    with pytest.raises(PhospheneError, match=r"^rigs/int\.toml: steps = 1\.5 is not a whole number"):
        load_profile("rigs/int.toml")


def test_an_unknown_base_names_the_file_holding_it_and_the_bases_there_are(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-rig.toml").write_text('base = "nosuch"\nhop_s = 0.25\n')
    with pytest.raises(PhospheneError) as e:
        load_profile("my-rig.toml")
    assert str(e.value) == "my-rig.toml: base = 'nosuch': no such preset; choose one of balanced, laptop, stage or give a .toml file"
    (tmp_path / "my-rig.toml").write_text('base = "gone.toml"\n')
    with pytest.raises(PhospheneError, match=r"^my-rig\.toml: base = '.*gone\.toml': cannot read it"):
        load_profile("my-rig.toml")
    (tmp_path / "my-rig.toml").write_text("base = 3\n")
    with pytest.raises(PhospheneError, match=r"^my-rig\.toml: base = 3: give the name of a preset \(balanced, laptop, stage\)"):
        load_profile("my-rig.toml")


def test_the_profile_allows_any_picture_shape_the_shader_engine_can_draw():
    """"sides must be multiples of 64" refused the README's own `--size 1280x720`: that rule (now
    multiples of 8) is the diffusion engine's, checked by the engine (tests/live/models/test_generator.py)."""
    from live.core.profiles import with_overrides

    laptop = load_profile("laptop")
    for size in [(1280, 720), (1280, 768), (1920, 1080), (1000, 700), (3840, 2160)]:
        assert with_overrides(laptop, size=size, hop_s=0.25).size == size


def test_a_profile_names_its_engine_and_refuses_an_unknown_one(tmp_path):
    (tmp_path / "rig.toml").write_text('engine = "shader"\n')
    assert load_profile(str(tmp_path / "rig.toml")).run_engine == "shader"
    assert load_profile("stage").engine is None and load_profile("stage").run_engine == "diffusion"
    (tmp_path / "rig.toml").write_text('engine = "gpu"\n')
    with pytest.raises(PhospheneError, match=r"rig\.toml: engine = 'gpu': choose diffusion or shader$"):
        load_profile(str(tmp_path / "rig.toml"))


# ---- the real command: one line, no traceback ----------------------------------------------------


def run_live(*args, cwd, timeout=120):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root), "SDL_VIDEODRIVER": "dummy"}
    cmd = [sys.executable, "-m", "live", "run", "--headless", "--windowed", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def assert_one_line(r, line: str):
    err = r.stderr.strip()
    assert r.returncode == 2 and "Traceback" not in err, err
    assert err.splitlines() == [f"error: {line}"], err


@pytest.mark.parametrize(
    "body, flags, says",
    [
        ("strength = nan\n", [], "my-rig.toml: strength = nan is not a number; give a number in (0, 1]"),
        ("strength = inf\n", [], "my-rig.toml: strength = inf is not a number; give a number in (0, 1]"),
        ('base = "balanced"\nsteps = 2\n', ["--strength", "inf"], "--strength inf"),  # the parser's or the profile's check: the flag
        ('base = "balanced"\nsteps = 2\n', ["--display-fps", "0"], "--display-fps 0"),
        ('base = "nosuch"\n', [], "my-rig.toml: base = 'nosuch': no such preset; choose one of balanced, laptop, stage or give a .toml file"),
    ],
)
def test_run_refuses_a_bad_profile_or_flag_in_one_line(tmp_path, house_music, body, flags, says):
    """`run --strength inf` and a profile's `strength = nan` printed an OverflowError / ValueError
    traceback from the profile check; `--display-fps 0` blamed profile 'balanced'."""
    (tmp_path / "my-rig.toml").write_text(body)
    r = run_live("--profile", "my-rig.toml", *flags, "--duration", 1, "--engine", "shader", "--input", house_music, cwd=tmp_path)
    if flags:  # a flag is named as the flag, never as the profile (`--display-fps 0` blamed profile 'balanced')
        assert_one_line(r, r.stderr.strip().removeprefix("error: "))
        assert r.stderr.startswith(f"error: {says}") and "balanced" not in r.stderr and "my-rig" not in r.stderr, r.stderr
    else:
        assert_one_line(r, says)


def test_run_draws_the_readme_example_size_live_with_the_shader_engine(tmp_path, house_music):
    """`run --profile laptop --size 1280x720 --hop 0.25` was refused ("multiples of 64"): the shader engine draws it."""
    import json

    stats = tmp_path / "stats.json"
    r = run_live(
        "--profile", "laptop", "--size", "1280x720", "--hop", "0.25", "--engine", "shader", "--input", house_music,
        "--duration", 2, "--stats-json", stats, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    s = json.loads(stats.read_text())
    assert (s["engine"], s["size"]) == ("shader", [1280, 720]) and s["generator"]["frames"] >= 2


def test_the_diffusion_engine_names_its_own_size_rule_and_the_nearest_sizes(tmp_path, house_music):
    """The diffusion engine's rule (multiples of 8 px: its VAE's blocks) is said as the engine's, for
    the size where it was given: the flag, or the profile's key."""
    tiny = ["--models", "tiny", "--compute", "cpu", "--input", house_music, "--duration", 1]
    rule = "this model takes sides in multiples of 8 px from 64 to 2048 (the diffusion engine's rule"
    r = run_live("--profile", "laptop", "--size", "1000x700", *tiny, cwd=tmp_path)
    assert_one_line(r, r.stderr.strip().removeprefix("error: "))
    assert r.stderr.startswith(f"error: --size 1000x700: {rule}") and r.stderr.rstrip().endswith("nearest: 1000x696 or 1000x704")
    (tmp_path / "odd.toml").write_text('base = "laptop"\nsize = "100x60"\n')
    r = run_live("--profile", "odd.toml", *tiny, cwd=tmp_path)
    assert_one_line(r, r.stderr.strip().removeprefix("error: "))
    assert r.stderr.startswith(f'error: odd.toml: size = "100x60": {rule}') and "nearest: 96x64 or 104x64" in r.stderr
