"""The three command lines (`python -m live`, `export`, `training`) and the `phosphene` command as a
user meets them: every subcommand's --help answers without importing torch or the other heavy
libraries, the help says each default and what each number takes, and every numeric flag refuses
NaN, infinity and out-of-range values in one line naming what was typed."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "diffusers", "onnxruntime", "tensorrt", "moderngl", "pygame", "accelerate")

# In one child: every subcommand of every CLI (walked from the parsers themselves, so a new command
# is covered by itself) answers --help with exit 0; then which heavy modules got imported.
WALK = """
import contextlib, io, json, sys
from live.__main__ import build_parser as live_parser, main as live_main
from export.__main__ import build_parser as export_parser, main as export_main
from training.__main__ import build_parser as training_parser, main as training_main

def paths(parser, prefix=()):
    yield prefix
    if parser._subparsers is not None:
        for name, sub in parser._subparsers._group_actions[0].choices.items():
            if sub.add_help:  # `export` and `train` hand their words on: walked as their own CLIs
                yield from paths(sub, (*prefix, name))

answered = []
for main, parser, name in ((live_main, live_parser(), "live"), (export_main, export_parser(), "export"),
                           (training_main, training_parser(), "training")):
    for path in [*paths(parser), *((["export", "onnx"], ["train", "fit"]) if name == "live" else ())]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                main([*path, "--help"])
                code = None
            except SystemExit as e:
                code = e.code
        assert code == 0 and "usage:" in out.getvalue(), (name, path, code)
        answered.append(" ".join([name, *path]))
print(json.dumps({"answered": answered, "heavy": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)}))
"""


def test_every_subcommands_help_answers_without_torch():
    code = f"HEAVY = {HEAVY!r}\n" + WALK
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout.strip().splitlines()[-1])
    assert found["heavy"] == [], found["heavy"]
    answered = set(found["answered"])
    for command in ("live render", "live run", "live tune", "live scenes", "live bench render", "live bench control", "live train-beats",
                    "live export onnx", "live train fit", "export bench", "training eval"):  # fmt: skip
        assert command in answered, sorted(answered)
    assert len(answered) > 30


def cli(*args, cwd=ROOT, module="live", timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", module, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def test_help_shows_defaults_and_what_numbers_take():
    render = cli("render", "--help").stdout
    assert "(default: diffusion)" in render  # --engine
    assert "(seconds >= 0; default: 0.05)" in render  # --attack
    run = " ".join(cli("run", "--help").stdout.split())
    assert "stop after S seconds (seconds > 0; default: until Q, Ctrl-C or SIGTERM)" in run  # --duration
    assert "(default: the profile's engine" in run
    bench = " ".join(cli("bench", "--help", module="export").stdout.split())
    assert "tiny (default: full,tiny)" in bench  # export bench --models


def test_help_names_the_export_and_training_commands():
    top = " ".join(cli("--help").stdout.split())
    assert "export" in top and "python -m export" in top and "train" in top and "python -m training" in top
    r = cli("export", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: python -m live export") and "verify" in r.stdout
    r = cli("train", "eval", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: python -m live train eval")


def test_eval_help_states_the_window_its_default_takes():
    """`training eval --help` said "the first window of each clip" while --window-at defaulted to active."""
    from training.__main__ import WINDOW_AT, WINDOW_AT_DEFAULT, build_parser

    (ev,) = [p for name, p in build_parser()._subparsers._group_actions[0].choices.items() if name == "eval"]
    assert ev.get_default("window_at") == WINDOW_AT_DEFAULT == "active"
    text = " ".join(cli("eval", "--help", module="training").stdout.split())
    assert f"by default {WINDOW_AT[WINDOW_AT_DEFAULT]}" in text and "(default: active)" in text
    assert "the first window of each clip" not in text


def test_run_help_lists_every_key_of_the_window():
    """The key list of `run --help` comes from the table the window binds (live/draw/keys.py)."""
    from live.draw.keys import KEYS

    text = " ".join(cli("run", "--help").stdout.split())
    for _, label, _, what, _ in KEYS:
        assert f"{label} {' '.join(what.split())}" in text, label
    labels = {label for _, label, _, _, _ in KEYS}
    assert {"D", "L", ". ,", "T", "N/P", "Q/Esc"} <= labels


def test_the_window_binds_the_tables_keys():
    """Every key the table lists fires its action in a real pygame window (SDL's dummy driver)."""
    code = """
import pygame as pg
from live.draw.display import Display
from live.draw.keys import KEYS, WINDOW_ACTIONS
d = Display(windowed=True, size=64, headless=True)
d.open()
fired = []
for names, _, actions, _, _ in KEYS:
    for name, action in zip(names, actions):
        if action in WINDOW_ACTIONS:
            continue
        d.actions.clear()
        pg.event.post(pg.event.Event(pg.KEYDOWN, key=getattr(pg, "K_" + name)))
        d.handle_events()
        fired.append((name, d.actions == [action]))
pg.event.post(pg.event.Event(pg.KEYDOWN, key=pg.K_d))
pg.event.post(pg.event.Event(pg.KEYDOWN, key=pg.K_b))
d.actions.clear()
d.handle_events()
print(all(ok for _, ok in fired), len(fired), d.actions, d.blackout)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "17", "['downbeat']", "True"], r.stdout


@pytest.mark.skipif(shutil.which("phosphene", path=str(Path(sys.executable).parent)) is None, reason="not installed: pip install -e .")
def test_phosphene_runs_from_any_folder(tmp_path):
    """`pip install -e .` gives a `phosphene` command, and the three `python -m` forms, that work outside the checkout."""
    phosphene = shutil.which("phosphene", path=str(Path(sys.executable).parent))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = dict(capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    top = subprocess.run([phosphene, "--help"], **run)
    assert top.returncode == 0 and top.stdout.startswith("usage: phosphene") and "export" in top.stdout and "train" in top.stdout
    for module in ("live", "export", "training"):
        r = subprocess.run([sys.executable, "-m", module, "--help"], **run)
        assert r.returncode == 0 and "usage: python -m" in r.stdout, (module, r.stderr)
    scenes = subprocess.run([phosphene, "scenes"], **run)
    assert scenes.returncode == 0 and "classic" in scenes.stdout and "tunnel" in scenes.stdout, scenes.stderr  # scenes/ found
    out = tmp_path / "clip.mp4"
    demo = ROOT / "demo" / "phosphene-demo.mp3"
    r = subprocess.run([phosphene, "render", demo, "-o", out, "--engine", "shader", "--size", "64", "--fps", "12", "--duration", "1", "-q"], **run)
    assert r.returncode == 0 and out.stat().st_size > 1000, r.stderr  # shaders/ found from another folder
    r = subprocess.run([phosphene, "export", "shapes", "--encoder", "nosuch/thing"], **{**run, "env": {**env, "HF_HUB_OFFLINE": "1"}})
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "--encoder tiny" in r.stderr
