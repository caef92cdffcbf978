"""`--target clip-image`: an audio encoder whose output is a CLIP image embedding (Wav2CLIP's recipe).

    clip = load_clip("tiny")          # or a hub id (openai/clip-vit-base-patch32) or a folder
    target = ImageTarget(config, device)      # what training/fit.py's loop asks for, as of TextTarget

A frozen CLIP vision tower (CLIPVisionModelWithProjection) embeds each window's picture (its video's
frame at the window's time, or the row's image, training/pictures.py); the audio side is the backbone
the text path trains (w2v-bert, HuBERT, WavLM, wav2vec2 or the tiny one) with a one-query head of the
CLIP projection width (read from the CLIP config). The loss is a symmetric InfoNCE between audio and
picture embeddings with a learnable logit scale (`--clap-weight`, CLAP's), plus optionally a distance
to the picture's embedding (`--distill-weight`, `--token-loss cosine | mse`). The checkpoint's
phosphene.json says target clip-image, the CLIP model and its width (tokens 1).

`tiny` is a seeded CLIP small enough for CPU tests (2 layers, 32 wide, 32 x 32 pictures, the tiny
character tokenizer), written to a temporary folder and read back with from_pretrained, so it goes
through the same loading code as a real one.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from pathlib import Path

import torch

from live.core.defaults import TINY
from live.core.errors import PhospheneError
from training.config import CLIP_IMAGE, FitConfig

log = logging.getLogger("phosphene")

TINY_CLIP_IMAGE = 32  # pixels: the tiny CLIP's pictures
TINY_CLIP_WIDTH = 32  # its projection width: the audio encoder's output width


def tiny_clip_folder(folder: Path) -> Path:
    """Write the seeded tiny CLIP (model, tokenizer, image processor) to `folder`, as a hub folder is laid out."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    from live.models.tiny_text import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    text = {"hidden_size": 32, "projection_dim": TINY_CLIP_WIDTH, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": len(tokenizer),
            "max_position_embeddings": 77, "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id}  # fmt: skip
    vision = {"hidden_size": 32, "projection_dim": TINY_CLIP_WIDTH, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2,
              "image_size": TINY_CLIP_IMAGE, "patch_size": 8}  # fmt: skip
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=TINY_CLIP_WIDTH))
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    size = {"height": TINY_CLIP_IMAGE, "width": TINY_CLIP_IMAGE}
    CLIPImageProcessor(size={"shortest_edge": TINY_CLIP_IMAGE}, crop_size=size).save_pretrained(folder)
    return Path(folder)


def clip_folder(name: str) -> Path:
    """A CLIP model's folder: a local one, the hub's (downloaded or cached), or an error naming --clip."""
    from live.models.loading import resolve_folder

    return resolve_folder(name, "CLIP model (--clip)", ["*.json", "*.txt", "*.safetensors"])


def load_clip(name: str, *, vision_only: bool = False, device="cpu"):
    """(model, image processor, tokenizer or None) of a CLIP model (`tiny`, hub id or folder), in eval mode.

    vision_only: CLIPVisionModelWithProjection (what training needs: no text tower in memory); else CLIPModel."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer, CLIPVisionModelWithProjection

    from live.models.loading import first_line, load_errors, quiet_model_loading

    quiet_model_loading()
    with tempfile.TemporaryDirectory(prefix="phosphene-tiny-clip-") as tmp:
        folder = tiny_clip_folder(Path(tmp)) if name == TINY else clip_folder(name)
        try:
            if vision_only:  # its projection is the whole model's (a vision_config may state another projection_dim)
                config = CLIPConfig.from_pretrained(folder)
                config.vision_config.projection_dim = config.projection_dim
                model = CLIPVisionModelWithProjection.from_pretrained(folder, config=config.vision_config)
            else:
                model = CLIPModel.from_pretrained(folder)
            processor = CLIPImageProcessor.from_pretrained(folder)
            tokenizer = None if vision_only else CLIPTokenizer.from_pretrained(folder)
        except load_errors() as e:
            raise PhospheneError(f"--clip {name}: not a CLIP model that loads from {folder} ({first_line(e)}); give tiny, a CLIP hub id or a folder") from None
    return model.to(device).eval().requires_grad_(False), processor, tokenizer


def clip_width(model) -> int:
    """The image-embedding width of a CLIP model (its projection_dim)."""
    config = model.config
    return int(getattr(config, "projection_dim", None) or config.vision_config.projection_dim)


def clip_name(name: str) -> str:
    """What phosphene.json records for --clip: tiny, a hub id, or a folder's absolute path."""
    path = Path(name).expanduser()
    return str(path.resolve()) if name != TINY and path.exists() else name


