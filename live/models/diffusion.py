"""Finding and loading the diffusion model and its VAE, by hub id, local folder or `tiny`.

Every model is named the same way: a Hugging Face hub id (looked up in the local cache first, then
downloaded if the hub can be reached), a local folder in the same layout, or `tiny`, which builds a
seeded set with random weights, offline, for tests and smoke runs. Its pictures mean nothing, and
the log says so.

Finding a model by name (`resolve_folder`) is `live.models.loading`'s job; the encoder side lives in
`encoder.py`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from live.core.defaults import DEFAULT_VAE, FULL_VAE, RANDOM, RANDOM_SD15, TINY, TINY_SD15
from live.core.errors import PhospheneError
from live.models import random_weights
from live.models.families import SD15_LCM, SD_TURBO, Family, family_of, find_lora
from live.models.loading import RANDOM_NOTICE, TINY_NOTICE, first_line, load_errors, quiet_model_loading, require_files, resolve_folder
from live.models.tiny_text import TINY_WIDTH, tiny_text_encoder

log = logging.getLogger("phosphene")

# ---------------------------------------------------------------------------------------------
# The diffusion model: UNet, scheduler, text encoder + tokenizer, VAE


@dataclass
class DiffusionParts:
    name: str
    unet: torch.nn.Module
    scheduler: object
    text_encoder: torch.nn.Module
    tokenizer: object
    vae: torch.nn.Module
    vae_name: str
    folder: Path | None = None  # where a real model was loaded from (its ip_adapter/ is looked for there); None for tiny / random
    family: Family = SD_TURBO  # sd-turbo, or SD 1.5 + a few-step LoRA (live/models/families.py): its scheduler and steps

    @property
    def width(self) -> int:
        """D: the width of the prompt embeddings the UNet cross-attends to."""
        return int(self.unet.config.cross_attention_dim)

    @property
    def vae_scale_factor(self) -> int:
        if hasattr(self.vae.config, "encoder_block_out_channels"):  # AutoencoderTiny
            return 2 ** (len(self.vae.config.encoder_block_out_channels) - 1)
        return 2 ** (len(self.vae.config.block_out_channels) - 1)  # AutoencoderKL

    def to(self, device: torch.device, dtype: torch.dtype) -> DiffusionParts:
        for m in (self.unet, self.text_encoder, self.vae):
            m.to(device=device, dtype=dtype).eval().requires_grad_(False)
        return self


DIFFUSION_FILES = {
    "unet/config.json": ["unet/config.json"],
    "unet weights (unet/*.safetensors)": ["unet/*.safetensors"],
    "scheduler/scheduler_config.json": ["scheduler/scheduler_config.json"],
    "text_encoder/config.json": ["text_encoder/config.json"],
    "text encoder weights (text_encoder/*.safetensors)": ["text_encoder/*.safetensors"],
    "tokenizer/ (vocab.json, merges.txt)": ["tokenizer/vocab.json", "tokenizer/tokenizer.json"],
}


def load_diffusion(name: str, vae: str = DEFAULT_VAE, *, device="cpu", dtype=torch.float32, lora: str | None = None) -> DiffusionParts:
    """Load the UNet, scheduler, text encoder and VAE of a few-step model: sd-turbo class, or SD 1.5
    with a few-step LoRA (`lora`, else one found in the folder: families.LORA_FILES), fused into the UNet.
    The family is read from the folder's unet and scheduler configs (live/models/families.py)."""
    quiet_model_loading(diffusers=True)
    if name == TINY_SD15:  # written as a folder and read back, so the real loader (LoRA included) runs
        import tempfile

        with tempfile.TemporaryDirectory(prefix="phosphene-tiny-sd15-") as tmp:
            parts = load_diffusion(str(save_tiny_sd15(Path(tmp) / "tiny-sd15")), FULL_VAE if vae in (TINY, FULL_VAE) else vae, lora=lora)
        parts.name, parts.folder = TINY_SD15, None
        return parts.to(torch.device(device), dtype)
    if name == RANDOM_SD15:
        parts = random_sd15_diffusion(vae if vae == FULL_VAE else RANDOM, device=torch.device(device))
        if vae not in (RANDOM, FULL_VAE, TINY):
            parts.vae, parts.vae_name = load_vae(vae, diffusion_folder=None), vae
        return parts.to(torch.device(device), dtype)
    if name == RANDOM:  # full-size, random weights, from live/models/configs: TAESD, or the full VAE with --vae full
        parts = random_diffusion(vae if vae == FULL_VAE else RANDOM, device=torch.device(device))
        if vae not in (RANDOM, FULL_VAE, TINY):  # a real VAE by name, beside the random UNet
            parts.vae, parts.vae_name = load_vae(vae, diffusion_folder=None), vae
        return parts.to(torch.device(device), dtype)
    if name == TINY:
        parts = tiny_diffusion()
        if vae not in (TINY, FULL_VAE):
            parts.vae, parts.vae_name = load_vae(vae, diffusion_folder=None), vae
        return parts.to(torch.device(device), dtype)

    import diffusers
    from transformers import CLIPTextModel, CLIPTokenizer

    fp16 = dtype == torch.float16
    subfolders = ["unet", "scheduler", "text_encoder", "tokenizer"] + (["vae"] if vae == FULL_VAE else [])
    # fp16 runs fetch only the fp16 weights; fp32 runs skip them ("*l.safetensors": model.safetensors,
    # diffusion_pytorch_model.safetensors), halving the download either way
    weights = "*.fp16.safetensors" if fp16 else "*l.safetensors"
    patterns = ["model_index.json"] + [f"{sub}/{p}" for sub in subfolders for p in ("*.json", "*.txt", weights)]
    folder = resolve_folder(name, "diffusion model", patterns)
    require_files(folder, "diffusion model", DIFFUSION_FILES)
    variant = "fp16" if fp16 and any(folder.glob("unet/*.fp16.safetensors")) else None
    lora_file = Path(lora).expanduser() if lora else find_lora(folder)
    if lora_file is not None and not lora_file.is_file():
        raise PhospheneError(f"--lora {lora}: no such file; give a LoRA .safetensors (latent-consistency/lcm-lora-sdv1-5 pytorch_lora_weights.safetensors)")
    try:
        unet_config = json.loads((folder / "unet/config.json").read_text())
        scheduler_config = json.loads((folder / "scheduler/scheduler_config.json").read_text())
    except ValueError as e:
        raise PhospheneError(f"diffusion model '{name}': a config in {folder} is not JSON ({first_line(e)})") from None
    family = family_of(unet_config, scheduler_config, lora_file, name=name)  # before the weights load
    try:
        unet = diffusers.UNet2DConditionModel.from_pretrained(
            folder, subfolder="unet", variant=variant, use_safetensors=True, torch_dtype=dtype
        )
        scheduler_class = getattr(diffusers, family.scheduler or scheduler_config.get("_class_name", "EulerDiscreteScheduler"))
        scheduler = scheduler_class.from_config(scheduler_class.load_config(folder, subfolder="scheduler"))
        te_variant = variant if any(folder.glob("text_encoder/*.fp16.safetensors")) else None
        text_encoder = CLIPTextModel.from_pretrained(
            folder, subfolder="text_encoder", variant=te_variant, use_safetensors=True, dtype=dtype
        )
        tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")
    except load_errors() as e:
        raise PhospheneError(f"diffusion model '{name}' could not be loaded from {folder}: {first_line(e)}") from None
    if family.lora and lora_file is not None:
        fuse_lora(unet, lora_file)
        log.info("diffusion model '%s': %s (%s fused into the UNet), %d steps by default", name, family.name, lora_file.name, family.steps)
    vae_model = load_vae(vae, diffusion_folder=folder, variant=variant)
    parts = DiffusionParts(name, unet, scheduler, text_encoder, tokenizer, vae_model, vae, folder=folder, family=family)
    if text_encoder.config.hidden_size != parts.width:
        raise PhospheneError(
            f"diffusion model '{name}': text encoder width {text_encoder.config.hidden_size} does not match "
            f"the UNet's cross-attention width {parts.width}; this is not an SD-class model folder"
        )
    return parts.to(torch.device(device), dtype)


