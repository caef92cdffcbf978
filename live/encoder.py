"""The audio encoder: 16 kHz waveforms in, tokens in the diffusion model's text space out.

    encode(waveforms: float32 (B, S) at 16 kHz) -> (B, T, D)

Two checkpoint formats load behind that one interface:

- **audio2img** (`youzarsif/wav2vec2bert_2_diffusion`): a plain `Wav2Vec2BertModel` with a 2-layer
  stride-2 adapter. It gives T = 47 tokens for a 3.76 s window, the SD 2.1 text encoder's hidden
  states with the start token dropped; `meta.prepend_bos` tells the conditioning stage to put the
  start-token embedding of the empty prompt back in front, as its authors do.
- **own** (`training/model.py`): HF layout plus `phosphene.json` naming the text space (model id,
  L, D); it yields the whole L x D prompt.

This is the torch backend; ONNX Runtime and TensorRT come behind the same `encode`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from live.defaults import DEFAULT_ENCODER  # noqa: F401 (re-exported)
from live.errors import PhospheneError
from live.models import TINY, TINY_NOTICE, TINY_WIDTH, first_line, load_errors, require_files, resolve_folder
from training.model import META_FILE, AudioPromptEncoder, EncoderMeta, tiny_backbone_config

log = logging.getLogger("phosphene")

SAMPLE_RATE = 16_000
AUDIO2IMG_WINDOW_S = 3.76  # 375 fbank frames (padded to 376 = 188 x 2): what audio2img trained on
AUDIO2IMG_MAX_FRAMES = 375  # its feature extractor call: padding="max_length", max_length=375
FBANK_HOP = 160  # samples per fbank frame at 16 kHz (10 ms)


@dataclass
class TorchEncoder:
    name: str
    meta: EncoderMeta
    model: torch.nn.Module
    feature_extractor: object
    device: torch.device
    dtype: torch.dtype
    min_frames: int = 0  # pad fbank frames up to this (audio2img pads every clip to 375)

    @torch.inference_mode()
    def encode(self, waveforms: np.ndarray) -> torch.Tensor:
        """float32 (B, S) at 16 kHz -> (B, T, D) on self.device."""
        waveforms = np.asarray(waveforms, dtype=np.float32)
        if waveforms.ndim != 2:
            raise ValueError(f"encode takes (B, S) waveforms, got shape {waveforms.shape}")
        kwargs = {"padding": True}
        frames = 1 + (waveforms.shape[1] - 400) // FBANK_HOP  # Kaldi fbank, 25 ms window, 10 ms hop
        if self.min_frames and frames < self.min_frames:
            kwargs = {"padding": "max_length", "max_length": self.min_frames}
        inputs = self.feature_extractor(list(waveforms), sampling_rate=SAMPLE_RATE, return_tensors="pt", **kwargs)
        inputs = {k: v.to(self.device) for k, v in inputs.items() if k in ("input_features", "input_values")}
        inputs = {k: v.to(self.dtype) if v.is_floating_point() else v for k, v in inputs.items()}
        return self.model(**inputs).last_hidden_state  # (B, T, D)


def load_encoder(name: str, *, device="cpu", dtype=torch.float32) -> TorchEncoder:
    """An encoder by hub id, local folder or `tiny` (an audio2img-shaped model with random weights)."""
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

    if name == TINY:
        log.warning(TINY_NOTICE.format(what="encoder"))
        model, fe, meta = tiny_audio2img_encoder()
        return TorchEncoder(name, meta, model.to(device, dtype).eval(), fe, torch.device(device), dtype, AUDIO2IMG_MAX_FRAMES)

    folder = resolve_folder(name, "encoder", ["*.json", "*.safetensors"])
    require_files(
        folder,
        "encoder",
        {
            "config.json": ["config.json"],
            "model.safetensors": ["model.safetensors", "model.safetensors.index.json"],
            "preprocessor_config.json": ["preprocessor_config.json"],
        },
    )
    try:
        config = json.loads((folder / "config.json").read_text())
        if (folder / META_FILE).exists():
            meta = EncoderMeta.load(folder)
            model = AudioPromptEncoder.from_pretrained(folder, use_safetensors=True, dtype=dtype)
            from transformers import AutoFeatureExtractor

            fe = AutoFeatureExtractor.from_pretrained(folder)
            min_frames = 0
        elif config.get("model_type") == "wav2vec2-bert":
            model = Wav2Vec2BertModel.from_pretrained(folder, use_safetensors=True, dtype=dtype)
            fe = SeamlessM4TFeatureExtractor.from_pretrained(folder, stride=2)  # as audio2img's app does
            meta = audio2img_meta(model.config)
            min_frames = AUDIO2IMG_MAX_FRAMES
        else:
            raise PhospheneError(
                f"encoder '{name}': {folder} has no {META_FILE} and is not a Wav2Vec2Bert (audio2img) "
                f"checkpoint (model_type {config.get('model_type')!r}); train one with `python -m training fit`"
            )
    except PhospheneError:
        raise
    except load_errors() as e:
        raise PhospheneError(f"encoder '{name}' could not be loaded from {folder}: {first_line(e)}") from None
    if meta.sample_rate != SAMPLE_RATE:
        raise PhospheneError(f"encoder '{name}' expects {meta.sample_rate} Hz audio; Phosphene feeds {SAMPLE_RATE} Hz")
    width = model_width(model)
    if width != meta.width:
        raise PhospheneError(f"encoder '{name}': {META_FILE} says width {meta.width} but the model gives {width}")
    return TorchEncoder(name, meta, model.to(device).eval(), fe, torch.device(device), dtype, min_frames)


def model_width(model) -> int:
    c = model.config
    return int(c.width if hasattr(c, "num_tokens") else (c.output_hidden_size or c.hidden_size))


def audio2img_meta(config) -> EncoderMeta:
    """audio2img checkpoints carry no metadata: these are the facts of how they were trained."""
    return EncoderMeta(
        text_encoder="stabilityai/stable-diffusion-2-1",  # SD 2.1's text encoder; sd-turbo shares it
        tokens=47,
        width=int(config.output_hidden_size or config.hidden_size),
        window_s=AUDIO2IMG_WINDOW_S,
        prepend_bos=True,
    )


def tiny_audio2img_encoder():
    """A seeded w2v-bert with audio2img's adapter, TINY_WIDTH wide, and its feature extractor."""
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    torch.manual_seed(0)
    model = Wav2Vec2BertModel(Wav2Vec2BertConfig(**tiny_backbone_config(TINY_WIDTH)))
    fe = SeamlessM4TFeatureExtractor(stride=2)
    return model, fe, EncoderMeta(text_encoder=TINY, tokens=47, width=TINY_WIDTH, prepend_bos=True)