class ImageTarget:
    """--target clip-image for fit's loop: the model, the dataset, the fewest clips a batch needs, the losses."""

    least = 2  # the InfoNCE's negatives are the batch's other clips

    def __init__(self, config: FitConfig, device):
        from live.models.audio_prompt import EncoderMeta
        from live.models.encoder import load_torch_encoder
        from live.models.fbank import fbank_for
        from training.model import build_encoder, continue_encoder, freeze

        self.device = device
        self.vision, self.processor, _ = load_clip(config.clip, vision_only=True, device=device)
        width = clip_width(self.vision)
        # a picture has no caption to mix or prompt with: TANGO mixes and label prompts are off, one output token
        config = dataclasses.replace(config, tokens=1, mix=False, label_prompts=0.0, zero_shot_weight=0.0)
        start = load_torch_encoder(config.init_from) if config.init_from is not None else None
        if start is not None:
            config = config.starting_from(start.meta.text_encoder, None)
        if width % config.head_heads:
            raise PhospheneError(f"--head-heads {config.head_heads} must divide the image-embedding width {width} of --clip {config.clip}")
        head = {"tokens": 1, "width": width, "head_layers": config.head_layers, "head_heads": config.head_heads}
        if start is None:
            encoder, fe = build_encoder(config.backbone, weights=config.weights, **head)
        else:
            encoder, fe, why = continue_encoder(start, **head)
            log.info("--init-from %s: its backbone%s", config.init_from, f" and a new head ({why})" if why else " and its head")
        trainable = freeze(encoder, feature_projection=config.freeze_feature_projection, layers=config.freeze_layers)
        if config.gradient_checkpointing:
            encoder.activation_checkpointing_enable()
        log.info("encoder: %.2f M parameters, %.2f M trainable, into the %d-wide image space of CLIP %s",
                 sum(p.numel() for p in encoder.parameters()) / 1e6, trainable / 1e6, width, config.clip)  # fmt: skip
        self.config = config
        self.fe = fe
        self.fbank = fbank_for(fe) if type(fe).__name__ == "SeamlessM4TFeatureExtractor" else None
        name = clip_name(config.clip)
        self.meta = EncoderMeta(text_encoder=name, tokens=1, width=width, window_s=config.window_s, target=CLIP_IMAGE, clip=name)
        self.encoder = encoder  # fit's target_for wraps it in a Trainee with a logit scale (the InfoNCE's)

    def dataset(self, clips):
        from training.pictures import PictureDataset, collate_pictures

        c = self.config
        windows = {"window_s": c.window_s, "seed": c.seed, "random_crop": c.random_crop, "active_crop": c.active_crop}
        return PictureDataset(clips, processor=self.processor, **windows), collate_pictures

    def losses(self, pred: torch.Tensor, batch, captions: list[str], trainee) -> dict:
        from training.losses import clap_loss, token_cosine_loss, token_mse_loss

        with torch.no_grad():
            pictures = self.vision(pixel_values=batch.pixels.to(self.device)).image_embeds.float()  # (B, P)
        audio = pred[:, 0].float()  # (B, P): the one output token
        ids = batch.pictures.to(self.device)
        parts, accuracy = {}, {}
        if self.config.clap_weight > 0:
            parts["clip_image"], accuracy["clip_image"] = clap_loss(audio, pictures, trainee.logit_scale(), caption_ids=ids)
        if self.config.distill_weight > 0:
            distance = token_cosine_loss if self.config.token_loss == "cosine" else token_mse_loss
            parts["distill"] = distance(audio[:, None], pictures[:, None])
        weights = {"clip_image": self.config.clap_weight, "distill": self.config.distill_weight}
        if not parts:
            raise PhospheneError("--target clip-image with --clap-weight 0 and --distill-weight 0 trains nothing: set one above 0")
        total = sum(weights[k] * v for k, v in parts.items())
        return {"loss": total, **{f"loss/{k}": v for k, v in parts.items()}, **{f"accuracy/{k}": v for k, v in accuracy.items()}}
