"""Real exports of tiny encoders (both formats) run in real ONNX Runtime on real music."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from export.__main__ import main
from live.models import hashing
from export.onnx import export_onnx
from export.verify import compare, verify
from live.core.errors import PhospheneError
from live.models.encoder import load_encoder
from live.models.hashing import file_sha256

ROOT = Path(__file__).resolve().parents[2]


def flip_middle_bytes(path: Path, n: int = 64) -> None:
    """Same size, different bytes: what a bad copy or a bit rot leaves, and what a size check misses."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + n] = bytes(b ^ 0xFF for b in data[mid : mid + n])
    path.write_bytes(bytes(data))


def test_export_folder_holds_the_graph_and_its_metadata(exports):
    folder = exports["audio2img_onnx"]
    assert sorted(p.name for p in folder.iterdir()) == ["export.json", "model.onnx"]
    info = json.loads((folder / "export.json").read_text())
    assert (info["sample_rate"], info["tokens"], info["width"], info["prepend_bos"], info["opset"]) == (16_000, 47, 32, True, 17)
    assert info["source"] == str(exports["audio2img"].resolve()) and info["source_format"] == "audio2img"
    assert info["files"]["model.onnx"]["sha256"] == file_sha256(folder / "model.onnx")
    assert len(info["weights_sha256"]) == 64 and set(info["versions"]) == {"torch", "transformers", "onnx", "onnxruntime"}
    own = json.loads((exports["own_onnx"] / "export.json").read_text())
    assert (own["tokens"], own["prepend_bos"], own["source_format"], own["min_frames"]) == (77, False, "own", 0)


@pytest.mark.parametrize("kind", ["audio2img", "own"])
def test_onnx_matches_torch_for_batch_and_length(exports, music_16k, kind):
    torch_enc = load_encoder(str(exports[kind]))
    onnx_enc = load_encoder(str(exports[f"{kind}_onnx"]), backend="onnx", threads=1)
    assert onnx_enc.meta == torch_enc.meta and onnx_enc.backend == "onnx"
    for batch, samples in [(1, 16_000), (3, 32_000), (1, 60_160), (3, 80_000)]:
        waves = np.stack([music_16k[i * 7_000 : i * 7_000 + samples] for i in range(batch)])
        a, b = torch_enc.encode(waves), onnx_enc.encode(waves)
        assert a.shape == b.shape and b.dtype == torch.float32
        max_abs, min_cos = compare(a, b)
        assert min_cos > 0.9999 and max_abs < 0.05, (batch, samples, max_abs, min_cos)
    # the 5 s window gives more tokens in audio2img (63 vs 47): the token axis is dynamic too
    assert onnx_enc.encode(music_16k[None, :80_000]).shape[1] == (63 if kind == "audio2img" else 77)


def test_verify_passes_fp32_and_fp16_at_their_thresholds(exports, capsys):
    rows, threshold, _ = verify(exports["own_onnx"])
    assert threshold == 0.9999 and [r.window_s for r in rows] == [1.0, 2.0, 3.76]
    assert min(r.min_cosine for r in rows) > 0.9999
    rows, threshold, info = verify(exports["tiny_fp16"])
    assert info["fp16"] and threshold == 0.999
    assert 0.999 < min(r.min_cosine for r in rows) < 0.9999999  # fp16 really ran: close, not identical
    assert main(["verify", str(exports["audio2img_onnx"])]) == 0
    out = capsys.readouterr().out
    assert "min cos/token" in out and "ok: min cosine" in out


def test_verify_fails_when_the_source_changed(exports, tmp_path):
    ckpt = shutil.copytree(exports["own"], tmp_path / "own")
    folder = export_onnx(str(ckpt), tmp_path / "own_onnx")
    from live.models.audio_prompt import save_encoder
    from live.models.encoder import tiny_own_encoder

    model, fe, meta = tiny_own_encoder()
    with torch.no_grad():
        model.head.queries.mul_(2.0)
    save_encoder(model, fe, meta, ckpt)
    with pytest.raises(PhospheneError, match="has changed since it was exported"):
        verify(folder)


def test_bad_exports_are_refused_at_start_up(exports, tmp_path):
    good = exports["audio2img_onnx"]
    truncated = shutil.copytree(good, tmp_path / "truncated")
    data = (truncated / "model.onnx").read_bytes()
    (truncated / "model.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(PhospheneError, match=r"model.onnx is \d+ bytes but export.json says"):
        load_encoder(str(truncated), backend="onnx")

    corrupt = shutil.copytree(good, tmp_path / "corrupt")  # same size, garbage inside
    (corrupt / "model.onnx").write_bytes(bytes(len(data)))
    with pytest.raises(PhospheneError, match="model.onnx does not match its sha256 in export.json"):
        load_encoder(str(corrupt), backend="onnx")
    info = json.loads((corrupt / "export.json").read_text())
    info["files"]["model.onnx"]["sha256"] = file_sha256(corrupt / "model.onnx")  # a consistent export of garbage
    (corrupt / "export.json").write_text(json.dumps(info))
    with pytest.raises(PhospheneError, match="ONNX Runtime cannot load it"):
        load_encoder(str(corrupt), backend="onnx")

    wrong_rate = shutil.copytree(good, tmp_path / "rate")
    info = json.loads((wrong_rate / "export.json").read_text())
    (wrong_rate / "export.json").write_text(json.dumps({**info, "sample_rate": 44_100}))
    with pytest.raises(PhospheneError, match="expects 44100 Hz audio"):
        load_encoder(str(wrong_rate), backend="onnx")

    wrong_width = shutil.copytree(good, tmp_path / "width")
    (wrong_width / "export.json").write_text(json.dumps({**info, "width": 1024}))
    with pytest.raises(PhospheneError, match="gives width 32 but export.json says 1024"):
        load_encoder(str(wrong_width), backend="onnx")

    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "export.json").write_text("{not json")
    with pytest.raises(PhospheneError, match="unreadable"):
        load_encoder(str(tmp_path / "garbled"), backend="onnx")


