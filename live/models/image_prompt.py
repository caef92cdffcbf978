"""Image-space conditioning: the audio encoder's CLIP image embedding steers the UNet through an
IP-Adapter (diffusers' `IPAdapterAttnProcessor2_0` + `ImageProjection`), with no CLIP vision pass
per frame: the audio encoder *is* the image encoder (Wav2CLIP's road, `fit --target clip-image`).

    attach_image_adapter(parts)                     # tiny / random: a seeded adapter built from the UNet's config
    load_image_adapter_file(unet, "ip-adapter_sd15.safetensors")   # real weights, IP-Adapter's own layout (--ip-adapter FILE)
    set_image_scale(unet, 0.8)                       # pipe.set_ip_adapter_scale's equivalent, per frame if need be
    unet(x, t, encoder_hidden_states=text, added_cond_kwargs=image_cond(embeds))   # embeds (1, P)

An adapter's state dict is the one IP-Adapter ships (`image_proj.proj.weight` (4 * D, P),
`ip_adapter.{k}.to_k_ip.weight` (H, D) for every cross-attention k = 1, 3, 5, ...), so the random one
goes through the same diffusers loader (`UNet2DConditionModel._load_ip_adapter_weights`) as a real file,
as diffusers' own tests do (`create_ip_adapter_state_dict`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from live.core.errors import PhospheneError

log = logging.getLogger("phosphene")

IMAGE_TOKENS = 4  # IP-Adapter (not Plus): the image embedding becomes 4 extra cross-attention tokens
CONDITIONS = ("text", "image", "both")  # --condition: the audio's text-space tokens, its image embedding, or the image + a text prompt
TINY_IMAGE_WIDTH = 32  # the tiny CLIP's projection width (training/clip_image.py's TINY_CLIP_WIDTH)


def random_adapter_state_dict(unet, image_width: int, *, seed: int = 0, gain: float = 1.0) -> dict:
    """A seeded IP-Adapter for `unet` in IP-Adapter's file layout: image projection (P -> 4 x D) and a
    to_k_ip / to_v_ip pair per cross-attention layer. `gain` scales to_v_ip (random weights add little
    to the residual stream; the tiny set scales them so the picture follows the embedding)."""
    from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0
    from diffusers.models.embeddings import ImageProjection

    generator = torch.Generator().manual_seed(seed)
    cross = int(unet.config.cross_attention_dim)
    blocks = list(unet.config.block_out_channels)

    def hidden(name: str) -> int:  # the width of the attention layer `name`, as diffusers' loader computes it
        if name.startswith("mid_block"):
            return blocks[-1]
        if name.startswith("up_blocks"):
            return list(reversed(blocks))[int(name[len("up_blocks.")])]
        return blocks[int(name[len("down_blocks.")])]

    def fill(module: torch.nn.Module) -> dict:
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * p.shape[-1] ** -0.5 if p.dim() > 1 else torch.zeros(p.shape))
        return module.state_dict()

    with torch.device("cpu"):
        projection = ImageProjection(cross_attention_dim=cross, image_embed_dim=image_width, num_image_text_embeds=IMAGE_TOKENS)
        image_proj = {k.replace("image_embeds", "proj"): v for k, v in fill(projection).items()}
        image_proj["norm.weight"] = torch.ones(cross)
        ip_adapter, key = {}, 1
        for name in unet.attn_processors:
            if name.endswith("attn1.processor"):
                continue
            processor = IPAdapterAttnProcessor2_0(hidden_size=hidden(name), cross_attention_dim=cross, num_tokens=(IMAGE_TOKENS,))
            weights = fill(processor)
            ip_adapter[f"{key}.to_k_ip.weight"] = weights["to_k_ip.0.weight"]
            ip_adapter[f"{key}.to_v_ip.weight"] = weights["to_v_ip.0.weight"] * gain
            key += 2
    return {"image_proj": image_proj, "ip_adapter": ip_adapter}


def load_adapter(unet, state_dict: dict) -> None:
    """Swap the UNet's cross-attention processors for IP-Adapter ones holding `state_dict`'s weights."""
    unet._load_ip_adapter_weights([state_dict], low_cpu_mem_usage=False)  # diffusers' loader, the one load_ip_adapter calls (keeps dtype, device)


def load_image_adapter_file(unet, path: Path) -> None:
    """Real IP-Adapter weights (e.g. h94/IP-Adapter models/ip-adapter_sd15.safetensors), safetensors only.
    A missing, corrupt or foreign file, or one made for another UNet: one line (PhospheneError)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path).expanduser()
    if not path.is_file():
        raise PhospheneError(f"--ip-adapter {path}: no such file; give an IP-Adapter .safetensors (h94/IP-Adapter models/ip-adapter_sd15.safetensors)")
    if path.suffix != ".safetensors":
        raise PhospheneError(f"IP-Adapter {path}: Phosphene loads .safetensors only (never a pickle); use the .safetensors file")
    try:
        flat = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise PhospheneError(f"IP-Adapter {path} cannot be read ({first_line(e)}): the file is corrupt or truncated; copy it again") from None
    state = {"image_proj": {}, "ip_adapter": {}}
    for key, value in flat.items():
        part, _, rest = key.partition(".")
        if part in state:
            state[part][rest] = value
    if not state["image_proj"] or not state["ip_adapter"]:
        raise PhospheneError(f"IP-Adapter {path}: no image_proj.* / ip_adapter.* weights; not an IP-Adapter file")
    try:
        load_adapter(unet, state)
    except (RuntimeError, KeyError, ValueError) as e:
        raise PhospheneError(
            f"IP-Adapter {path} does not fit this UNet (cross-attention {unet.config.cross_attention_dim}): {first_line(e)[:160]}; "
            "give the adapter made for this model (ip-adapter_sd15 for SD 1.5)"
        ) from None


