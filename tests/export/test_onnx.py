"""Real exports of tiny encoders (both formats) run in real ONNX Runtime on real music."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from export.__main__ import main
from export.onnx import export_onnx
from export.verify import compare, verify
from live.core.errors import PhospheneError
from live.models.encoder import load_encoder
from live.models.hashing import file_sha256


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
    assert "already an ONNX export" in capsys.readouterr().err
    assert main(["onnx", "--encoder", "tiny", "-o", str(exports["own_onnx"])]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["verify", str(tmp_path)]) == 2
    assert "no export.json" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary folders left behind


def test_help_is_fast_and_imports_no_torch():
    code = "import sys; from export.__main__ import build_parser; build_parser().format_help(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
