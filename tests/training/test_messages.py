"""What `training info`, `fit --init-from`, `fit --backbone` and `init` say when given the wrong
thing, as a user runs them (subprocesses): one line naming what was typed and a fix, exit 2, no
traceback, and no progress bars on stderr."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from export.onnx import export_onnx
from live.models.audio_prompt import save_encoder
from live.models.encoder import tiny_own_encoder
from tests.training.sounds import write_manifest

ROOT = Path(__file__).resolve().parents[2]
BAR = ("it/s]", "%|")  # what a tqdm bar line holds


def run(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "training", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def refused(r: subprocess.CompletedProcess) -> str:
    """The one error line of a refused command."""
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and r.stdout == "", r.stderr
    return errors[0]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict:
    """An own-format checkpoint, its ONNX export, a folder of TensorRT engines (a stand-in engine and
    its metadata as `export trt` writes them), a diffusers folder, an empty folder and a text file."""
    root = tmp_path_factory.mktemp("folders")
    model, fe, meta = tiny_own_encoder()
    ckpt = save_encoder(model, fe, meta, root / "ckpt")
    export = export_onnx(str(ckpt), root / "export")
    engines = root / "engines"
    engines.mkdir()
    (engines / "stage.engine").write_bytes(b"\0" * 64)
    (engines / "stage.engine.json").write_text(json.dumps({"profile": "stage", "tensorrt": "10.3", "gpu": "H100", "onnx_dir": str(export)}))
    diffusers = root / "sd"
    (diffusers / "unet").mkdir(parents=True)
    (diffusers / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("not a model\n")
    return {"ckpt": ckpt, "export": export, "engines": engines, "sd": diffusers, "empty": root / "empty", "text": root / "notes.txt"}


def test_info_describes_an_onnx_export(folders):
    """It used to be an AttributeError traceback (the ONNX runtime has no torch .model)."""
    r = run("info", folders["export"])
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    lines = {line[:14].strip(): line[14:] for line in r.stdout.splitlines()}  # "text space    tiny: ..."
    assert lines["export"].startswith(f"{folders['export']}  (an ONNX export")
    assert lines["source"].startswith(f"{folders['ckpt'].resolve()}  (own format")
    assert lines["text space"] == "tiny: L=77, D=32"
    assert lines["graph"] == "waveforms (batch, samples) -> tokens (batch, tokens, width); opset 17, fp32"
    assert lines["file"].startswith("model.onnx") and lines["file"].endswith("sha256 matches export.json")
    assert lines["output"].startswith("(1, 77, 32) for one 3.76 s window")


def test_info_on_a_corrupted_export_says_which_file(folders, tmp_path):
    bad = shutil.copytree(folders["export"], tmp_path / "bad")
    data = bytearray((bad / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size
    (bad / "model.onnx").write_bytes(bytes(data))
    r = run("info", bad)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "model.onnx  " in r.stdout and "DOES NOT MATCH export.json" in r.stdout
    (line,) = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert f"export '{bad}': model.onnx does not match its sha256" in line and "python -m export onnx --encoder" in line


@pytest.mark.parametrize(
    "kind, said",
    [
        ("empty", "is an empty folder, not a checkpoint"),
        ("text", "is a file, not a checkpoint folder"),
        ("engines", "is a folder of TensorRT engines (stage.engine: profile stage, TensorRT 10.3 on H100, built from the export"),
        ("sd", "is a diffusers model folder (a diffusion model: give it to --diffusion), not a checkpoint"),
    ],
)
def test_info_on_what_it_cannot_read_is_one_line(folders, kind, said):
    line = refused(run("info", folders[kind]))
    assert line.startswith(f"error: {folders[kind]} {said}") and "`training info` reads encoder checkpoints" in line


def test_info_on_an_engine_file_names_it(folders):
    line = refused(run("info", folders["engines"] / "stage.engine"))
    assert "is a TensorRT engine (profile stage" in line and str(folders["export"]) in line


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return write_manifest(tmp_path_factory.mktemp("sounds") / "sounds.csv")


@pytest.mark.parametrize(
    "kind, said",
    [
        ("export", "is an ONNX export (export.json, written by `python -m export onnx`), not a checkpoint"),
        ("engines", "is a folder of TensorRT engines (written by `python -m export trt`), not a checkpoint"),
        ("sd", "is a diffusers model folder (a diffusion model: give it to --diffusion), not a checkpoint"),
        ("empty", "is an empty folder, not a checkpoint"),
        ("text", "is a file, not a checkpoint folder"),
    ],
)
def test_init_from_names_what_it_was_given(folders, manifest, tmp_path, kind, said):
    """`fit --init-from EXPORT` said "copy the whole model folder"."""
    line = refused(run("fit", "--init-from", folders[kind], "--manifest", manifest, "--output", tmp_path / "run"))
    assert line.startswith(f"error: --init-from {folders[kind]} {said}"), line
    assert "--init-from takes an encoder checkpoint: a folder from `python -m training fit`" in line
    assert "copy the whole model folder" not in line and not (tmp_path / "run").exists()
    if kind == "export":  # the checkpoint it came from, which would work
        assert line.endswith(f"this export was made from {folders['ckpt'].resolve()}: --init-from {folders['ckpt'].resolve()}")


def test_an_unknown_backbone_is_named_with_the_valid_ones(folders, manifest, tmp_path):
    """`fit --weights tiny --backbone nosuch` advised `--weights tiny`, which was given."""
    valid = "not one of w2v-bert-2.0, wav2vec2, hubert, wavlm"
    line = refused(run("fit", "--weights", "tiny", "--backbone", "nosuch", "--manifest", manifest, "--output", tmp_path / "a"))
    assert line.startswith(f"error: --backbone nosuch: {valid} (no local folder") and "--weights tiny" not in line
    line = refused(run("fit", "--weights", "tiny", "--backbone", folders["text"], "--manifest", manifest, "--output", tmp_path / "a"))
    assert line.startswith(f"error: --backbone {folders['text']}: {valid} (a file, not a folder)")
    line = refused(run("fit", "--weights", "tiny", "--backbone", folders["export"], "--manifest", manifest, "--output", tmp_path / "a"))
    assert line.startswith(f"error: --backbone {folders['export']} is an ONNX export")
    line = refused(run("fit", "--weights", "tiny", "--backbone", folders["empty"], "--manifest", manifest, "--output", tmp_path / "a"))
    assert line.startswith(f"error: --backbone {folders['empty']} is an empty folder, not a backbone checkpoint")
    hub = ["--text-encoder", "tiny", "--backbone", "nobody/no-such-backbone"]  # pretrained weights: the hub's advice, and a smoke run that works
    line = refused(run("fit", *hub, "--manifest", manifest, "--output", tmp_path / "a"))
    assert f"--backbone nobody/no-such-backbone: {valid} (no local folder, not in the Hugging Face cache" in line
    assert "`hf download nobody/no-such-backbone`" in line and line.endswith("or use --weights tiny without --backbone for a smoke run")
    assert not (tmp_path / "a").exists()


def test_init_writes_no_progress_bars(tmp_path):
    """save_pretrained's "Writing model shards" bar used to print on every `training init`."""
    r = run("init", "-o", tmp_path / "ckpt")
    assert r.returncode == 0 and (tmp_path / "ckpt" / "model.safetensors").exists(), r.stderr
    assert not any(mark in r.stderr for mark in BAR) and "Writing model shards" not in r.stderr, r.stderr
    r = run("info", tmp_path / "ckpt")  # loading it: no "Loading weights" bar either
    assert r.returncode == 0 and not any(mark in r.stderr for mark in BAR), r.stderr


def test_init_onto_what_exists_names_the_flag(folders):
    line = refused(run("init", "-o", folders["text"]))
    assert line == f"error: -o {folders['text']} already exists (a file): give a new folder for the checkpoint"
    assert folders["text"].read_text() == "not a model\n"
