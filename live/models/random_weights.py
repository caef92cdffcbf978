"""`random`: the full-size architectures with random weights, built offline from the configuration
files in live/models/configs/ (see its README), for timing the real pipeline without a download.

    random_unet(), random_scheduler(), random_text_encoder()   # sd-turbo's; name="sd15-unet" / "sd15-text-encoder": SD 1.5's
    random_vae("random" | "full")                               # TAESD, or sd-turbo's AutoencoderKL
    random_audio2img_model()         # w2v-bert-2.0 + audio2img's adapter (the audio2img format)
    random_own_model()               # the same backbone + our token head (the own format)
    random_clip_image_model()        # the same backbone + one image-embedding output (--condition image)

These build modules only; diffusion.py (`random_diffusion`) and encoder.py (`random_encoder`) put
them together into the records the loaders return, so this file imports neither of them.

Timing does not depend on weight values, so these measure what the real models cost; their
pictures mean nothing, and the log says so (RANDOM_NOTICE). No file is read but the configs, and no
socket is opened. On CUDA the weights are made on the GPU, then cast to fp16 by the loaders (that
path is written but has not been measured: no GPU here).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from live.core.defaults import FULL_VAE, RANDOM
from live.models.audio_prompt import AudioPromptConfig, AudioPromptEncoder
from live.models.tiny_text import tiny_tokenizer

CONFIG_DIR = Path(__file__).parent / "configs"


POOL = 1 << 20  # random values generated once and tiled over every tensor: filling 2 G values with fresh ones takes ~20 s


def build(make, device="cpu"):
    """`make()` on the meta device (no memory, no init), then every parameter filled from one seeded
    pool of N(0, 1) values scaled by 1/sqrt(fan_in) (norm weights 1, biases 0), so activations stay
    O(1) through the depth and no denormal or NaN slows a kernel. Seconds instead of ~45 s for the
    full set with the modules' own initialisers; the values are as meaningless either way."""
    with torch.device("meta"):
        module = make()
    module.to_empty(device=device)  # straight onto the GPU where there is one: no host copy of the weights
    pool = torch.randn(POOL, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 1:
                p.fill_(1.0 if name.endswith("weight") and "norm" in name else 0.0)
                continue
            flat, scale = p.view(-1), p[0].numel() ** -0.5
            for start in range(0, flat.numel(), POOL):
                chunk = flat[start : start + POOL]
                torch.mul(pool[: chunk.numel()], scale, out=chunk)
        for name, b in module.named_buffers():
            if not name.endswith("position_ids"):  # the only buffer these architectures have (CLIP's)
                raise RuntimeError(f"random weights: no rule to fill buffer {name}")
            b.copy_(torch.arange(b.shape[-1]).expand_as(b))
    return module.eval()


def config(name: str) -> dict:
    """One of the configs, without diffusers' private keys (`_class_name`)."""
    raw = json.loads((CONFIG_DIR / f"{name}.json").read_text())
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def random_unet(device="cpu", name: str = "sd-turbo-unet"):
    """sd-turbo's UNet, or SD 1.5's (`sd15-unet`)."""
    from diffusers import UNet2DConditionModel

    return build(lambda: UNet2DConditionModel(**config(name)), device)


def random_vae(kind: str = RANDOM, device="cpu"):
    """TAESD (`random`) or the full AutoencoderKL (`full`)."""
    from diffusers import AutoencoderKL, AutoencoderTiny

    if kind == FULL_VAE:
        return build(lambda: AutoencoderKL(**config("sd-turbo-vae")), device)
    return build(lambda: AutoencoderTiny(**config("taesd")), device)


def random_text_encoder(device="cpu", name: str = "sd-turbo-text-encoder"):
    """OpenCLIP ViT-H's text tower (sd-turbo's text encoder; `sd15-text-encoder`: CLIP ViT-L/14's, SD 1.5's)
    and the offline byte-level tokenizer."""
    from transformers import CLIPTextConfig, CLIPTextModel

    return build(lambda: CLIPTextModel(CLIPTextConfig(**config(name))), device), tiny_tokenizer()


def random_scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler.from_config(config("sd-turbo-scheduler"))


def millions(module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def backbone_config() -> dict:
    """w2v-bert-2.0 with audio2img's adapter: what both random encoders are built on."""
    return {**config("w2v-bert-2.0"), **config("audio2img-adapter")}


def feature_extractor():
    from transformers import SeamlessM4TFeatureExtractor

    raw = config("w2v-bert-2.0-preprocessor")
    return SeamlessM4TFeatureExtractor(**{k: v for k, v in raw.items() if k not in ("feature_extractor_type", "processor_class")})


def random_audio2img_model(device="cpu"):
    """w2v-bert-2.0 + audio2img's adapter: a plain Wav2Vec2BertModel, as audio2img's checkpoint is."""
    from transformers import Wav2Vec2BertConfig, Wav2Vec2BertModel

    return build(lambda: Wav2Vec2BertModel(Wav2Vec2BertConfig(**backbone_config())), device)


def random_clip_image_model(device="cpu") -> AudioPromptEncoder:
    """The same backbone + a one-query head as wide as ip-adapter-sd15.json's image embedding (ViT-H/14: 1024)."""
    head = {**config("audio-prompt-head"), "num_tokens": 1, "width": config("ip-adapter-sd15")["image_embed_dim"]}
    return build(lambda: AudioPromptEncoder(AudioPromptConfig(backbone={"model_type": "wav2vec2-bert", **backbone_config()}, **head)), device)


def random_own_model(device="cpu") -> AudioPromptEncoder:
    """The same backbone + our token head (audio-prompt-head.json): the own checkpoint format."""
    head = config("audio-prompt-head")
    return build(lambda: AudioPromptEncoder(AudioPromptConfig(backbone={"model_type": "wav2vec2-bert", **backbone_config()}, **head)), device)
