"""Real exports of tiny encoders of both formats, written once per session, and real music at 16 kHz."""

import numpy as np
import pytest

from export.onnx import export_onnx
from live.audio.decode import open_segment, stream
from live.models.encoder import write_encoder_checkpoint


@pytest.fixture(scope="session")
def music_16k(house_music) -> np.ndarray:
    """house_lo (real recorded house music), mono float32 at 16 kHz: 7.1 s."""
    return np.concatenate(list(stream(open_segment(house_music), sr=16_000, channels=1)))[:, 0]


@pytest.fixture(scope="session")
def other_16k(other_music) -> np.ndarray:
    return np.concatenate(list(stream(open_segment(other_music), sr=16_000, channels=1)))[:, 0]


@pytest.fixture(scope="session")
def exports(tmp_path_factory) -> dict:
    """{"audio2img", "own"}: checkpoint folders; {"audio2img_onnx", "own_onnx", "tiny_fp16"}: their exports."""
    root = tmp_path_factory.mktemp("exports")
    out = {kind: write_encoder_checkpoint(kind, root / kind) for kind in ("audio2img", "own")}
    for kind in ("audio2img", "own"):
        out[f"{kind}_onnx"] = export_onnx(str(out[kind]), root / f"{kind}_onnx")
    out["tiny_fp16"] = export_onnx("tiny", root / "tiny_fp16", fp16=True)
    return out
