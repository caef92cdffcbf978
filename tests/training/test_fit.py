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

from tests.training import instruments
from tests.training.sounds import write_manifest

ROOT = Path(__file__).resolve().parents[2]
# the tests train with fit's own defaults for a tiny encoder (training.config.RECIPES["tiny"]): no special flags
TINY = ["--weights", "tiny"]


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
def instrument_set(tmp_path_factory) -> Path:
    """tests/training/instruments.py: 8 General MIDI instruments x 12 recordings, rendered (about 2 s)."""
    if not instruments.available():
        pytest.skip("needs fluidsynth and timgm6mb-soundfont (system-packages.txt)")
    return instruments.write_manifest(tmp_path_factory.mktemp("instruments"))


@pytest.fixture(scope="session")
def both_sets(sounds, instrument_set, tmp_path_factory) -> Path:
    """The two sets in one manifest: one training run learns both (each is scored on its own held-out clips)."""
    import csv

    rows = [row for path in (sounds, instrument_set) for row in csv.DictReader(open(path))]
    path = tmp_path_factory.mktemp("both") / "both.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["audio", "caption", "start", "end", "label", "split"], restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def trained(both_sets, cache, tmp_path_factory) -> Path:
    """A tiny encoder trained with fit's defaults for 500 steps (about 2 minutes here) on both sets' train splits."""
    out = tmp_path_factory.mktemp("run") / "tiny"
    r = run("training", "fit", "--manifest", both_sets, "--output", out, *TINY, "--max-steps", 500, "--save-every", 250,
            "--log-every", 25, "--cache-dir", cache)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def evaluate(encoder: Path, manifest: Path, cache: Path, folder: Path, *args) -> tuple[dict, str]:
    folder.mkdir(exist_ok=True)
    report_file = folder / f"eval-{manifest.stem}.json"
    r = run("training", "eval", "--encoder", encoder, "--manifest", manifest, "--split", "test", "--cache-dir", cache,
            "--json", report_file, *args)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(report_file.read_text()), r.stdout


def test_tiny_encoder_learns_held_out_sounds(trained, sounds, cache, tmp_path):
    losses = [line["loss"] for line in log_lines(trained)]
    assert losses[-1] < 0.8 * losses[0]
    report, stdout = evaluate(trained / "encoder", sounds, cache, tmp_path)
    assert "audio to text" in stdout and "zero-shot" in stdout and "baseline (nearest class centroid" in stdout
    # 11 held-out clips (never seen in training: disjoint stretches or other files) of 8 captions
    assert report["clips"] == 11 and report["captions"] == 8
    # seeds 0, 1, 2 measured R@1 0.636 each and zero-shot 0.727 each (chance 0.125); issue 20 asks 0.6.
    # One clip (of 11) below that is allowed for another machine's arithmetic: 0.545.
    assert report["audio_to_text/R@1"] >= 0.54 and report["zero_shot/accuracy"] >= 0.54
    assert report["token_cosine"] > 0.45  # measured 0.53-0.58: the zero-shot term pulls the tokens from the captions (README)

    # the same architecture untrained scores below it: the figure above is learnt
    untrained = tmp_path / "untrained"
    assert run("training", "init", "-o", untrained).returncode == 0
    window_s = json.loads((trained / "encoder" / "phosphene.json").read_text())["window_s"]
    before, _ = evaluate(untrained, sounds, cache, tmp_path / "untrained-eval", "--window-s", window_s)
    assert before["audio_to_text/R@1"] < report["audio_to_text/R@1"] and before["token_cosine"] < report["token_cosine"]