def test_cli_errors_are_one_line_and_leave_nothing(exports, tmp_path, capsys):
    assert main(["onnx", "--encoder", str(tmp_path / "nope"), "-o", str(tmp_path / "out")]) == 2
    assert "no such folder" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert main(["onnx", "--encoder", str(exports["own_onnx"]), "-o", str(tmp_path / "out")]) == 2
    assert f"already an ONNX export; give the checkpoint it came from: --encoder {exports['own'].resolve()}" in capsys.readouterr().err
    assert main(["onnx", "--encoder", "tiny", "-o", str(exports["own_onnx"])]) == 2
    assert "the folder exists and is not empty" in capsys.readouterr().err
    assert main(["verify", str(tmp_path)]) == 2
    assert "no export.json" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary folders left behind


def test_help_is_fast_and_imports_no_torch():
    code = "import sys; from export.__main__ import build_parser; build_parser().format_help(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def render_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "live", "render", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_render_refuses_an_export_corrupted_at_the_same_size(exports, house_music, tmp_path):
    """`render` used to compare the sizes only, and rendered black frames with exit 0."""
    corrupt = shutil.copytree(exports["audio2img_onnx"], tmp_path / "corrupt")
    size = (corrupt / "model.onnx").stat().st_size
    flip_middle_bytes(corrupt / "model.onnx")
    assert (corrupt / "model.onnx").stat().st_size == size
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "bad.mp4"
    r = render_cli(house_music, "-o", out, "--encoder", corrupt, "--models", "tiny", "--size", "64", "--fps", "12", "--duration", "1", "-q")
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if corrupt.name in line]
    assert len(lines) == 1, r.stderr
    assert "model.onnx does not match its sha256 in export.json" in lines[0]
    assert f"python -m export onnx --encoder {exports['audio2img'].resolve()} -o" in lines[0]
    assert list((tmp_path / "out").iterdir()) == []  # no output, no partial file

    good = tmp_path / "out" / "good.mp4"
    r = render_cli(house_music, "-o", good, "--encoder", exports["audio2img_onnx"], "--models", "tiny", "--size", "64", "--fps", "12", "--duration", "1", "-q")
    assert r.returncode == 0, r.stderr
    with av.open(str(good)) as c:
        assert c.streams.video[0].frames == 12


def test_an_export_is_hashed_once_per_version_of_its_files(exports, tmp_path, monkeypatch):
    """The start-up check reads the digest from the user's cache the second time (a poisoned cache
    entry is believed: the file was not hashed again); a changed file is hashed again; verify
    always re-hashes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = shutil.copytree(exports["own_onnx"], tmp_path / "own_onnx")
    time.sleep(hashing.RACY_NS / 1e9 + 0.1)  # files younger than this are hashed every time
    hashed = []
    real = hashing.file_sha256
    monkeypatch.setattr(hashing, "file_sha256", lambda path: hashed.append(Path(path).name) or real(path))
    load_encoder(str(folder), backend="onnx")
    load_encoder(str(folder), backend="onnx")
    assert hashed == ["model.onnx"]
    cache_file = tmp_path / "cache" / "phosphene" / hashing.CACHE_FILE
    cache = json.loads(cache_file.read_text())
    stated = json.loads((folder / "export.json").read_text())["files"]["model.onnx"]["sha256"]
    assert cache[str((folder / "model.onnx").resolve())]["sha256"] == stated

    cache[str((folder / "model.onnx").resolve())]["sha256"] = "0" * 64  # same stat, another digest
    cache_file.write_text(json.dumps(cache))
    with pytest.raises(PhospheneError, match="does not match its sha256"):
        load_encoder(str(folder), backend="onnx")
    assert hashed == ["model.onnx"]

    os.utime(folder / "model.onnx", ns=(1, 1))  # the file "changed": hashed again, and right again
    load_encoder(str(folder), backend="onnx")
    assert hashed == ["model.onnx"] * 2
    flip_middle_bytes(folder / "model.onnx")
    with pytest.raises(PhospheneError, match="model.onnx does not match its sha256"):
        load_encoder(str(folder), backend="onnx")
    assert hashed == ["model.onnx"] * 3
    with pytest.raises(PhospheneError, match="model.onnx does not match its sha256"):
        verify(folder)  # re-hashes whatever the cache holds
    assert hashed == ["model.onnx"] * 4


def export_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "export", *map(str, args)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_onnx_to_an_existing_file_says_it_is_a_file(tmp_path):
    """It said "not an empty folder"."""
    (tmp_path / "notes.txt").write_text("mine\n")
    r = export_cli("onnx", "--encoder", "tiny", "-o", tmp_path / "notes.txt")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert line == f"error: -o {tmp_path / 'notes.txt'} is a file: an export is a folder (model.onnx + export.json); give a new folder, e.g. -o {tmp_path / 'notes'}-onnx"
    assert (tmp_path / "notes.txt").read_text() == "mine\n" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    r = export_cli("verify", tmp_path / "notes.txt")
    assert r.returncode == 2 and "verify " + str(tmp_path / "notes.txt") + ": a file, not an export folder" in r.stderr


def test_verify_prints_no_loading_bars(exports):
    """Loading the source checkpoint printed transformers' "Loading weights" bar on stderr."""
    r = export_cli("verify", exports["own_onnx"])
    assert r.returncode == 0 and "ok: min cosine" in r.stdout, r.stderr
    assert "Loading weights" not in r.stderr and "it/s]" not in r.stderr and "%|" not in r.stderr, r.stderr
