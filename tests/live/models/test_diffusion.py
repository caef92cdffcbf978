"""Loading models from local folders with the real loaders (from_pretrained), and the errors when
they cannot be found or are incomplete. The hub cannot be reached here: HF_HUB_OFFLINE makes the
lookup answer at once instead of after network retries."""

import json
import shutil
import time

import numpy as np
import pytest
import torch

from live.core.errors import ModelNotFound, PhospheneError
from live.models.conditioning import encode_text
from live.models.diffusion import load_diffusion, save_tiny_diffusion, tiny_vae
from live.models.encoder import check_width, load_encoder, write_encoder_checkpoint

WINDOW = np.random.default_rng(0).standard_normal((2, 60160)).astype(np.float32) * 0.1  # 2 x 3.76 s


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "audio2img": write_encoder_checkpoint("audio2img", root / "audio2img"),
        "own": write_encoder_checkpoint("own", root / "own"),
        "diffusion": save_tiny_diffusion(root / "diffusion"),
        "root": root,
    }


def test_audio2img_folder_loads_and_matches_the_model_that_wrote_it(checkpoints):
    loaded = load_encoder(str(checkpoints["audio2img"]))
    assert loaded.meta.prepend_bos and loaded.meta.tokens == 47
    assert type(loaded.model).__name__ == "Wav2Vec2BertModel"
    out = loaded.encode(WINDOW)
    assert out.shape == (2, 47, 32)  # 3.76 s -> 376 fbank frames -> 188 stacked -> 94 -> 47 tokens
    assert torch.allclose(out, load_encoder("tiny").encode(WINDOW), atol=1e-5)


def test_own_folder_loads_with_its_metadata(checkpoints):
    loaded = load_encoder(str(checkpoints["own"]))
    assert not loaded.meta.prepend_bos
    assert (loaded.meta.tokens, loaded.meta.width) == (77, 32)
    out = loaded.encode(WINDOW)
    assert out.shape == (2, 77, 32)
    assert not torch.allclose(out[0], out[1])  # two different windows, two different prompts
    # a 2 s window still gives a whole 77-token prompt: the head's queries fix L
    assert loaded.encode(WINDOW[:, :32000]).shape == (2, 77, 32)


def test_diffusion_folder_loads_with_the_real_loader(checkpoints):
    folder = checkpoints["diffusion"]
    parts = load_diffusion(str(folder), "full")
    tiny = load_diffusion("tiny", "tiny")
    assert type(parts.vae).__name__ == "AutoencoderTiny" and parts.width == 32
    a, b = encode_text(parts, "a cat"), encode_text(tiny, "a cat")
    assert a.shape == (77, 32) and torch.allclose(a, b, atol=1e-6)
    # a separate TAESD folder, as madebyollin/taesd is laid out
    tiny_vae().save_pretrained(checkpoints["root"] / "taesd")
    parts = load_diffusion(str(folder), str(checkpoints["root"] / "taesd"))
    assert type(parts.vae).__name__ == "AutoencoderTiny"


def test_missing_files_are_named(checkpoints, tmp_path):
    enc = shutil.copytree(checkpoints["own"], tmp_path / "enc")
    (enc / "model.safetensors").unlink()
    (enc / "preprocessor_config.json").unlink()
    with pytest.raises(PhospheneError, match="missing model.safetensors, preprocessor_config.json"):
        load_encoder(str(enc))
    diff = shutil.copytree(checkpoints["diffusion"], tmp_path / "diff")
    shutil.rmtree(diff / "tokenizer")
    with pytest.raises(PhospheneError, match=r"missing tokenizer/"):
        load_diffusion(str(diff), "full")


def test_corrupt_weights_and_lying_metadata(checkpoints, tmp_path):
    enc = shutil.copytree(checkpoints["own"], tmp_path / "enc")
    (enc / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(PhospheneError, match="could not be loaded"):
        load_encoder(str(enc))
    enc2 = shutil.copytree(checkpoints["own"], tmp_path / "enc2")
    meta = json.loads((enc2 / "phosphene.json").read_text())
    (enc2 / "phosphene.json").write_text(json.dumps({**meta, "width": 1024}))
    with pytest.raises(PhospheneError, match="says width 1024 but the model gives 32"):
        load_encoder(str(enc2))
    (enc2 / "phosphene.json").write_text(json.dumps({**meta, "sample_rate": 44100}))
    with pytest.raises(PhospheneError, match="expects 44100 Hz"):
        load_encoder(str(enc2))


def test_width_mismatch_is_refused(checkpoints):
    enc = load_encoder(str(checkpoints["own"]))
    with pytest.raises(PhospheneError, match="gives 32-wide tokens.*takes 1024"):
        check_width(enc, "stabilityai/sd-turbo", 1024)


def test_unresolvable_hub_id_says_what_was_tried(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(ModelNotFound) as e:
        load_diffusion("stabilityai/sd-turbo", "madebyollin/taesd")
    assert time.perf_counter() - start < 5
    msg = str(e.value)
    assert "not a local folder" in msg and "cache" in msg and "hf download stabilityai/sd-turbo" in msg and "--models tiny" in msg
    with pytest.raises(PhospheneError, match="no such folder"):
        load_encoder("./no/such/encoder")