def test_tiny_encoder_learns_held_out_instrument_recordings(trained, instrument_set, cache, tmp_path):
    """Issue 20: a second set from other sources (rendered General MIDI phrases), held out by recording;
    captions within cos 0.74-0.99 of each other in the tiny text space."""
    report, stdout = evaluate(trained / "encoder", instrument_set, cache, tmp_path)
    assert report["clips"] == 24 and report["captions"] == 8 and report["zero_shot/classes"] == 8
    # seeds 0, 1, 2 measured R@1 0.708, 0.708, 0.667 and zero-shot 0.750, 0.708, 0.708 (chance 0.125)
    assert report["audio_to_text/R@1"] >= 0.58 and report["zero_shot/accuracy"] >= 0.58
    # the baseline row: nearest class centroid on log-mel statistics, fitted on the 72 training recordings
    assert report["baseline/fitted_on"] == 72 and report["baseline/accuracy"] > 0.4
    assert f"fitted on 72 clips of the manifest's train split): {report['baseline/accuracy']:.3f}" in stdout


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
        r = run("training", "fit", "--manifest", manifest, "--output", out, "--weights", "tiny", "--max-steps", 1)
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
    config.write_text(f'[fit]\nmanifest = "{sounds}"\nweights = "tiny"\nmax-steps = 2\nbatch_size = 4\nwindow_s = 0.5\nsave_every = 100\n')
    out = tmp_path / "run"
    r = run("training", "fit", "--config", config, "--output", out, "--max-steps", 3, "--cache-dir", cache, "--mix")
    assert r.returncode == 0, r.stderr[-3000:]
    saved = json.loads((out / "fit.json").read_text())
    assert saved["max_steps"] == 3 and saved["batch_size"] == 4 and saved["mix"] is True  # flags override the file and tiny's recipe
    assert (saved["lr"], saved["warmup_steps"], saved["label_prompts"], saved["zero_shot_weight"]) == (3e-3, 10, 0.0, 2.0)  # tiny's recipe
    assert saved["text_encoder"] == "tiny" and (saved["head_layers"], saved["head_heads"]) == (1, 2)  # what --weights tiny trained
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
    # the baseline row, as for own checkpoints: fitted on the train split, on the windows this encoder sees
    assert "baseline (nearest class centroid on log-mel mean/std, fitted on 34 clips of the manifest's train split)" in r.stdout
    r = run("training", "eval", "--encoder", folder, "--manifest", sounds, "--cache-dir", cache)
    assert r.returncode == 2 and "--text-encoder" in r.stderr  # SD 2.1's text encoder cannot be had here


def test_help_lists_every_setting_without_importing_torch():
    r = run("training", "fit", "--help")
    assert r.returncode == 0
    for flag in ("--max-steps", "--resume", "--backbone", "--freeze-layers", "--gradient-checkpointing", "--no-mix", "--mixed-precision"):
        assert flag in r.stdout
    assert "default: 5e-05; 0.003 with --weights tiny)" in " ".join(r.stdout.split())  # a default that differs by size: both
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


def refusal(*args) -> tuple[int, str, bool]:
    """`training fit ARGS` run in a fresh interpreter: (exit status, stderr, whether torch was imported by then)."""
    probe = f"import sys; from training.__main__ import main; rc = main({list(map(str, args))!r}); print(rc, 'torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    rc, torch_loaded = r.stdout.split()
    return int(rc), r.stderr, torch_loaded == "True"


def test_bad_settings_and_a_used_folder_are_refused_before_anything_loads(tmp_path, sounds, cache):
    cases = {
        ("--tokens", 0): "--tokens must be positive, got 0",
        ("--tokens", 78): "--tokens 78: SD text encoders take 1 to 77",
        ("--head-layers", 0): "--head-layers must be positive",
        ("--head-heads", -2): "--head-heads must be positive",
        ("--lr", 0.0): "--lr must be positive",
        ("--num-workers", -1): "--num-workers must be 0 or more",
        ("--warmup-steps", -5): "--warmup-steps must be 0 or more",
        ("--keep-checkpoints", -1): "--keep-checkpoints must be 0 or more",
    }
    for (flag, value), expected in cases.items():
        rc, err, torch_loaded = refusal("fit", "--manifest", sounds, "--output", tmp_path / "out", "--weights", "tiny", flag, value)
        assert rc == 2 and err.startswith("error: ") and expected in err and len(err.splitlines()) == 1, err
        assert not torch_loaded and not (tmp_path / "out").exists()

    used = tmp_path / "used"
    assert run("training", "fit", "--manifest", sounds, "--output", used, *TINY, "--max-steps", 1, "--cache-dir", cache).returncode == 0
    rc, err, torch_loaded = refusal("fit", "--manifest", sounds, "--output", used, "--weights", "tiny")
    assert rc == 2 and "holds a run already: add --resume" in err and not torch_loaded  # said before any model is built


def test_tiny_backbone_trains_into_the_text_space_it_names(tmp_path, sounds, cache):
    from live.models.diffusion import save_tiny_diffusion

    text_space = save_tiny_diffusion(tmp_path / "tiny-sd")  # a diffusion folder: a text encoder other than `tiny`
    out = tmp_path / "run"
    r = run("training", "fit", "--manifest", sounds, "--output", out, *TINY, "--text-encoder", text_space, "--max-steps", 1,
            "--cache-dir", cache)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    recorded = json.loads((out / "fit.json").read_text())
    trained = json.loads((out / "encoder" / "phosphene.json").read_text())
    assert recorded["text_encoder"] == trained["text_encoder"] == str(text_space)  # the explicit flag is honoured, and said
    assert (recorded["head_layers"], recorded["head_heads"]) == (1, 2)  # tiny's head, recorded as trained


