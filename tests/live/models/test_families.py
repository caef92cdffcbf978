"""The few-step families (live/models/families.py): SD 1.5 + a few-step LoRA beside sd-turbo, told
apart by a folder's own configs; the tiny SD 1.5 set written as a real folder (a seeded LoRA made
with PEFT, in diffusers' file layout) and read back through the real loader; --lora and --ip-adapter
files, and their refusals in one line."""

import json
import shutil

import numpy as np
import pytest
import torch

from live.__main__ import main
from live.core.errors import PhospheneError
from live.models import random_weights
from live.models.families import SD15_LCM, SD15_TCD, SD_TURBO, family_for, family_of
from tests.live.app.test_render import SMALL, decoded_frames

FAST = ["--models", "tiny-sd15", *SMALL, "--duration", "1", "--no-shaders", "--compute", "cpu"]


@pytest.fixture(scope="module")
def sd15_folder(tmp_path_factory):
    from live.models.diffusion import save_tiny_sd15

    return save_tiny_sd15(tmp_path_factory.mktemp("sd15") / "tiny-sd15")


@pytest.fixture(scope="module")
def image_encoder(tmp_path_factory):
    from live.models.encoder import write_encoder_checkpoint

    return write_encoder_checkpoint("clip-image", tmp_path_factory.mktemp("clip_image") / "enc")


def test_the_family_is_read_from_the_configs(tmp_path):
    turbo, sd15 = random_weights.config("sd-turbo-unet"), random_weights.config("sd15-unet")
    pndm = json.loads((random_weights.CONFIG_DIR / "sd15-scheduler.json").read_text())
    lora = tmp_path / "lora.safetensors"
    assert family_of(turbo, {"_class_name": "EulerDiscreteScheduler"}, None) == SD_TURBO
    assert family_of(sd15, pndm, lora) == SD15_LCM and SD15_LCM.steps == 4 and SD15_LCM.guidance == 1.0
    assert family_of(sd15, {"_class_name": "TCDScheduler"}, lora) == SD15_TCD
    with pytest.raises(PhospheneError, match="SD 1.5 .* not few-step on its own: give --lora FILE"):
        family_of(sd15, pndm, None, name="sd15")
    with pytest.raises(PhospheneError, match="already few-step: --lora"):
        family_of(turbo, {}, lora, name="turbo")
    with pytest.raises(PhospheneError, match="SDXL-class"):
        family_of({**sd15, "cross_attention_dim": 2048, "addition_embed_type": "text_time"}, {}, None)
    assert family_for("tiny").steps == 2 and family_for("tiny-sd15").steps == 4 and family_for("random-sd15") == SD15_LCM


def test_tiny_sd15_loads_through_the_real_loader_and_the_lora_changes_the_unet(sd15_folder):
    from diffusers import LCMScheduler, UNet2DConditionModel

    from live.models.diffusion import load_diffusion

    assert (sd15_folder / "lora" / "pytorch_lora_weights.safetensors").is_file()
    assert json.loads((sd15_folder / "scheduler" / "scheduler_config.json").read_text())["_class_name"] == "PNDMScheduler"  # as SD 1.5 ships
    assert family_for(str(sd15_folder)) == SD15_LCM
    parts = load_diffusion(str(sd15_folder), "full")
    assert parts.family == SD15_LCM and isinstance(parts.scheduler, LCMScheduler)
    assert not parts.unet.config.use_linear_projection
    assert not any("lora" in name for name, _ in parts.unet.named_parameters())  # fused, the LoRA layers gone
    plain = UNet2DConditionModel.from_pretrained(sd15_folder / "unet").eval()  # the same UNet without the LoRA
    g = torch.Generator().manual_seed(0)
    x, text = torch.randn(1, 4, 8, 8, generator=g), torch.randn(1, 77, 32, generator=g)
    with torch.no_grad():
        fused, base = parts.unet(x, 499, encoder_hidden_states=text).sample, plain(x, 499, encoder_hidden_states=text).sample
    change = (fused - base).abs().mean() / base.abs().mean()
    assert change > 0.05, float(change)  # the LoRA moves the UNet's output
    again = load_diffusion(str(sd15_folder), "full")  # the same file, the same weights
    with torch.no_grad():
        assert torch.equal(again.unet(x, 499, encoder_hidden_states=text).sample, fused)


