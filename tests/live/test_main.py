"""`python -m live` on a first day: the mistakes a new VJ or artist makes, each one clear line and no
harm done, and the day-one options (WxH, NTSC rates) on real music. Tiny models or the shader engine:
the pictures mean nothing."""

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from live.__main__ import main
from live.draw.video import probe

ROOT = Path(__file__).resolve().parents[2]
SHADER = ["--engine", "shader", "--size", "64", "--fps", "12", "--duration", "1", "-q"]


def cli(*args, env=None, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "live", *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout
    )


def one_line(r, needle):
    err = r.stderr.strip()
    assert r.returncode == 2, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and needle in err, err


def test_the_output_is_never_the_input(house_music, tmp_path):
    video = tmp_path / "clip.mp4"
    assert main(["render", str(house_music), "-o", str(video), *SHADER]) == 0
    before = video.read_bytes()
    (tmp_path / "link.mp4").symlink_to(video)
    for out in (video, tmp_path / "link.mp4"):
        one_line(cli("render", video, "-o", out, *SHADER), "is the input file")
    assert video.read_bytes() == before  # a 2.6 MB source was once replaced by a 1 s clip


def test_stats_json_into_a_missing_folder_fails_before_the_work(house_music, tmp_path):
    out = tmp_path / "v.mp4"
    r = cli("render", house_music, "-o", out, *SHADER, "--stats-json", tmp_path / "nope" / "s.json")
    one_line(r, "--stats-json")
    assert not out.exists()  # refused at start-up: no render, then a traceback
    r = cli(
        "run", "--headless", "--input", house_music, "--engine", "shader", "--duration", 1, "--stats-json", tmp_path / "nope" / "s.json"
    )
    one_line(r, "folder")


def test_quiet_still_says_what_fell_back_and_the_stats_name_the_engine(house_music, tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    stats = tmp_path / "s.json"
    small = ["--size", "64", "--fps", "12", "--duration", "1", "-q"]
    r = cli("render", house_music, "-o", tmp_path / "v.mp4", *small, "--prompt", "neon", "--stats-json", stats, env=env)
    assert r.returncode == 0, r.stderr
    warnings = r.stderr.strip().splitlines()
    fallback = [line for line in warnings if "drawing with --engine shader" in line]
    assert len(fallback) == 1 and len(fallback[0]) < 320, warnings
    for model in ("encoder youzarsif/wav2vec2bert_2_diffusion", "diffusion stabilityai/sd-turbo", "vae madebyollin/taesd"):
        assert model in fallback[0]
    assert any("ignores --prompt" in line for line in warnings)
    assert json.loads(stats.read_text())["engine"] == "shader"


def test_the_shader_engine_says_which_options_do_nothing(house_music, tmp_path, capsys):
    r = cli("render", house_music, "-o", tmp_path / "v.mp4", *SHADER, "--strength", "0.3", "--prompt", "x")
    err = r.stderr
    assert r.returncode == 0 and err.count("ignores") == 1 and "--prompt" in err and "--strength" in err and "--steps" not in err
    rc = main(["render", str(house_music), "-o", str(tmp_path / "w.mp4"), *SHADER, "--no-shaders"])
    assert rc == 2 and "--no-shaders" in capsys.readouterr().err


@pytest.mark.parametrize("size", ["0", "99999", "8"])
def test_shader_sizes_out_of_range_are_one_line(house_music, tmp_path, size):
    one_line(
        cli("render", house_music, "-o", tmp_path / "v.mp4", "--engine", "shader", "--size", size), "the shader engine draws 16 to 8192"
    )


def test_cheap_checks_run_before_any_model_loads(house_music, tmp_path):
    """A missing encoder folder would be found by loading; the flag errors must come first."""
    missing = ["--encoder", tmp_path / "no-such-encoder", "--diffusion", "tiny", "--vae", "tiny"]
    for flags, needle in (
        (["--strength", "0"], "--strength 0"),
        (["--steps", "1", "--strength", "0.5"], "0 UNet calls"),
        (["--audio-weight", "0.5"], "--prompt"),
    ):
        one_line(cli("render", house_music, "-o", tmp_path / "v.mp4", *missing, *flags), needle)
    one_line(cli("run", "--headless", "--input", house_music, *missing, "--steps", "1", "--strength", "0.5"), "UNet call")


def test_wide_sizes_and_ntsc_rates_render_exactly(house_music, tmp_path):
    out = tmp_path / "wide.mp4"
    assert (
        main(
            ["render", str(house_music), "-o", str(out), "--engine", "shader", "--size", "96x64", "--fps", "29.97", "--duration", "2", "-q"]
        )
        == 0
    )
    info = probe(out)
    assert (info.width, info.height, info.fps, info.frames) == (96, 64, Fraction(30000, 1001), 60)  # round(2 s x 29.97)
    out = tmp_path / "tiny.mp4"
    assert (
        main(
            ["render", str(house_music), "-o", str(out), "--models", "tiny", "--size", "128x64", "--fps", "23.976", "--duration", "1", "-q"]
        )
        == 0
    )
    info = probe(out)
    assert (info.width, info.height, info.fps, info.frames) == (128, 64, Fraction(24000, 1001), 24)
    r = cli("render", house_music, "-o", tmp_path / "odd.mp4", "--models", "tiny", "--size", "100x64")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith(
        "error: --size 100x64: this model takes sides in multiples of"
    )


def test_errors_name_the_subcommand_and_help_lists_each_command_once():
    r = cli("render", "-i", "x")
    assert r.returncode == 2 and "python -m live render: error" in r.stderr
    top = cli("--help").stdout
    assert top.count("train-beats") == 1 and top.count("devices") == 1
    keys = cli("run", "--help").stdout
    assert "T tap tempo" in keys and "R release" in keys and "O move the beat" in keys


def test_beats_says_when_there_is_no_steady_beat(tmp_path, audio_writer):
    noise = np.random.default_rng(0).normal(0, 0.1, (16_000 * 6, 1)).astype(np.float32)
    wav = audio_writer(tmp_path / "noise.wav", noise * np.linspace(0, 1, len(noise))[:, None], 16_000, "pcm_s16le")
    r = cli("beats", wav)
    assert r.returncode == 0 and "no steady beat found" in r.stdout, r.stdout
    assert json.loads(cli("beats", wav, "--json").stdout)["tempo"] is None
