"""`--models random`: every full-size architecture built from live/models/configs with random weights,
offline. The parameter counts are the published models' (a wrong config value changes them), and the
real live loop runs a few frames of the full set with the hub unreachable: HF_HUB_OFFLINE is not set,
so anything that tried the hub would try a socket, and a guard in every process of the run (a
sitecustomize on PYTHONPATH) refuses and records each Internet socket.

Cost on a 2-core machine: the sizes ~5 s (meta device); the bench 60-100 s (the full set is ~7.7 GB
of fp32 weights, built once, at 64 px for a few frames)."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from live.core.defaults import FULL_VAE, RANDOM, RANDOM_OWN
from live.models import random_weights
from live.models.diffusion import random_diffusion
from live.models.encoder import random_encoder

ROOT = Path(__file__).resolve().parents[3]

GUARD = """
import os, socket
_connect = socket.socket.connect
def _refuse(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        with open(os.environ["PHOSPHENE_SOCKET_LOG"], "a") as f:
            f.write(f"{os.getpid()} {address!r}\\n")
        raise OSError("network refused by the test")
    return _connect(self, address)
socket.socket.connect = _refuse
"""


def millions(module) -> float:
    return round(sum(p.numel() for p in module.parameters()) / 1e6, 1)


@pytest.fixture
def no_network(monkeypatch):
    tried = []

    def refuse(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            tried.append(address)
            raise OSError("network refused by the test")
        return connect(self, address)

    connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield tried


def on_meta(make, device="cpu"):
    """random_weights.build without the memory: the modules as the configs make them, no values."""
    with torch.device("meta"):
        return make()


def test_every_architecture_builds_offline_in_its_published_size(no_network, monkeypatch):
    """All six from the configs, on the meta device (the counts need no memory); the live bench below
    runs the UNet, text encoder, TAESD and the audio2img encoder for real."""
    monkeypatch.setattr(random_weights, "build", on_meta)
    parts = random_diffusion(FULL_VAE)
    assert (millions(parts.unet), millions(parts.text_encoder), millions(parts.vae)) == (865.9, 340.4, 83.7)
    assert (parts.width, parts.vae_scale_factor, parts.unet.config.sample_size) == (1024, 8, 64)
    assert millions(random_weights.random_vae(RANDOM)) == 2.4
    assert parts.scheduler.config.timestep_spacing == "trailing" and parts.tokenizer.model_max_length == 77
    model, fe, meta, min_frames = random_encoder(RANDOM)
    assert millions(model) == 630.9 and (meta.tokens, meta.width, meta.prepend_bos, min_frames) == (47, 1024, True, 375)
    model, fe, meta, min_frames = random_encoder(RANDOM_OWN)
    assert millions(model) == 665.6 and (meta.tokens, meta.width, min_frames) == (77, 1024, 0)
    assert fe.sampling_rate == 16_000 and fe.stride == 2 and fe.padding_value == 0.0
    assert no_network == []


def test_the_vaes_run_on_random_values(no_network):
    """The parts the live bench does not run: the full VAE (8x up) and TAESD's encoder, finite outputs."""
    full = random_weights.random_vae(FULL_VAE)
    assert full.config.scaling_factor == 0.18215
    with torch.inference_mode():
        image = full.decode(torch.randn(1, 4, 8, 8)).sample
        latents = random_weights.random_vae(RANDOM).encode(torch.zeros(1, 3, 64, 64)).latents
    assert image.shape == (1, 3, 64, 64) and torch.isfinite(image).all()
    assert latents.shape == (1, 4, 8, 8) and torch.isfinite(latents).all()
    assert no_network == []


def test_bench_live_random_weights_runs_the_full_set_with_no_network(tmp_path):
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "sockets.log"
    log.touch()
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(PYTHONPATH=os.pathsep.join([str(guard), str(ROOT)]), PHOSPHENE_SOCKET_LOG=str(log), SDL_VIDEODRIVER="dummy")
    cmd = [sys.executable, "-m", "live", "bench", "live", "--random-weights", "--minutes", "0.2", "--size", "64", "--compute", "cpu"]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stdout + r.stderr
    assert log.read_text() == "", log.read_text()  # no process of the run tried the network
    # what was built: sd-turbo's UNet and text encoder, TAESD, w2v-bert-2.0 with audio2img's adapter
    assert "UNet 865.9 M, text encoder 340.4 M, TAESD (AutoencoderTiny) 2.4 M parameters" in r.stderr
    assert "w2v-bert-2.0 + audio2img adapter, 630.9 M parameters" in r.stderr
    assert "its pictures mean nothing" in r.stderr
    generated = re.search(r"generated frames / fps\s+(\d+) / ", r.stdout)
    assert generated and int(generated[1]) >= 1, r.stdout
    for stage in ("encoder ms per call", "UNet ms", "VAE encode ms", "VAE decode ms", "shaders (warp + structure, post) ms", "present ms"):
        value = re.search(rf"{re.escape(stage)}\s+([\d.]+)", r.stdout)
        assert value and float(value[1]) > 0, f"{stage}: {r.stdout}"
    assert re.search(r"latency p50/p95/p99 ms\s+\d+ / \d+ / \d+", r.stdout)
    assert re.search(r"peak memory\s+\d+ MiB RSS", r.stdout) and "size=64" in r.stdout and "--models random" in r.stdout


def test_random_sd15_is_sd15s_published_shape_with_ip_adapter_sd15_on_it(no_network, monkeypatch):
    """`--models random --condition image`: SD 1.5's UNet (configs/sd15-unet.json) and text encoder, LCMScheduler
    from SD 1.5's scheduler config, and ip-adapter_sd15's shape on that UNet (768-wide cross-attention, 1024-wide
    image embeddings). The LCM-LoRA's shape (configs/lcm-lora-sdv1-5.json) on it counts 67.3 M (its card: 67.5 M)."""
    from diffusers import LCMScheduler, UNet2DConditionModel
    from peft import LoraConfig

    from live.models.diffusion import random_sd15_diffusion
    from live.models.families import SD15_LCM
    from live.models.image_prompt import random_adapter_state_dict

    monkeypatch.setattr(random_weights, "build", on_meta)
    parts = random_sd15_diffusion()
    assert (millions(parts.unet), millions(parts.text_encoder)) == (859.5, 123.1)
    assert parts.width == 768 and not parts.unet.config.use_linear_projection and parts.family == SD15_LCM
    assert isinstance(parts.scheduler, LCMScheduler)
    parts.scheduler.set_timesteps(SD15_LCM.steps)
    assert parts.scheduler.timesteps.tolist() == [999, 759, 499, 259]
    with torch.device("meta"):
        unet = UNet2DConditionModel(**random_weights.config("sd15-unet"))
        lora = random_weights.config("lcm-lora-sdv1-5")
        unet.add_adapter(LoraConfig(r=lora["r"], lora_alpha=lora["lora_alpha"], target_modules=lora["target_modules"]))
        assert round(sum(p.numel() for n, p in unet.named_parameters() if "lora" in n) / 1e6, 1) == 67.3
    small = UNet2DConditionModel(**{**random_weights.config("sd15-unet"), "block_out_channels": [32, 32, 32, 32], "norm_num_groups": 8})
    state = random_adapter_state_dict(small, 1024)  # the adapter's layout for SD 1.5's block pattern (cross-attention 768)
    assert state["image_proj"]["proj.weight"].shape == (4 * 768, 1024)
    assert len(state["ip_adapter"]) == 2 * 16 and state["ip_adapter"]["1.to_k_ip.weight"].shape == (32, 768)  # 16 cross-attentions, as ip-adapter_sd15
    assert no_network == []
