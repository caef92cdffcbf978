"""One encode() over torch and ONNX Runtime: load_encoder's backends, auto, and start-up refusals."""

import numpy as np
import pytest
import torch

from export.onnx import export_onnx
from export.verify import compare
from live.audio.decode import open_segment, stream
from live.core.errors import PhospheneError
from live.models.encoder import TorchEncoder, check_width, load_encoder, write_encoder_checkpoint
from live.models.runtimes import OnnxEncoder, default_threads


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("backends")
    ckpt = write_encoder_checkpoint("audio2img", root / "ckpt")
    return {"ckpt": ckpt, "export": export_onnx(str(ckpt), root / "ckpt" / "onnx")}  # the HF-style onnx/ subfolder


@pytest.fixture(scope="module")
def windows(house_music) -> np.ndarray:
    music = np.concatenate(list(stream(open_segment(house_music), sr=16_000, channels=1)))[:, 0]
    return np.stack([music[i * 16_000 : i * 16_000 + 32_000] for i in range(3)])  # (3, 2 s)


def test_backends_agree_on_music(folders, windows):
    t = load_encoder(str(folders["ckpt"]), backend="torch")
    o = load_encoder(str(folders["export"]), backend="onnx")
    assert isinstance(t, TorchEncoder) and isinstance(o, OnnxEncoder)
    assert o.providers == ["CPUExecutionProvider"] and o.session.get_session_options().intra_op_num_threads == default_threads()
    assert 1 <= default_threads() <= 4
    max_abs, min_cos = compare(t.encode(windows), o.encode(windows))
    assert min_cos > 0.9999 and max_abs < 0.05
    # torch on an export folder runs the checkpoint it came from
    assert torch.equal(load_encoder(str(folders["export"]), backend="torch").encode(windows), t.encode(windows))


def test_auto_picks_onnx_only_where_an_export_exists(folders):
    assert load_encoder(str(folders["ckpt"]), backend="auto").backend == "onnx"  # finds ckpt/onnx/
    assert load_encoder(str(folders["export"]), backend="auto").backend == "onnx"
    assert load_encoder("tiny", backend="auto").backend == "torch"
    assert load_encoder(str(folders["export"]), backend="onnx", threads=1).session.get_session_options().intra_op_num_threads == 1


def test_refusals_at_start_up(folders):
    with pytest.raises(PhospheneError, match="has no ONNX export.*python -m export onnx --encoder tiny"):
        load_encoder("tiny", backend="onnx")
    with pytest.raises(PhospheneError, match="choose one of torch, onnx, tensorrt, auto"):
        load_encoder("tiny", backend="openvino")
    onnx_enc = load_encoder(str(folders["export"]), backend="onnx")
    with pytest.raises(PhospheneError, match="gives 32-wide tokens.*takes 1024"):
        check_width(onnx_enc, "stabilityai/sd-turbo", 1024)


def test_an_export_folder_runs_the_export_by_default(folders, caplog):
    """`--encoder EXPORT_DIR` with no backend used to load the export's source checkpoint with torch."""
    with caplog.at_level("INFO", logger="phosphene"):
        encoder = load_encoder(str(folders["export"]))
    assert isinstance(encoder, OnnxEncoder) and "ONNX Runtime on" in caplog.text and "model.onnx" in caplog.text
    assert isinstance(load_encoder(str(folders["ckpt"])), TorchEncoder)  # a checkpoint still runs in torch