def fuse_lora(unet, path: Path, scale: float = 1.0) -> None:
    """A few-step LoRA file (diffusers/PEFT or kohya layout, safetensors only) into the UNet's weights:
    diffusers' own loader (the one `pipe.load_lora_weights` calls, PEFT underneath), then fused and the
    LoRA layers removed, so a frame costs what the plain UNet costs."""
    from diffusers.loaders import StableDiffusionLoraLoaderMixin

    path = Path(path)
    if path.suffix != ".safetensors":
        raise PhospheneError(f"--lora {path}: Phosphene loads .safetensors only (never a pickle); use the LoRA's .safetensors file")
    try:
        state, alphas = StableDiffusionLoraLoaderMixin.lora_state_dict(str(path))
        unet_keys = [k for k in state if k.startswith("unet.")]
        if not unet_keys:
            raise ValueError("no UNet LoRA weights (unet.* / lora_unet_* keys) in it")
        StableDiffusionLoraLoaderMixin.load_lora_into_unet(state, alphas, unet, adapter_name="few_step")
        unet.fuse_lora(lora_scale=scale)
        unet.unload_lora()
    except ImportError as e:
        raise PhospheneError(f"--lora {path}: loading a LoRA needs peft ({first_line(e)}); `pip install -r requirements.txt`") from None
    except load_errors() as e:
        raise PhospheneError(f"LoRA {path} could not be loaded: {first_line(e)}; give a LoRA for this UNet (LCM-LoRA SD 1.5 for SD 1.5)") from None