def first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def attach_image_adapter(parts, image_width: int | None = None, file: str | Path | None = None) -> int:
    """Give `parts.unet` an IP-Adapter; returns the image-embedding width it takes. `file` (--ip-adapter):
    that adapter, whatever the model. Otherwise `tiny` / `tiny-sd15`: seeded, the tiny CLIP's width;
    `random` / `random-sd15`: seeded in ip-adapter_sd15's shape (ViT-H, 1024); a real model: the adapter
    file in its folder (ip_adapter/*.safetensors), else ModelNotFound (the shader fallback)."""
    from live.core.defaults import RANDOM, RANDOM_SD15, TINY, TINY_SD15
    from live.core.errors import ModelNotFound

    if file is not None:
        load_image_adapter_file(parts.unet, Path(file))
        return image_width_of(parts.unet)
    if parts.name in (TINY, TINY_SD15, RANDOM, RANDOM_SD15):
        tiny = parts.name in (TINY, TINY_SD15)
        if tiny:
            width = image_width or TINY_IMAGE_WIDTH
        else:  # ip-adapter_sd15's shape (live/models/configs/ip-adapter-sd15.json) on the random full-size UNet
            from live.models.random_weights import config

            width = image_width or int(config("ip-adapter-sd15")["image_embed_dim"])
        gain = 6.0 if tiny else 1.0  # as tiny_diffusion scales its cross-attention: so the embedding shows
        load_adapter(parts.unet, random_adapter_state_dict(parts.unet, width, gain=gain))
        return width
    folder = getattr(parts, "folder", None)
    files = sorted(Path(folder).glob("ip_adapter/*.safetensors")) if folder else []
    if not files:
        raise ModelNotFound(
            f"diffusion model '{parts.name}' has no IP-Adapter (ip_adapter/*.safetensors in its folder) for --condition image|both; "
            "give --ip-adapter FILE (h94/IP-Adapter models/ip-adapter_sd15.safetensors for SD 1.5), put one there, or use --condition text"
        )
    load_image_adapter_file(parts.unet, files[0])
    return image_width_of(parts.unet)


def image_width_of(unet) -> int:
    """P: the image-embedding width the UNet's IP-Adapter projects (raises if it has none)."""
    projection = getattr(unet, "encoder_hid_proj", None)
    layers = getattr(projection, "image_projection_layers", None)
    if not layers:
        raise PhospheneError("the UNet has no IP-Adapter: --condition image|both needs one")
    return int(layers[0].image_embeds.in_features)


def set_image_scale(unet, scale: float) -> None:
    """How strongly the image embedding steers (IP-Adapter's scale: 0 = text only, 1 = full)."""
    from diffusers.models.attention_processor import IPAdapterAttnProcessor, IPAdapterAttnProcessor2_0

    for processor in unet.attn_processors.values():
        if isinstance(processor, (IPAdapterAttnProcessor, IPAdapterAttnProcessor2_0)):
            processor.scale = [float(scale)]


def image_cond(embeds: torch.Tensor) -> dict:
    """added_cond_kwargs for one image embedding (1, P) or (P,): [(1, 1, P)], one adapter, one image."""
    return {"image_embeds": [embeds.reshape(1, 1, -1)]}


def check_condition(meta, condition: str, encoder_name: str) -> None:
    """--condition against what the encoder gives: one line, at start-up, before the diffusion model loads."""
    if condition not in CONDITIONS:
        raise PhospheneError(f"--condition {condition}: choose text, image or both")
    image_space = getattr(meta, "target", "text") == "clip-image"
    if condition == "text" and image_space:
        raise PhospheneError(
            f"--encoder {encoder_name} gives CLIP image embeddings (trained with --target clip-image against {meta.clip}): "
            "use --condition image (or both, with --prompt)"
        )
    if condition != "text" and not image_space:
        raise PhospheneError(
            f"--condition {condition} needs an image-space encoder (python -m training fit --target clip-image); "
            f"--encoder {encoder_name} gives text-space tokens ({meta.text_encoder}): use --condition text"
        )


def check_image_width(meta, encoder_name: str, adapter_width: int, diffusion_name: str) -> None:
    if meta.width != adapter_width:
        raise PhospheneError(
            f"--encoder {encoder_name} gives {meta.width}-wide image embeddings (CLIP {meta.clip}) but the IP-Adapter of "
            f"'{diffusion_name}' takes {adapter_width}: train against a CLIP of width {adapter_width} (ViT-H/14 for ip-adapter_sd15)"
        )