def test_an_sd15_folder_without_a_lora_or_with_a_bad_one_is_one_line(sd15_folder, tmp_path, house_music, capsys):
    bare = tmp_path / "bare"
    shutil.copytree(sd15_folder, bare, ignore=shutil.ignore_patterns("lora"))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    out = tmp_path / "o.mp4"
    base = ["render", str(house_music), "-o", str(out), *SMALL, "--duration", "1", "--no-shaders", "--compute", "cpu", "--models", "tiny"]
    cases = [
        (["--diffusion", str(bare)], "is not few-step on its own: give --lora FILE"),
        (["--diffusion", str(bare), "--lora", str(tmp_path / "none.safetensors")], "no such file"),
        (["--diffusion", str(bare), "--lora", str(bad)], f"LoRA {bad} could not be loaded"),
        (["--diffusion", str(bare), "--lora", str(tmp_path / "x.bin")], "no such file"),
    ]
    for extra, expected in cases:
        rc = main([*base, *extra, "--fallback", "none"])
        err = [line for line in capsys.readouterr().err.strip().splitlines() if "seeded random weights" not in line]
        assert rc == 2 and len(err) == 1 and expected in err[0] and "Traceback" not in err[0], (extra, err)
        assert not out.exists()


def test_render_tiny_sd15_condition_image_follows_the_embedding(image_encoder, house_music, other_music, tmp_path):
    args = [*FAST, "--encoder", str(image_encoder), "--condition", "image"]
    for name, music in [("a", house_music), ("b", house_music), ("c", other_music)]:
        assert main(["render", str(music), "-o", str(tmp_path / f"{name}.mp4"), *args, "--stats-json", str(tmp_path / f"{name}.json")]) == 0
    a, b, c = (decoded_frames(tmp_path / f"{n}.mp4").astype(int) for n in "abc")
    assert a.shape == (12, 64, 64, 3)
    assert (a == b).all()  # the same audio: the same frames (LCM's noise between steps is seeded per frame)
    assert np.abs(a - c).mean() > 1.0, np.abs(a - c).mean()  # other music, other image embeddings, other frames
    stats = json.loads((tmp_path / "a.json").read_text())
    assert stats["frames"] == 12 and stats["engine"] == "diffusion"


def test_two_image_embeddings_on_sd15_give_two_pictures(sd15_folder):
    from live.models.diffusion import load_diffusion
    from live.models.generator import Img2Img, to_uint8
    from live.models.image_prompt import attach_image_adapter
    from live.models.settings import GeneratorConfig

    parts = load_diffusion("tiny-sd15", "tiny")
    assert attach_image_adapter(parts) == 32
    text = torch.zeros(1, 77, 32)
    a, b = (torch.randn(1, 32, generator=torch.Generator().manual_seed(s)) for s in (1, 2))

    def frame(embeds):
        return to_uint8(Img2Img(parts, GeneratorConfig(size=64, steps=4))(text, image_embeds=embeds)).astype(int)

    fa, fb, fa2 = frame(a), frame(b), frame(a)
    assert (fa == fa2).all()
    assert np.abs(fa - fb).mean() > 2.0, np.abs(fa - fb).mean()


def test_ip_adapter_file_is_loaded_and_bad_ones_are_one_line(image_encoder, house_music, tmp_path, capsys):
    from safetensors.torch import save_file

    from live.models.diffusion import tiny_sd15_unet
    from live.models.image_prompt import random_adapter_state_dict

    state = random_adapter_state_dict(tiny_sd15_unet(), 32, seed=5, gain=6.0)
    flat = {f"{part}.{k}": v.contiguous() for part, weights in state.items() for k, v in weights.items()}  # h94/IP-Adapter's flat layout
    adapter = tmp_path / "ip-adapter.safetensors"
    save_file(flat, str(adapter))
    other = tmp_path / "other.safetensors"
    save_file({k: v * 2 for k, v in flat.items()}, str(other))
    args = [*FAST, "--encoder", str(image_encoder), "--condition", "image"]
    for name, file in (("a", adapter), ("b", other)):
        assert main(["render", str(house_music), "-o", str(tmp_path / f"{name}.mp4"), *args, "--ip-adapter", str(file)]) == 0
    a, b = decoded_frames(tmp_path / "a.mp4").astype(int), decoded_frames(tmp_path / "b.mp4").astype(int)
    assert np.abs(a - b).mean() > 1.0  # the file's weights steer the picture

    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(adapter.read_bytes()[: adapter.stat().st_size // 2])  # truncated
    wrong = tmp_path / "wrong.safetensors"
    save_file({"foo.weight": torch.zeros(2, 2)}, str(wrong))
    out = tmp_path / "o.mp4"
    cases = [
        (tmp_path / "missing.safetensors", "no such file"),
        (corrupt, "cannot be read"),
        (wrong, "not an IP-Adapter file"),
    ]
    for file, expected in cases:
        rc = main(["render", str(house_music), "-o", str(out), *args, "--ip-adapter", str(file), "--fallback", "none"])
        err = [line for line in capsys.readouterr().err.strip().splitlines() if "seeded random weights" not in line]
        assert rc == 2 and len(err) == 1 and expected in err[0] and "Traceback" not in err[0], (file, err)
        assert not out.exists()
