"""An image-space encoder (`fit --target clip-image`: waveform in, CLIP image embedding out) through
`python -m export onnx` and `verify`, run in real ONNX Runtime on real music, and refused when corrupt.

The checkpoint is the tiny own-format encoder with one output token, written with save_pretrained
and read back (what fit writes for --clip tiny --weights tiny, untrained: export does not care
whether the weights learnt anything).
"""

import json

import numpy as np
import pytest

from export.__main__ import main
from export.verify import compare
from live.models.encoder import load_encoder, write_encoder_checkpoint


@pytest.fixture(scope="module")
def clip_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip_image")
    ckpt = write_encoder_checkpoint("clip-image", root / "ckpt")
    assert main(["onnx", "--encoder", str(ckpt), "-o", str(root / "onnx")]) == 0
    return ckpt, root / "onnx"


def test_export_json_declares_the_image_space(clip_export):
    ckpt, folder = clip_export
    info = json.loads((folder / "export.json").read_text())
    assert (info["target"], info["clip"], info["tokens"], info["width"], info["prepend_bos"]) == ("clip-image", "tiny", 1, 32, False)
    assert info["source"] == str(ckpt.resolve()) and len(info["weights_sha256"]) == 64


def test_onnx_image_embedding_matches_torch(clip_export, music_16k):
    ckpt, folder = clip_export
    torch_enc = load_encoder(str(ckpt))
    onnx_enc = load_encoder(str(folder), backend="onnx", threads=1)
    assert onnx_enc.meta == torch_enc.meta and onnx_enc.meta.target == "clip-image" and onnx_enc.meta.clip == "tiny"
    for batch, samples in [(1, 16_000), (3, 32_000), (2, 60_160)]:
        waves = np.stack([music_16k[i * 9_000 : i * 9_000 + samples] for i in range(batch)])
        a, b = torch_enc.encode(waves), onnx_enc.encode(waves)
        assert a.shape == b.shape == (batch, 1, 32)  # one image embedding per window
        max_abs, min_cos = compare(a, b)
        assert min_cos > 0.9999 and max_abs < 0.05, (batch, samples, max_abs, min_cos)
    other = onnx_enc.encode(music_16k[None, 40_000:72_000])
    assert compare(onnx_enc.encode(music_16k[None, :32_000]), other)[1] < 0.9999  # another window, another embedding


def test_verify_passes_and_names_the_space(clip_export, capsys):
    assert main(["verify", str(clip_export[1])]) == 0
    out = capsys.readouterr().out
    assert "CLIP tiny's image space" in out and "ok: min cosine" in out


def test_corrupt_image_export_is_one_line(clip_export, tmp_path, capsys):
    import shutil

    from tests.export.test_onnx import flip_middle_bytes

    corrupt = shutil.copytree(clip_export[1], tmp_path / "corrupt")
    flip_middle_bytes(corrupt / "model.onnx")
    assert main(["verify", str(corrupt)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.onnx does not match its sha256 in export.json" in err[0] and "Traceback" not in err[0]