def load_vae(name: str, diffusion_folder: Path | None, variant: str | None = None):
    """TAESD (AutoencoderTiny) by default; `full` is the diffusion model's own AutoencoderKL; a
    folder or hub id of either class works too."""
    import diffusers

    if name == FULL_VAE:
        if diffusion_folder is None:
            raise PhospheneError("--vae full needs a diffusion model folder with a vae/ subfolder")
        require_files(diffusion_folder, "diffusion model", {"vae/config.json": ["vae/config.json"], "vae weights": ["vae/*.safetensors"]})
        folder, subfolder = diffusion_folder, "vae"
    else:
        folder, subfolder = resolve_folder(name, "VAE", ["*.json", "*.safetensors"]), None
        require_files(folder, "VAE", {"config.json": ["config.json"], "weights (*.safetensors)": ["*.safetensors"]})
    config_file = folder / (subfolder or "") / "config.json"
    class_name = json.loads(config_file.read_text()).get("_class_name", "AutoencoderTiny")
    if class_name not in ("AutoencoderTiny", "AutoencoderKL"):
        raise PhospheneError(f"VAE '{name}' is a {class_name}; Phosphene takes AutoencoderTiny or AutoencoderKL")
    variant = variant if variant and any((folder / (subfolder or "")).glob("*.fp16.safetensors")) else None
    try:
        return getattr(diffusers, class_name).from_pretrained(folder, subfolder=subfolder, variant=variant, use_safetensors=True)
    except load_errors() as e:
        raise PhospheneError(f"VAE '{name}' could not be loaded from {folder}: {first_line(e)}") from None


# ---------------------------------------------------------------------------------------------
# `tiny`: a seeded, random-weight model set in the shapes of the real ones (diffusers' test style)

def tiny_diffusion() -> DiffusionParts:
    """UNet, Euler scheduler (sd-turbo's settings), CLIP text encoder and TAESD, all tiny."""
    from diffusers import EulerDiscreteScheduler, UNet2DConditionModel

    log.warning(TINY_NOTICE.format(what="diffusion model"))
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TINY_WIDTH,
        attention_head_dim=(2, 4),
        use_linear_projection=True,  # as SD 2.x / sd-turbo
    )
    # Random cross-attention adds little to the residual stream, so the conditioning would barely
    # steer the picture; scale its output so that it does, as it does in a trained UNet.
    with torch.no_grad():
        for name, module in unet.named_modules():
            if name.endswith("attn2.to_out.0"):
                module.weight.mul_(3.0)
    text_encoder, tokenizer = tiny_text_encoder()
    torch.manual_seed(0)
    vae = tiny_vae()
    scheduler = EulerDiscreteScheduler(  # sd-turbo's scheduler_config.json
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        prediction_type="epsilon",
        steps_offset=1,
        timestep_spacing="trailing",
    )
    return DiffusionParts(TINY, unet, scheduler, text_encoder, tokenizer, vae, TINY)


