"""The house rules of ../shared/ARCHITECTURE.md, checked with the tools made for them: import-linter
on the real tree (and on a copy with a deliberately bad import, which must fail), the torch-free
modules imported in a fresh interpreter, and `__init__.py` files that map their part and re-export
nothing."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
PARTS = ("core", "audio", "analysis", "models", "draw", "control", "app", "lab")


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def copy_tree(dest: Path) -> Path:
    """The three packages' Python files and the contracts, nothing else (no data, no caches)."""
    for package in ("live", "export", "training"):
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "*.npz", "*.toml"))
    shutil.copy(ROOT / ".importlinter", dest)
    return dest


def test_the_tree_keeps_every_contract():
    r = lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


@pytest.mark.parametrize(
    "module, bad_import, contract",
    [
        ("live/core/defaults.py", "import numpy", "live.core is the standard library only"),
        ("live/audio/decode.py", "import torch", "live.audio: numpy, soxr, av and sounddevice"),
        ("live/analysis/features.py", "from live.audio import decode", "each part imports only the parts below it"),
        ("live/draw/gl.py", "from live.models import encoder", "never import each other"),
        ("live/models/encoder.py", "from training import fit", "never imports the trainer or the export tools"),
        ("live/draw/video.py", "from live.analysis import beats", "of the analysis only the Drive record"),
    ],
)
def test_a_bad_import_breaks_its_contract(tmp_path, module, bad_import, contract):
    root = copy_tree(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n\ndef _bad():\n    {bad_import}\n")  # inside a function: still caught
    r = lint(root)
    assert r.returncode != 0
    broken = r.stdout.split("Broken contracts", 1)[-1]
    assert contract in " ".join(broken.split()), r.stdout


@pytest.mark.parametrize(
    "module, bad_import, package",
    [
        ("live/analysis/bars.py", "from live.analysis.clock import Analyzer", "live.analysis"),  # the circle bar_times made
        ("live/lab/midi_corpus.py", "from live.lab import bar_eval", "live.lab"),  # the one the corpus helpers made
        ("live/core/errors.py", "from live.app import stats", "live"),  # between parts
        ("training/baseline.py", "from training import eval", "training"),
        ("export/onnx.py", "from export import verify", "export"),
    ],
)
def test_an_import_circle_breaks_the_acyclic_contract(tmp_path, module, bad_import, package):
    """No circle between two files (nor two parts) anywhere: ARCHITECTURE.md "Inside a part"."""
    root = copy_tree(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n\ndef _bad():\n    {bad_import}\n")  # hidden in a function: still a circle
    assert package not in circles(lint(copy_tree(tmp_path / "clean")).stdout)
    r = lint(root)
    assert r.returncode != 0
    assert package in circles(r.stdout), r.stdout


def circles(lint_stdout: str) -> set[str]:
    """The packages whose children import each other in a circle, as the acyclic contract names them."""
    lines = [line.strip() for line in lint_stdout.splitlines()]
    return {line.removeprefix("No cycles are allowed in ").removesuffix(".") for line in lines if line.startswith("No cycles are allowed in ")}


@pytest.mark.parametrize(
    "module", ["live.models.loading", "live.models.settings", "live.app.settings", "live.draw.shaders", "live.analysis.clock"]
)
def test_light_modules_import_no_torch(module):
    code = f"import sys, {module}; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:3]"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("part", ["", *PARTS])
def test_init_files_map_their_part_and_export_nothing(part):
    init = ROOT / "live" / part / "__init__.py"
    tree = ast.parse(init.read_text())
    body = tree.body
    if part:
        assert ast.get_docstring(tree), f"{init}: say what the part holds"
    assert all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body), f"{init}: no code, no re-exports"


def test_nothing_is_left_flat_in_live():
    flat = sorted(p.name for p in (ROOT / "live").iterdir() if p.is_file() and p.name not in ("__init__.py", "__main__.py"))
    assert flat == [], flat
    assert sorted(p.name for p in (ROOT / "live").iterdir() if p.is_dir() and not p.name.startswith("__")) == sorted(PARTS)
