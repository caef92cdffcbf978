"""`python -m training fit` and `eval` end to end: tiny models on real recorded sounds (tests/training/sounds.py).

Every run is a subprocess, as a user runs it: the kill test needs a process to SIGKILL, and
accelerate keeps process-wide state that one test would leak into the next.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.training.sounds import write_manifest

ROOT = Path(__file__).resolve().parents[2]
# the recipe the tests train with: a random tiny backbone needs a far higher learning rate than a pretrained one
TINY = ["--encoder", "tiny", "--batch-size", "16", "--window-s", "0.5", "--lr", "3e-3", "--head-lr", "3e-3", "--warmup-steps", "10"]


def run(module: str, *args, timeout=600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout
    )


def log_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def sounds(tmp_path_factory) -> Path:
    return write_manifest(tmp_path_factory.mktemp("sounds") / "sounds.csv")


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("targets")


@pytest.fixture(scope="session")
def trained(sounds, cache, tmp_path_factory) -> Path:
    """A tiny encoder trained for 500 steps (about 1.5 minutes here) on the train split."""
    out = tmp_path_factory.mktemp("run") / "tiny"
    r = run("training", "fit", "--manifest", sounds, "--output", out, *TINY, "--max-steps", 500, "--save-every", 250, "--log-every", 25,
            "--cache-dir", cache)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_tiny_encoder_learns_held_out_sounds(trained, sounds, cache, tmp_path):
    losses = [line["loss"] for line in log_lines(trained)]
    assert losses[-1] < 0.8 * losses[0]
    report_file = tmp_path / "eval.json"
    r = run("training", "eval", "--encoder", trained / "encoder", "--manifest", sounds, "--split", "test", "--cache-dir", cache,
            "--json", report_file)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "audio to text" in r.stdout and "zero-shot" in r.stdout
    report = json.loads(report_file.read_text())
    # 11 held-out clips (never seen in training: disjoint stretches or other files) of 8 captions
    assert report["clips"] == 11 and report["captions"] == 8
    assert report["audio_to_text/R@1"] >= 3 * report["chance/audio_to_text/R@1"]
    assert report["token_cosine"] > 0.5

    # the same architecture untrained scores below it: the figure above is learnt
    untrained = tmp_path / "untrained"
    assert run("training", "init", "-o", untrained).returncode == 0
    r = run("training", "eval", "--encoder", untrained, "--manifest", sounds, "--split", "test", "--cache-dir", cache,
            "--window-s", 0.5, "--json", report_file)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    before = json.loads(report_file.read_text())
    assert before["audio_to_text/R@1"] < report["audio_to_text/R@1"] and before["token_cosine"] < report["token_cosine"]


def test_checkpoint_layout_and_metadata(trained):
    encoder = trained / "encoder"
    assert {p.name for p in encoder.iterdir()} == {"config.json", "model.safetensors", "preprocessor_config.json", "phosphene.json"}
    meta = json.loads((encoder / "phosphene.json").read_text())
    assert meta["text_encoder"] == "tiny" and meta["tokens"] == 77 and meta["width"] == 32 and meta["window_s"] == 0.5
    steps = sorted(p.name for p in (trained / "checkpoints").iterdir())
    assert steps == ["step-000250", "step-000500"]  # no temporary folders left behind
    assert json.loads((trained / "checkpoints" / "step-000500" / "trainer.json").read_text())["step"] == 500
    assert (trained / "logs").is_dir() and any((trained / "logs").rglob("events.out.tfevents.*"))  # TensorBoard


def test_trained_checkpoint_renders_and_exports(trained, tmp_path):
    from tests.conftest import PYGAME_DATA

    video = tmp_path / "out.mp4"
    r = run("live", "render", PYGAME_DATA / "house_lo.ogg", "-o", video, "--encoder", trained / "encoder", "--diffusion", "tiny",
            "--vae", "tiny", "--size", "64", "--fps", "8", "--duration", "2", "-q")  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert video.stat().st_size > 0
    export = tmp_path / "onnx"
    r = run("export", "onnx", "--encoder", trained / "encoder", "-o", export)
    assert r.returncode == 0, r.stderr[-3000:]
    r = run("export", "verify", export)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]


def test_killed_run_resumes_with_the_same_losses(sounds, cache, tmp_path):
    common = ["--manifest", sounds, *TINY, "--max-steps", 30, "--save-every", 5, "--log-every", 1, "--cache-dir", cache]
    whole = tmp_path / "whole"
    assert run("training", "fit", "--output", whole, *common).returncode == 0

    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "training", "fit", "--output", str(killed), *map(str, common)]
    process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (killed / "checkpoints" / "step-000010").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    before = log_lines(killed)
    assert before[-1]["step"] < 30  # it really was stopped part-way

    r = run("training", "fit", "--output", killed, "--resume")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from step-0000" in r.stderr
    a, b = log_lines(whole), log_lines(killed)
    assert [line["step"] for line in b] == list(range(1, 31))
    # bit for bit: same batches, crops, augmentation and dropout masks, same restored weights and optimiser
    assert [line["loss"] for line in b] == [line["loss"] for line in a]


def test_manifest_mistakes_are_one_line_errors(tmp_path, sounds):
    cases = {
        "no_caption_column.csv": ("audio\nx.wav\n", "no 'caption' column"),
        "empty.csv": ("audio,caption\n", "no rows"),
        "captionless.csv": (f"audio,caption\n{sounds},\n", "row 1 has no caption"),
    }
    for name, (text, expected) in cases.items():
        manifest = tmp_path / name
        manifest.write_text(text)
        out = tmp_path / f"out-{name}"
        r = run("training", "fit", "--manifest", manifest, "--output", out, "--encoder", "tiny", "--max-steps", 1)
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("error: ") and expected in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert not out.exists()


def test_unreadable_files_are_skipped_and_listed(tmp_path, sounds, cache, bad_audio):
    import csv

    manifest = tmp_path / "with-bad.csv"
    rows = list(csv.DictReader(open(sounds)))
    rows += [{**rows[0], "audio": str(bad_audio[k]), "split": "train"} for k in ("truncated_mp3", "text_wav", "missing")]
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "run"
    r = run("training", "fit", "--manifest", manifest, "--output", out, *TINY, "--max-steps", 6, "--cache-dir", cache)
    assert r.returncode == 0, r.stderr[-3000:]
    listed = (out / "skipped.txt").read_text()
    assert all(str(bad_audio[k]) in listed for k in ("truncated_mp3", "text_wav", "missing"))
    assert "could not be read and were skipped" in r.stderr


def test_config_file_flags_and_resume_mistakes(tmp_path, sounds, cache):
    config = tmp_path / "run.toml"
    config.write_text(f'[fit]\nmanifest = "{sounds}"\nencoder = "tiny"\nmax-steps = 2\nbatch_size = 4\nwindow_s = 0.5\nsave_every = 100\n')
    out = tmp_path / "run"
    r = run("training", "fit", "--config", config, "--output", out, "--max-steps", 3, "--cache-dir", cache, "--no-mix")
    assert r.returncode == 0, r.stderr[-3000:]
    saved = json.loads((out / "fit.json").read_text())
    assert saved["max_steps"] == 3 and saved["batch_size"] == 4 and saved["mix"] is False  # flags override the file
    assert [line["step"] for line in log_lines(out)] == [3]

    r = run("training", "fit", "--config", config, "--output", out)
    assert r.returncode == 2 and "add --resume" in r.stderr
    config.write_text("[fit]\nbatch = 4\n")
    r = run("training", "fit", "--config", config, "--output", tmp_path / "other")
    assert r.returncode == 2 and "unknown setting(s) batch" in r.stderr
    r = run("training", "fit", "--output", tmp_path / "nothing", "--resume")
    assert r.returncode == 2 and "holds no run" in r.stderr


@pytest.mark.parametrize("backbone", ["wav2vec2", "hubert", "wavlm"])
def test_other_backbones_train_and_load(backbone, tmp_path, sounds, cache):
    out = tmp_path / backbone
    r = run("training", "fit", "--manifest", sounds, "--output", out, *TINY, "--backbone", backbone, "--max-steps", 2,
            "--cache-dir", cache, "--freeze-feature-projection", "--freeze-layers", 1)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    r = run("training", "info", out)  # the run folder stands for its newest encoder
    assert r.returncode == 0 and "L=77, D=32" in r.stdout


def test_eval_runs_on_audio2img_format(tmp_path, sounds, cache):
    from live.models.encoder import tiny_audio2img_encoder

    model, fe, _ = tiny_audio2img_encoder()
    folder = tmp_path / "audio2img"
    model.save_pretrained(folder)
    fe.save_pretrained(folder)  # no phosphene.json: the audio2img layout
    r = run(
        "training", "eval", "--encoder", folder, "--manifest", sounds, "--split", "test", "--text-encoder", "tiny", "--cache-dir", cache
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "audio to text" in r.stdout and "targets: tiny, window 3.76 s" in r.stdout
    r = run("training", "eval", "--encoder", folder, "--manifest", sounds, "--cache-dir", cache)
    assert r.returncode == 2 and "--text-encoder" in r.stderr  # SD 2.1's text encoder cannot be had here


def test_help_lists_every_setting_without_importing_torch():
    r = run("training", "fit", "--help")
    assert r.returncode == 0
    for flag in ("--max-steps", "--resume", "--backbone", "--freeze-layers", "--gradient-checkpointing", "--no-mix", "--mixed-precision"):
        assert flag in r.stdout
    probe = "import sys, training.__main__ as m; m.build_parser().parse_args(['fit', '--output', 'x']); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


def test_gradient_accumulation_and_bf16_autocast_run_on_the_cpu(tmp_path, sounds, cache):
    out = tmp_path / "accum"
    r = run("training", "fit", "--manifest", sounds, "--output", out, *TINY, "--max-steps", 2, "--grad-accum", 2, "--batch-size", 8,
            "--mixed-precision", "bf16", "--log-every", 1, "--cache-dir", cache)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    lines = log_lines(out)
    assert [line["step"] for line in lines] == [1, 2] and all(np.isfinite(line["loss"]) for line in lines)
    position = json.loads((out / "checkpoints" / "step-000002" / "trainer.json").read_text())
    assert position["samples"] == 2 * 2 * 8  # two micro-batches of 8 per optimiser step