def load_text_encoder(name: str, *, device="cpu", dtype=torch.float32):
    """Only the text encoder and tokenizer of a diffusion model (hub id, folder or `tiny`): what
    training needs for its targets, without the UNet and VAE."""
    quiet_model_loading()
    if name == TINY:
        text_encoder, tokenizer = tiny_text_encoder()
        return text_encoder.to(device, dtype).eval(), tokenizer
    from transformers import CLIPTextModel, CLIPTokenizer

    weights = "*.fp16.safetensors" if dtype == torch.float16 else "*l.safetensors"
    patterns = [f"{sub}/{p}" for sub in ("text_encoder", "tokenizer") for p in ("*.json", "*.txt", weights)]
    folder = resolve_folder(name, "text encoder", patterns)
    require_files(folder, "diffusion model", {k: v for k, v in DIFFUSION_FILES.items() if "text_encoder" in k or "tokenizer" in k})
    variant = "fp16" if dtype == torch.float16 and any(folder.glob("text_encoder/*.fp16.safetensors")) else None
    try:
        text_encoder = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder", variant=variant, use_safetensors=True, dtype=dtype)
        tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")
    except load_errors() as e:
        raise PhospheneError(f"text encoder of '{name}' could not be loaded from {folder}: {first_line(e)}") from None
    return text_encoder.to(device).eval(), tokenizer


def tiny_vae():
    """TAESD's shape (4 blocks, 8x downscale, 4 latent channels) at a fraction of its width."""
    from diffusers import AutoencoderTiny

    vae = AutoencoderTiny(
        encoder_block_out_channels=(16, 16, 16, 16),
        decoder_block_out_channels=(16, 16, 16, 16),
        num_encoder_blocks=(1, 1, 1, 1),
        num_decoder_blocks=(1, 1, 1, 1),
    )
    # Random init shrinks the signal at every conv, so a random TAESD ignores its input: the
    # previous frame would not feed back, and every frame would decode to ~0, which AutoencoderTiny
    # maps to -1: black frames in which no test could see a difference. Scale the convs so the
    # latents follow the image (std ~0.8, as TAESD's) and the image follows the latents, and centre
    # the decoder's last conv on mid-grey.
    with torch.no_grad():
        for part, gain in ((vae.encoder, 2.2), (vae.decoder, 1.5)):
            for m in part.modules():
                if isinstance(m, torch.nn.Conv2d):
                    m.weight.mul_(gain)
        vae.decoder.layers[-1].weight.mul_(5.0 / 1.5)
        vae.decoder.layers[-1].bias.fill_(0.5)
    return vae


def random_diffusion(vae: str = RANDOM, device="cpu") -> DiffusionParts:
    """DiffusionParts of sd-turbo's shape with random weights (random_weights.py builds each module):
    UNet, Euler scheduler, text encoder, and TAESD or the full VAE."""
    log.warning(RANDOM_NOTICE.format(what="diffusion model", name=RANDOM))
    text_encoder, tokenizer = random_weights.random_text_encoder(device)
    vae_name = FULL_VAE if vae == FULL_VAE else RANDOM
    unet, vae_model = random_weights.random_unet(device), random_weights.random_vae(vae_name, device)
    parts = DiffusionParts(RANDOM, unet, random_weights.random_scheduler(), text_encoder, tokenizer, vae_model, vae_name)
    vae_label = "full VAE (AutoencoderKL)" if vae_name == FULL_VAE else "TAESD (AutoencoderTiny)"
    log.info(
        "diffusion model 'random': UNet %.1f M, text encoder %.1f M, %s %.1f M parameters",
        *(random_weights.millions(m) for m in (parts.unet, parts.text_encoder)),
        vae_label,
        random_weights.millions(parts.vae),
    )
    return parts