def tiny_own_encoder(tokens: int = 77):
    """A seeded own-format encoder (tiny backbone + token head) in the tiny text space."""
    from transformers import SeamlessM4TFeatureExtractor

    from training.model import AudioPromptConfig

    torch.manual_seed(0)
    config = AudioPromptConfig(backbone=tiny_backbone_config(TINY_WIDTH), num_tokens=tokens, width=TINY_WIDTH, head_layers=1, head_heads=2)
    model = AudioPromptEncoder(config)
    fe = SeamlessM4TFeatureExtractor(stride=2)
    return model, fe, EncoderMeta(text_encoder=TINY, tokens=tokens, width=TINY_WIDTH)


def check_width(encoder: TorchEncoder, diffusion_name: str, diffusion_width: int) -> None:
    """Refuse, at start-up, tokens of a width the diffusion model cannot take."""
    if encoder.meta.width != diffusion_width:
        raise PhospheneError(
            f"encoder '{encoder.name}' gives {encoder.meta.width}-wide tokens (trained against "
            f"'{encoder.meta.text_encoder}') but diffusion model '{diffusion_name}' takes {diffusion_width}: "
            f"use an encoder trained for that model's text space, or a diffusion model of width {encoder.meta.width}"
        )
    if encoder.meta.text_encoder not in (diffusion_name, TINY) and diffusion_name != TINY:
        log.info(
            "encoder '%s' was trained against %s; using it with %s (same width %d)",
            encoder.name,
            encoder.meta.text_encoder,
            diffusion_name,
            diffusion_width,
        )


def write_encoder_checkpoint(kind: str, folder: Path) -> Path:
    """Save a tiny encoder of `kind` ("audio2img" or "own") with save_pretrained, for tests and demos."""
    from training.model import save_encoder

    model, fe, meta = tiny_audio2img_encoder() if kind == "audio2img" else tiny_own_encoder()
    if kind == "audio2img":  # audio2img's hub folder: no phosphene.json
        Path(folder).mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder, safe_serialization=True)
        fe.save_pretrained(folder)
        return Path(folder)
    return save_encoder(model, fe, meta, Path(folder))