def test_clips_that_can_never_give_audio_stop_the_run(tmp_path, sounds, cache):
    import csv

    rows = list(csv.DictReader(open(sounds)))
    past = tmp_path / "past.csv"
    with open(past, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([rows[0], {**rows[0], "start": 30.0, "end": 31.0}])  # the file is 0.54 s long
    r = run("training", "fit", "--manifest", past, "--output", tmp_path / "a", *TINY, "--cache-dir", cache, timeout=120)
    assert r.returncode == 2 and f"manifest {past} row 2: start 30 s lies past the end of" in r.stderr, r.stderr[-3000:]
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "a").exists()

    gone = tmp_path / "gone.csv"
    gone.write_text("audio,caption\n" + "".join(f"{tmp_path}/missing-{k}.wav,Sound {k}\n" for k in range(20)))
    out = tmp_path / "b"
    r = run("training", "fit", "--manifest", gone, "--output", out, *TINY, "--batch-size", 4, "--cache-dir", cache, timeout=120)
    assert r.returncode == 2, r.stderr[-3000:]
    assert r.stderr.rstrip().splitlines()[-1].startswith("error: no batch of a whole epoch had enough readable clips")
    assert "Traceback" not in r.stderr and f"{tmp_path}/missing-7.wav" in r.stderr  # the skipped files are listed
    assert len((out / "skipped.txt").read_text().splitlines()) == 20


def test_ctrl_c_says_the_step_the_checkpoint_and_resume(tmp_path, sounds, cache):
    out = tmp_path / "run"
    args = ["-m", "training", "fit", "--manifest", sounds, "--output", out, *TINY, "--max-steps", 3000, "--save-every", 5,
            "--cache-dir", cache]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, *map(str, args)], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not (out / "checkpoints" / "step-000010").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole process group, decoding workers too
    err = process.stderr.read()
    assert process.wait() == 130, err[-3000:]
    assert "Traceback" not in err
    said = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("interrupted: ")]
    assert len(said) == 1 and said[0].startswith("interrupted: stopped at step "), err[-3000:]
    step = int(said[0].split("stopped at step ")[1].split(";")[0])
    newest = sorted((out / "checkpoints").glob("step-*"))[-1]
    assert step >= 10 and f"the newest checkpoint is {newest};" in said[0] and f"--output {out} --resume" in said[0]


def test_manifest_paths_say_what_is_wrong_and_where_they_looked(tmp_path, sounds, cache):
    r = run("training", "fit", "--manifest", tmp_path, "--output", tmp_path / "a", "--weights", "tiny")
    assert r.returncode == 2 and f"manifest {tmp_path} is a folder" in r.stderr and "--dataset" in r.stderr

    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "clips.csv").write_text(sounds.read_text())  # its audio paths are absolute
    config = folder / "run.toml"
    config.write_text('manifest = "clips.csv"\nweights = "tiny"\nbatch_size = 16\nwindow_s = 0.5\nmax_steps = 1\n')
    out = tmp_path / "run"
    r = run("training", "fit", "--config", config, "--output", out, "--cache-dir", cache)  # run from the checkout, not configs/
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((out / "fit.json").read_text())["manifest"] == str(folder / "clips.csv")

    config.write_text('manifest = "nope.csv"\nweights = "tiny"\n')
    r = run("training", "fit", "--config", config, "--output", tmp_path / "b")
    assert r.returncode == 2 and f"manifest {folder / 'nope.csv'} does not exist" in r.stderr
    r = run("training", "fit", "--manifest", "nope.csv", "--output", tmp_path / "b", "--weights", "tiny")
    assert r.returncode == 2 and f"manifest nope.csv does not exist (looked for {ROOT / 'nope.csv'})" in r.stderr


def test_missing_models_advise_the_commands_own_flag(tmp_path, sounds):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}  # not cached, hub unreachable: the advice is given
    cases = {"--encoder tiny": ["eval", "--encoder", "nobody/no-such-encoder", "--manifest", sounds],
             "--weights tiny": ["fit", "--manifest", sounds, "--output", tmp_path / "a", "--backbone", "nobody/no-such-backbone"]}  # fmt: skip
    for advice, args in cases.items():
        r = subprocess.run([sys.executable, "-m", "training", *map(str, args)], capture_output=True, text=True, env=env, cwd=ROOT)
        assert r.returncode == 2 and f"or use {advice} for a smoke run" in r.stderr and "--models" not in r.stderr, r.stderr