def tiny_sd15_unet():
    """SD 1.5's UNet shape (no linear projection, one head count for all blocks) at a tiny width; its
    cross-attention is the tiny text space's (32), not 768."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TINY_WIDTH,
        attention_head_dim=2,
        use_linear_projection=False,  # as SD 1.5
    )
    with torch.no_grad():  # as tiny_diffusion's: so the conditioning steers the picture
        for name, module in unet.named_modules():
            if name.endswith("attn2.to_out.0"):
                module.weight.mul_(3.0)
    return unet


def tiny_lora_state_dict(unet, *, seed: int = 1, rank: int = 4, gain: float = 0.3) -> dict:
    """A seeded LoRA for `unet` on LCM-LoRA's target modules (configs/lcm-lora-sdv1-5.json) at a
    small rank, made with PEFT from the UNet's config and returned in diffusers' file layout; the UNet
    is left without it."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    config = random_weights.config("lcm-lora-sdv1-5")
    torch.manual_seed(seed)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=config["target_modules"], init_lora_weights=False))
    with torch.no_grad():  # random A and B (init_lora_weights=False); scaled so the LoRA moves the UNet without drowning it
        for name, p in unet.named_parameters():
            if "lora_B" in name:
                p.mul_(gain)
    state = get_peft_model_state_dict(unet)  # PEFT's keys (lora_A / lora_B), the layout diffusers saves today
    unet.unload_lora()
    return state


def save_tiny_sd15(folder: Path) -> Path:
    """A tiny SD 1.5 + LCM-LoRA folder in the real layouts: SD 1.5's (PNDM scheduler config, as the
    real one ships) with the LoRA in lora/pytorch_lora_weights.safetensors, as diffusers saves one."""
    from diffusers import PNDMScheduler
    from diffusers.loaders import StableDiffusionLoraLoaderMixin

    quiet_model_loading(diffusers=True)
    folder = Path(folder)
    unet = tiny_sd15_unet()
    unet.save_pretrained(folder / "unet")
    StableDiffusionLoraLoaderMixin.save_lora_weights(folder / "lora", unet_lora_layers=tiny_lora_state_dict(unet))
    PNDMScheduler.from_config(random_weights.config("sd15-scheduler")).save_pretrained(folder / "scheduler")
    text_encoder, tokenizer = tiny_text_encoder()
    text_encoder.save_pretrained(folder / "text_encoder")
    tokenizer.save_pretrained(folder / "tokenizer")
    torch.manual_seed(0)
    tiny_vae().save_pretrained(folder / "vae")  # an AutoencoderTiny standing in for the full VAE
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}) + "\n")
    return folder


def random_sd15_diffusion(vae: str = RANDOM, device="cpu") -> DiffusionParts:
    """SD 1.5's full-size UNet and text encoder with random weights, LCMScheduler from SD 1.5's
    scheduler config, TAESD or the full VAE. The LCM-LoRA is not built: fused, it costs nothing per frame."""
    from diffusers import LCMScheduler

    log.warning(RANDOM_NOTICE.format(what="diffusion model", name=RANDOM_SD15))
    text_encoder, tokenizer = random_weights.random_text_encoder(device, name="sd15-text-encoder")
    vae_name = FULL_VAE if vae == FULL_VAE else RANDOM
    unet, vae_model = random_weights.random_unet(device, name="sd15-unet"), random_weights.random_vae(vae_name, device)
    scheduler = LCMScheduler.from_config(random_weights.config("sd15-scheduler"))
    parts = DiffusionParts(RANDOM_SD15, unet, scheduler, text_encoder, tokenizer, vae_model, vae_name, family=SD15_LCM)
    log.info(
        "diffusion model '%s': UNet %.1f M, text encoder %.1f M, VAE %.1f M parameters",
        RANDOM_SD15, *(random_weights.millions(m) for m in (parts.unet, parts.text_encoder, parts.vae)),
    )  # fmt: skip
    return parts


def save_tiny_diffusion(folder: Path) -> Path:
    """Write the tiny set in sd-turbo's folder layout, so tests exercise the real loader."""
    quiet_model_loading(diffusers=True)
    folder = Path(folder)
    parts = tiny_diffusion()
    parts.unet.save_pretrained(folder / "unet")
    parts.scheduler.save_pretrained(folder / "scheduler")
    parts.text_encoder.save_pretrained(folder / "text_encoder")
    parts.tokenizer.save_pretrained(folder / "tokenizer")
    parts.vae.save_pretrained(folder / "vae")  # an AutoencoderTiny standing in for the full VAE
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}) + "\n")
    return folder
