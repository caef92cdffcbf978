"""The audio encoder: 16 kHz waveforms in, tokens in the diffusion model's text space out.

    encode(waveforms: float32 (B, S) at 16 kHz) -> (B, T, D)

Two checkpoint formats load behind that one interface:

- **audio2img** (`youzarsif/wav2vec2bert_2_diffusion`): a plain `Wav2Vec2BertModel` with a 2-layer
  stride-2 adapter. It gives T = 47 tokens for a 3.76 s window, the SD 2.1 text encoder's hidden
  states with the start token dropped; `meta.prepend_bos` tells the conditioning stage to put the
  start-token embedding of the empty prompt back in front, as its authors do.
- **own** (`training/model.py`): HF layout plus `phosphene.json` naming the text space (model id,
  L, D); it yields the whole L x D prompt.

Three backends give that `encode` (and `.meta`, `.name`):

- `TorchEncoder`: the checkpoint in torch. Its fbank features come from `live.models.fbank.Fbank` on the
  model's device (transformers' numpy extractor only for backbones that take raw waveforms).
- `OnnxEncoder`: an export folder (`model.onnx` + `export.json`, written by `python -m export onnx`)
  in ONNX Runtime, on CUDA when onnxruntime-gpu sees one, else on the CPU with an explicit thread count.
- `TensorRTEncoder`: an engine built by `python -m export trt`, beside its `.json` metadata.

`load_encoder(name, backend=...)` picks one; `auto` takes the fastest one available for `name`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from live.core.defaults import RANDOM, RANDOM_CLIP_IMAGE, RANDOM_OWN, SAMPLE_RATE, TINY
from live.core.errors import PhospheneError
from live.models.audio_prompt import META_FILE, AudioPromptEncoder, EncoderMeta, tiny_backbone_config
from live.models import random_weights
from live.models.loading import (
    ENCODER_BACKENDS,
    EXPORT_FILE,
    RANDOM_NOTICE,
    TINY_NOTICE,
    first_line,
    folder_kind,
    load_errors,
    quiet_model_loading,
    require_files,
    resolve_folder,
)
from live.models.runtimes import OnnxEncoder, find_export, load_tensorrt_encoder, pick_backend, read_export
from live.models.tiny_text import TINY_WIDTH

log = logging.getLogger("phosphene")

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
    fbank: torch.nn.Module | None = None  # built from feature_extractor when it is an fbank extractor
    backend: str = "torch"

    def __post_init__(self):
        from live.models.fbank import fbank_for

        self.device = torch.device(self.device)
        if self.fbank is None and type(self.feature_extractor).__name__ == "SeamlessM4TFeatureExtractor":
            self.fbank = fbank_for(self.feature_extractor, min_frames=self.min_frames)
        if self.fbank is not None:
            self.fbank = self.fbank.to(self.device)  # stays float32: a float16 power spectrum overflows

    @torch.inference_mode()
    def encode(self, waveforms: np.ndarray) -> torch.Tensor:
        """float32 (B, S) at 16 kHz -> (B, T, D) on self.device."""
        waveforms = np.asarray(waveforms, dtype=np.float32)
        if waveforms.ndim != 2:
            raise ValueError(f"encode takes (B, S) waveforms, got shape {waveforms.shape}")
        if self.fbank is not None:
            features = self.fbank(torch.from_numpy(waveforms).to(self.device))  # (B, F2, 160) float32
            return self.model(input_features=features.to(self.dtype)).last_hidden_state  # (B, T, D)
        return self.model(**self.extract(waveforms)).last_hidden_state  # (B, T, D)

    def extract(self, waveforms: np.ndarray) -> dict[str, torch.Tensor]:
        """transformers' numpy extractor: the reference Fbank is tested against, and the path for
        backbones that take raw waveforms (wav2vec2, HuBERT, WavLM)."""
        kwargs = {"padding": True}
        frames = 1 + (waveforms.shape[1] - 400) // FBANK_HOP  # Kaldi fbank, 25 ms window, 10 ms hop
        if self.min_frames and frames < self.min_frames:
            kwargs = {"padding": "max_length", "max_length": self.min_frames}
        if hasattr(self.feature_extractor, "do_normalize_per_mel_bins"):  # a call argument that the saved config carries
            kwargs["do_normalize_per_mel_bins"] = bool(self.feature_extractor.do_normalize_per_mel_bins)
        inputs = self.feature_extractor(list(waveforms), sampling_rate=SAMPLE_RATE, return_tensors="pt", **kwargs)
        inputs = {k: v.to(self.device) for k, v in inputs.items() if k in ("input_features", "input_values")}
        return {k: v.to(self.dtype) if v.is_floating_point() else v for k, v in inputs.items()}

    def graph(self, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
        """waveforms (B, S) float32 -> tokens (B, T, D) float32 as one module, for the exporters."""
        if self.fbank is None:
            raise PhospheneError(
                f"encoder '{self.name}': its backbone takes raw waveforms ({type(self.feature_extractor).__name__}); "
                "only fbank (w2v-bert) encoders can be exported"
            )
        return EncoderGraph(self.fbank.cpu(), self.model.cpu().to(dtype), dtype)


class EncoderGraph(torch.nn.Module):
    """The exported computation: fbank in float32, the model in `dtype`, tokens out in float32."""

    def __init__(self, fbank: torch.nn.Module, model: torch.nn.Module, dtype: torch.dtype):
        super().__init__()
        self.fbank, self.model, self.dtype = fbank, model, dtype

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        features = self.fbank(waveforms).to(self.dtype)  # (B, F2, 160)
        return self.model(input_features=features).last_hidden_state.float()  # (B, T, D)


def load_encoder(name: str, *, device="cpu", dtype=torch.float32, backend: str | None = None, threads: int | None = None):
    """An encoder by hub id, local folder, `tiny` (an audio2img-shaped model with random weights),
    export folder (has export.json) or TensorRT engine file, run by `backend`:

    None      the encoder's own: ONNX Runtime for an export folder, torch for a checkpoint (the default)
    torch     the checkpoint (for an export folder: the checkpoint it was exported from)
    onnx      ONNX Runtime on an export folder (`name` itself, or `name`/onnx/)
    tensorrt  a TensorRT engine (`name` itself, or an engine in the export folder), CUDA only
    auto      the fastest one available: tensorrt, then onnx (only where an export exists), then torch

    `threads` sets ONNX Runtime's intra_op_num_threads on the CPU (default: physical cores, at most 4).
    Every check that can fail (missing, truncated or mismatched files) runs here, at start-up.
    """
    quiet_model_loading()
    if backend is None:
        backend = "onnx" if (Path(name).expanduser() / EXPORT_FILE).is_file() else "torch"
    if backend not in ENCODER_BACKENDS:
        raise PhospheneError(f"encoder backend '{backend}': choose one of {', '.join(ENCODER_BACKENDS)}")
    device = torch.device(device)
    if backend == "auto":
        backend = pick_backend(name, device)
        log.info("encoder '%s': backend %s", name, backend)
    if backend == "tensorrt":
        encoder = load_tensorrt_encoder(name, device=device)
        log.info("encoder: TensorRT engine %s", encoder.name)
        return encoder
    if backend == "onnx":
        folder = find_export(name)
        if folder is None:
            raise PhospheneError(
                f"encoder '{name}' has no ONNX export (a folder with {EXPORT_FILE}): run "
                f"`python -m export onnx --encoder {name} -o DIR` and pass --encoder DIR"
            )
        encoder = OnnxEncoder.load(folder, device=device, threads=threads)
        log.info("encoder: ONNX Runtime on %s (%s)", folder / "model.onnx", ", ".join(encoder.providers))
        return encoder
    export = find_export(name)
    if export is not None and Path(name).is_dir() and (Path(name) / EXPORT_FILE).exists():
        name = read_export(export, hashes=False)["source"]  # torch on an export folder: the checkpoint it came from
        log.info("encoder: torch on %s, the checkpoint export %s was made from (--encoder-backend torch)", name, export)
    encoder = load_torch_encoder(name, device=device, dtype=dtype)
    if name != TINY:
        log.info("encoder: torch on %s", name)
    return encoder


def load_torch_encoder(name: str, *, device="cpu", dtype=torch.float32) -> TorchEncoder:
    """The torch backend: a checkpoint by hub id, local folder or `tiny`."""
    quiet_model_loading()
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

    if name in (RANDOM, RANDOM_OWN, RANDOM_CLIP_IMAGE):  # full-size, random weights, from live/models/configs
        model, fe, meta, min_frames = random_encoder(name, device=torch.device(device))
        return TorchEncoder(name, meta, model.to(device, dtype).eval(), fe, torch.device(device), dtype, min_frames)
    if name == TINY:
        log.warning(TINY_NOTICE.format(what="encoder"))
        model, fe, meta = tiny_audio2img_encoder()
        return TorchEncoder(name, meta, model.to(device, dtype).eval(), fe, torch.device(device), dtype, AUDIO2IMG_MAX_FRAMES)

    folder = resolve_folder(name, "encoder", ["*.json", "*.safetensors"])
    if not (folder / "config.json").exists() and (folder / "encoder" / "config.json").exists():
        folder = folder / "encoder"  # a training run's output folder: its newest encoder
    kind = folder_kind(folder)
    if kind is not None:
        raise PhospheneError(
            f"encoder '{name}' is {kind}, not an encoder checkpoint (config.json, model.safetensors, "
            f"preprocessor_config.json): give a folder written by `python -m training fit` or `init`, an audio2img hub id, or 'tiny'"
        )
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


def random_encoder(name: str = RANDOM, device="cpu"):
    """(model, feature extractor, EncoderMeta, min fbank frames) of `random` (audio2img) or `random-own`,
    full size with random weights (random_weights.py builds the modules)."""
    log.warning(RANDOM_NOTICE.format(what="encoder", name=name))
    fe = random_weights.feature_extractor()
    if name == RANDOM_CLIP_IMAGE:
        model = random_weights.random_clip_image_model(device)
        meta = EncoderMeta(text_encoder=RANDOM, tokens=1, width=model.config.width, target="clip-image", clip="ViT-H-14 (random)")
        log.info("encoder 'random-clip-image': w2v-bert-2.0 + adapter + image-embedding head, %.1f M parameters", random_weights.millions(model))
        return model, fe, meta, 0
    if name == RANDOM_OWN:
        model = random_weights.random_own_model(device)
        meta = EncoderMeta(text_encoder=RANDOM, tokens=model.config.num_tokens, width=model.config.width)
        log.info("encoder 'random-own': w2v-bert-2.0 + adapter + token head, %.1f M parameters", random_weights.millions(model))
        return model, fe, meta, 0
    model = random_weights.random_audio2img_model(device)
    log.info("encoder 'random': w2v-bert-2.0 + audio2img adapter, %.1f M parameters", random_weights.millions(model))
    return model, fe, audio2img_meta(model.config), AUDIO2IMG_MAX_FRAMES


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

    from live.models.audio_prompt import AudioPromptConfig

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
    if encoder.meta.text_encoder not in (diffusion_name, TINY, RANDOM) and diffusion_name not in (TINY, RANDOM):
        log.info(
            "encoder '%s' was trained against %s; using it with %s (same width %d)",
            encoder.name,
            encoder.meta.text_encoder,
            diffusion_name,
            diffusion_width,
        )


def tiny_clip_image_encoder():
    """The tiny own-format encoder with one output token: an embedding in the tiny CLIP's image space
    (what `fit --target clip-image --clip tiny --weights tiny` writes, untrained)."""
    from dataclasses import replace

    model, fe, meta = tiny_own_encoder(tokens=1)
    return model, fe, replace(meta, target="clip-image", clip=TINY)


def write_encoder_checkpoint(kind: str, folder: Path) -> Path:
    """Save a tiny encoder of `kind` ("audio2img", "own" or "clip-image") with save_pretrained, for tests and demos."""
    from live.models.audio_prompt import save_encoder

    makers = {"audio2img": tiny_audio2img_encoder, "own": tiny_own_encoder, "clip-image": tiny_clip_image_encoder}
    model, fe, meta = makers[kind]()
    if kind == "audio2img":  # audio2img's hub folder: no phosphene.json
        quiet_model_loading()
        Path(folder).mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder, safe_serialization=True)
        fe.save_pretrained(folder)
        return Path(folder)
    return save_encoder(model, fe, meta, Path(folder))