@pytest.mark.parametrize("kind, tokens", [("own", 77), ("own", 16), ("audio2img", 77)])
def test_init_from_starts_from_the_checkpoints_weights(kind, tokens, tmp_path, sounds, cache):
    import torch
    from safetensors.torch import load_file

    from live.models.audio_prompt import save_encoder
    from live.models.encoder import tiny_audio2img_encoder, tiny_own_encoder

    model, fe, meta = tiny_own_encoder() if kind == "own" else tiny_audio2img_encoder()
    torch.manual_seed(1)
    with torch.no_grad():  # weights no fresh initialisation has: what the run must start from
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    start = tmp_path / kind
    if kind == "own":
        save_encoder(model, fe, meta, start)
    else:  # audio2img's layout: no phosphene.json, no token head
        model.save_pretrained(start)
        fe.save_pretrained(start)
    given = load_file(start / "model.safetensors")

    out = tmp_path / "run"
    text = [] if kind == "own" else ["--text-encoder", "tiny"]  # own: the text space its phosphene.json names
    r = run("training", "fit", "--manifest", sounds, "--output", out, "--init-from", start, *text, "--tokens", tokens,
            "--batch-size", 16, "--window-s", 0.5, "--lr", 1e-9, "--head-lr", 1e-9, "--warmup-steps", 0, "--max-steps", 1,
            "--cache-dir", cache)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    said = {("own", 77): f"--init-from {start}: its backbone and its token head",
            ("own", 16): f"--init-from {start}: its backbone and a new token head (it gives L=77 x D=32 from a 1 x 2 head; "
                         "this run trains L=16 x D=32)",
            ("audio2img", 77): f"--init-from {start}: its backbone and a new token head (an audio2img checkpoint has none"}  # fmt: skip
    assert said[kind, tokens] in r.stderr

    trained = load_file(out / "encoder" / "model.safetensors")
    prefix = "" if kind == "own" else "backbone."
    backbone = [k for k in given if k.startswith("backbone.") or kind == "audio2img"]
    assert len(backbone) > 20 and max(float((trained[prefix + k] - given[k]).abs().max()) for k in backbone) < 1e-4
    if (kind, tokens) == ("own", 77):
        assert torch.allclose(trained["head.queries"], given["head.queries"], atol=1e-4)  # the head too
    assert trained["head.queries"].shape == (tokens, 32)
    recorded = json.loads((out / "fit.json").read_text())
    assert recorded["init_from"] == str(start) and recorded["weights"] is None and recorded["backbone"] is None
    assert (recorded["text_encoder"], recorded["head_layers"], recorded["head_heads"]) == ("tiny", 1, 2)  # as trained
    assert json.loads((out / "encoder" / "phosphene.json").read_text())["tokens"] == tokens


def test_fits_old_encoder_setting_says_its_new_names(tmp_path, sounds):
    common = ["--manifest", sounds, "--output", tmp_path / "out"]
    cases = {
        ("--encoder", "tiny"): "fit's encoder setting is now --weights (pretrained, random or tiny: a new encoder's backbone weights), "
        "and --init-from names an encoder to start from: write --weights tiny",
        ("--encoder", "runs/a/encoder"): "write --init-from runs/a/encoder",
        ("--init-from", "runs/a/encoder", "--weights", "tiny"): "--init-from runs/a/encoder brings its own backbone and weights",
    }
    for args, expected in cases.items():
        rc, err, torch_loaded = refusal("fit", *common, *args)
        assert rc == 2 and expected in err and len(err.splitlines()) == 1 and not torch_loaded, err
    config = tmp_path / "old.toml"
    config.write_text('encoder = "tiny"\n')
    rc, err, _ = refusal("fit", "--config", config, "--output", tmp_path / "out")
    assert rc == 2 and f"{config}: encoder = 'tiny': fit's encoder setting is now weights" in err and 'write weights = "tiny"' in err


def test_a_run_from_before_the_new_settings_resumes_without_them(tmp_path):
    """fit.json of a run started before active crops, label prompts and the zero-shot term: resumed,
    it goes on with none of them (not with today's tiny recipe, which would change its losses)."""
    from training.config import FitConfig, load_run_config

    (tmp_path / "fit.json").write_text(json.dumps({"output": str(tmp_path), "manifest": "m.csv", "weights": "tiny"}))
    values = load_run_config(tmp_path)
    assert (values["active_crop"], values["label_prompts"], values["zero_shot_weight"]) == (False, 0.0, 0.0)
    assert FitConfig(**values).zero_shot_weight == 0.0
