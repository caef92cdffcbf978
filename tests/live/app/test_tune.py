"""`python -m live tune`: the search on a modelled machine (fast, exact), and the real command with the
shader engine and with tiny models on a small budget (real `run` children fed by the demo clip through
--input, the live input path of a rehearsal), its --check, and its refusals.

The targets of the real runs are modest (a 2-core CI machine under load must meet them); what the
tests check is that the profile written loads, holds its own targets when re-measured, and that a
target nothing meets writes nothing."""

import os
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from live.core.profiles import load_profile
from live.core.units import parse_size
from live.app import tune
from live.app.tune import Result, Search, Targets, axes

ROOT = Path(__file__).resolve().parents[3]


def run_tune(*args, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "live", "tune", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ---- the search, on a modelled machine ------------------------------------------------------------


class ModelledBench:
    """A machine whose frame time is area x UNet calls (+ a full VAE), and whose latency is half a
    hop plus a frame plus a block: the search must find the profile a person would, in few runs."""

    engine = "diffusion"

    def __init__(self):
        self.runs = []

    def cost_s(self, seconds=None):
        return 0.0

    def measure(self, p, seconds=None):
        self.runs.append(p)
        w, h = parse_size(p.size)
        frame_s = (w * h / 256**2) * 0.1 * int(p.steps * p.strength) + (0.08 if p.vae == "full" else 0.0)
        frame_s += 0.005 * p.window_s / p.hop_s  # the encoder's load steals from the generator
        fps = min(p.display_fps, 1.0 / frame_s)
        latency = 1000 * (p.hop_s / 2 + frame_s + p.block_size / 48_000)
        return Result(p, "diffusion", fps, {"p50": latency * 0.8, "p95": latency, "p99": latency * 1.1}, 0, 4.0)


class Bar:
    def set_postfix_str(self, *a, **k):
        pass

    def update(self, *a):
        pass

    def write(self, *a, **k):
        pass


def test_the_search_gives_up_in_the_documented_order_and_beats_a_grid():
    start = replace(load_profile("balanced"), vae="full", steps=4, strength=0.5, display_fps=4)  # 512 px, 2 calls, full VAE
    bench = ModelledBench()
    targets = Targets(fps=4, latency_ms=600)
    space = axes(start, "diffusion", ["torch"])
    best = Search(bench, targets, budget_s=3600, bar=Bar()).run(start, space)
    assert best.shortfall(targets) == 0
    # what it gave up, in order: the full VAE and the second UNet call go before the size does
    assert (best.profile.vae, int(best.profile.steps * best.profile.strength)) == ("taesd", 1)
    first_size_change = next(i for i, p in enumerate(bench.runs) if parse_size(p.size) != (512, 512))
    first_taesd = next(i for i, p in enumerate(bench.runs) if p.vae == "taesd")
    first_one_call = next(i for i, p in enumerate(bench.runs) if int(p.steps * p.strength) == 1)
    assert first_taesd < first_one_call < first_size_change
    # the answer is the largest size that meets the targets with its other settings (the model says so)
    sizes = space["size"].values
    larger = sizes[sizes.index(parse_size(best.profile.size)) - 1]
    assert ModelledBench().measure(replace(best.profile, size=larger[0])).shortfall(targets) > 0
    assert parse_size(best.profile.size) >= (256, 256)
    grid = 1
    for axis in space.values():
        grid *= len(axis.values)
    assert len(bench.runs) < grid / 10  # coordinate descent, not a grid
    assert best.profile.display_fps == 4 and best.profile.encoder_batch == 1  # not searched


def test_a_report_says_when_the_shader_engine_can_and_writes_nothing(tmp_path, capsys):
    p = load_profile("laptop")
    near = Result(p, "diffusion", 3.0, {"p50": 500.0, "p95": 700.0, "p99": 800.0}, 0, 4.0)
    shader = Result(p, "shader", 24.0, {"p50": 40.0, "p95": 60.0, "p99": 70.0}, 0, 4.0)
    args = type("Args", (), {"engine": "diffusion", "output": tmp_path / "rig.toml", "write_closest": False})()
    code = tune.report(args, Targets(24, 100), {"shader": shader}, {"diffusion": near, "shader": shader}, ["--models", "tiny"])
    err = capsys.readouterr().err
    assert code == 1 and not (tmp_path / "rig.toml").exists()
    assert "no candidate of the diffusion engine meets 24 fps" in err and "fps 3.0 < 24" in err and "p95 700 ms > 100 ms" in err
    assert "the closest: [256 px" in err and "the shader engine can" in err


# ---- the command ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--target-fps", "0", "--target-latency", "300"], "--target-fps 0: give a positive number"),
        (["--target-fps", "-3", "--target-latency", "300"], "--target-fps -3: give a positive number"),
        (["--target-fps", "fast", "--target-latency", "300"], "--target-fps 'fast': give a number"),
        (["--target-fps", "24", "--target-latency", "0"], "--target-latency 0: give a positive number"),
        (["--target-fps", "24", "--target-latency", "nan"], "--target-latency nan: give a positive number"),
        (["--target-fps", "24", "--target-latency", "300", "--engine", "gpu"], "--engine 'gpu': choose diffusion, shader or auto"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(tmp_path, flags, says):
    out = tmp_path / "rig.toml"
    r = run_tune(*flags, "-o", str(out), timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and says in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("where", ["/proc/rig.toml", "{tmp}/missing/rig.toml", "{tmp}/rig.txt"])
def test_an_unwritable_output_is_one_line_and_exit_2(tmp_path, where):
    r = run_tune("--target-fps", "24", "--target-latency", "300", "--engine", "shader", "-o", where.format(tmp=tmp_path), timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("error: -o ") and len(r.stderr.strip().splitlines()) == 1, r.stderr


def written_profile(path: Path) -> dict:
    text = path.read_text()
    assert "# Machine: " in text and " cores; " in text and "torch" in text  # what the figures belong to
    assert "# Measured: " in text and "latency p50/p95/p99" in text and "# Written by `python -m live tune` on 20" in text
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no partial file left beside it
    return tomllib.loads(text)


def test_shader_tune_writes_a_profile_that_run_loads_and_check_holds(tmp_path):
    out = tmp_path / "rig.toml"
    r = run_tune(
        "--engine",
        "shader",
        "--start",
        "laptop",
        "--target-fps",
        "8",
        "--target-latency",
        "600",
        "--budget-s",
        "25",
        "--seconds",
        "3",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert "tune: shader [shader " in r.stderr and "fps, latency p50/p95/p99" in r.stderr  # one line per candidate
    raw = written_profile(out)
    profile = load_profile(str(out))  # what `run --profile` reads, unchanged
    assert profile.display_fps == raw["display_fps"] == 8 and profile.block_size == raw["block_size"]
    assert f"--profile {out}" in r.stdout and "--engine shader" in r.stdout
    check = run_tune("--check", str(out), "--seconds", "4")
    assert check.returncode == 0 and "holds" in check.stdout and "within 10%" in check.stdout, check.stdout + check.stderr


def test_tiny_models_tune_writes_a_profile_that_holds(tmp_path):
    out = tmp_path / "tiny.toml"
    r = run_tune("--models", "tiny", "--target-fps", "2", "--target-latency", "4000", "--budget-s", "30", "--seconds", "4", "-o", str(out))
    assert r.returncode == 0, r.stderr
    raw = written_profile(out)
    assert raw["display_fps"] == 2 and int(raw["steps"] * raw["strength"]) >= 1
    assert "--models tiny" in out.read_text()  # how to run it, and what --check re-measures with
    check = run_tune("--check", str(out), "--seconds", "4")
    assert check.returncode == 0 and "holds (diffusion:" in check.stdout, check.stdout + check.stderr


def test_an_impossible_target_names_the_closest_and_writes_nothing(tmp_path):
    out = tmp_path / "rig.toml"
    flags = ["--engine", "shader", "--start", "laptop", "--target-fps", "240", "--target-latency", "1", "--budget-s", "8"]
    r = run_tune(*flags, "--seconds", "2", "-o", str(out))
    assert r.returncode == 1, r.stderr
    assert "no candidate of the shader engine meets 240 fps, latency p95 <= 1 ms here" in r.stderr
    assert "the closest: [shader " in r.stderr and "no profile written" in r.stderr
    assert not out.exists() and not list(tmp_path.iterdir())
    r = run_tune(*flags[:-1], "3", "--seconds", "2", "--write-closest", "-o", str(out))
    assert r.returncode == 1 and "wrote the closest candidate" in r.stdout, r.stderr
    assert "# Closest: misses fps " in out.read_text() and load_profile(str(out)).display_fps == 240
