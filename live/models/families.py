"""Few-step diffusion families, told apart by a model folder's own config, torch-free (the CLI reads
a family's steps before anything loads).

    family_of(unet_config, scheduler_config, lora)   # SD_TURBO or SD15_LCM, or one clear error
    family_for(models)                               # the same from a Models record: the name, folder or hub cache
    find_lora(folder)                                # a few-step LoRA shipped in the folder, or None

sd-turbo is SD 2.1 distilled (a UNet with linear projections, cross-attention 1024): 1-2 steps,
guidance 0, its own scheduler. IP-Adapter has no official adapter for it. SD 1.5 (no linear
projection, cross-attention 768) is few-step only with a few-step LoRA (LCM-LoRA, latent-consistency/
lcm-lora-sdv1-5; TCD's and Hyper-SD's load the same way) and LCMScheduler (TCDScheduler where the
folder's scheduler says so): 4 steps, guidance 1 (no classifier-free batch). ip-adapter_sd15 is made
for that UNet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from live.core.errors import PhospheneError

LORA_FILES = ("lora/*.safetensors", "pytorch_lora_weights.safetensors")  # where a folder's few-step LoRA is looked for


@dataclass(frozen=True)
class Family:
    name: str  # what the log and --help call it
    scheduler: str | None  # a diffusers scheduler class run from the folder's scheduler config; None: the folder's own class
    steps: int  # scheduler steps a render takes when --steps is not given
    guidance: float  # <= 1 everywhere here: one UNet batch per step, no classifier-free pass
    lora: bool = False  # whether a few-step LoRA is fused into the UNet at load


SD_TURBO = Family("sd-turbo (SD 2.1 distilled)", None, steps=2, guidance=0.0)
SD15_LCM = Family("SD 1.5 + LCM-LoRA", "LCMScheduler", steps=4, guidance=1.0, lora=True)
SD15_TCD = Family("SD 1.5 + TCD-LoRA", "TCDScheduler", steps=4, guidance=1.0, lora=True)
FEW_STEP_SCHEDULERS = {"LCMScheduler": SD15_LCM, "TCDScheduler": SD15_TCD}


def family_of(unet_config: dict, scheduler_config: dict, lora: Path | None, *, name: str = "") -> Family:
    """The family a diffusers folder belongs to, from its unet/config.json and scheduler_config.json."""
    cross = int(unet_config.get("cross_attention_dim", 0) if not isinstance(unet_config.get("cross_attention_dim"), list) else 0)
    if unet_config.get("addition_embed_type") == "text_time" or cross == 2048:
        raise PhospheneError(f"diffusion model '{name}' is SDXL-class (cross-attention {cross}, text_time embeddings): not supported yet; use sd-turbo or SD 1.5 + LCM-LoRA")
    if unet_config.get("use_linear_projection", False):  # SD 2.x: sd-turbo and its kin
        if lora is not None:
            raise PhospheneError(f"diffusion model '{name}' is SD 2.x (sd-turbo class), already few-step: --lora {lora} is for SD 1.5 (LCM-LoRA); drop it")
        return SD_TURBO
    scheduler = scheduler_config.get("_class_name", "")
    if scheduler in FEW_STEP_SCHEDULERS:
        return FEW_STEP_SCHEDULERS[scheduler] if lora is not None else Family(f"SD 1.5 ({scheduler}, distilled UNet)", scheduler, 4, 1.0)
    if lora is None:
        raise PhospheneError(
            f"diffusion model '{name}' is SD 1.5 (no linear projection, cross-attention {cross}), which is not few-step on its own: "
            "give --lora FILE (latent-consistency/lcm-lora-sdv1-5 pytorch_lora_weights.safetensors) or put it in the folder's lora/"
        )
    return SD15_LCM


def find_lora(folder: Path) -> Path | None:
    for pattern in LORA_FILES:
        found = sorted(Path(folder).glob(pattern))
        if found:
            return found[0]
    return None


def read_configs(folder: Path) -> tuple[dict, dict]:
    def read(path: Path) -> dict:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    return read(folder / "unet" / "config.json"), read(folder / "scheduler" / "scheduler_config.json")


def family_for(diffusion: str, lora: str | None = None) -> Family:
    """The family of a model named as a command names it (tiny, random, a folder, a cached hub id),
    without loading it. A hub id not in the cache: sd-turbo's (the default model's) until it loads."""
    from live.core.defaults import RANDOM, TINY, TINY_SD15, RANDOM_SD15

    if diffusion in (TINY, RANDOM):
        return SD_TURBO
    if diffusion in (TINY_SD15, RANDOM_SD15):
        return SD15_LCM
    folder = Path(diffusion).expanduser()
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(diffusion, allow_patterns=["unet/config.json", "scheduler/*.json"], local_files_only=True))
        except Exception:  # not cached, or not a hub id: the loader will say
            return SD_TURBO
    unet, scheduler = read_configs(folder)
    if not unet:
        return SD_TURBO
    return family_of(unet, scheduler, Path(lora) if lora else find_lora(folder), name=diffusion)
