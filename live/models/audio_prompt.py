"""The audio encoder's architecture and checkpoint format: what the trainer (training/) writes and
every stage (render, live, export) loads.

A speech/audio backbone from transformers (w2v-bert-2.0 by default; wav2vec2, HuBERT and WavLM
through the same `backbone` config) followed by a token head: L learned queries cross-attend to the
backbone's frames, so the output is always exactly L x D, a whole prompt in the diffusion model's
text space, whatever the length of the audio window.

A checkpoint is a Hugging Face folder (`config.json`, `model.safetensors`,
`preprocessor_config.json`) plus `phosphene.json`, the metadata naming the text space it was
trained against (see `EncoderMeta`). `save_encoder` writes it; `live.models.encoder.load_encoder` reads it. Building one from a
pretrained backbone, freezing and the training inputs are the trainer's (training/model.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from live.core.defaults import SAMPLE_RATE
from live.models.loading import quiet_model_loading

META_FILE = "phosphene.json"
META_FORMAT = "phosphene-encoder"


@dataclass(frozen=True)
class EncoderMeta:
    """What `phosphene.json` declares about a checkpoint: the text space its tokens live in."""

    text_encoder: str  # model id of the diffusion model whose text encoder gave the targets
    tokens: int  # L: tokens per window, the prompt length it was trained to produce
    width: int  # D: the text encoder's hidden size; must equal the diffusion model's
    sample_rate: int = SAMPLE_RATE  # Hz of the waveform the encoder expects
    window_s: float = 3.76  # window length it was trained on; the default render window
    prepend_bos: bool = False  # audio2img-style outputs lack the start token; own checkpoints do not
    target: str = "text"  # text: L x D tokens in a text space; clip-image: one CLIP image embedding (L = 1, D = its projection width)
    clip: str | None = None  # clip-image: the CLIP model (id or folder) whose image space it is; its text tower does zero-shot
    format: str = META_FORMAT
    version: int = 1

    def save(self, folder: Path) -> None:
        (Path(folder) / META_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> EncoderMeta:
        raw = json.loads((Path(folder) / META_FILE).read_text())
        if raw.get("format") != META_FORMAT:
            raise ValueError(f"{META_FILE} has format {raw.get('format')!r}, expected {META_FORMAT!r}")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in raw.items() if k in known})


class AudioPromptConfig(PretrainedConfig):
    model_type = "phosphene-audio-prompt"

    def __init__(
        self,
        backbone: dict | None = None,  # a transformers config as a dict (with model_type)
        num_tokens: int = 77,  # L: SD's text encoders give 77 positions
        width: int = 1024,  # D: sd-turbo / SD 2.x text width
        head_layers: int = 2,  # cross-attention blocks in the token head; 2 is plenty to pool frames
        head_heads: int = 8,  # attention heads in the head; width must divide by it
        **kwargs,
    ):
        self.backbone = backbone or {"model_type": "wav2vec2-bert"}
        self.num_tokens = num_tokens
        self.width = width
        self.head_layers = head_layers
        self.head_heads = head_heads
        super().__init__(**kwargs)


class TokenHead(nn.Module):
    """L learned queries attend to the backbone frames: (B, T, H) -> (B, L, D), any T."""

    def __init__(self, hidden: int, num_tokens: int, width: int, layers: int, heads: int):
        super().__init__()
        self.proj_in = nn.Linear(hidden, width)
        self.queries = nn.Parameter(torch.randn(num_tokens, width) * 0.02)  # (L, D)
        block = nn.TransformerDecoderLayer(d_model=width, nhead=heads, dim_feedforward=4 * width, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerDecoder(block, num_layers=layers)
        self.norm_out = nn.LayerNorm(width)

    def forward(self, frames: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        memory = self.proj_in(frames)  # (B, T, D)
        queries = self.queries.unsqueeze(0).expand(frames.shape[0], -1, -1)  # (B, L, D)
        pad = None  # additive: -inf on padding frames (a float mask, as the query masks are, so torch does not warn)
        if frame_mask is not None:
            pad = torch.zeros(frame_mask.shape, dtype=memory.dtype, device=memory.device).masked_fill(~frame_mask.bool(), float("-inf"))
        return self.norm_out(self.blocks(queries, memory, memory_key_padding_mask=pad))  # (B, L, D)


class AudioPromptEncoder(PreTrainedModel):
    config_class = AudioPromptConfig
    base_model_prefix = "encoder"
    main_input_name = "input_features"
    supports_gradient_checkpointing = True

    def __init__(self, config: AudioPromptConfig):
        super().__init__(config)
        backbone_config = AutoConfig.for_model(**config.backbone)
        self.backbone = AutoModel.from_config(backbone_config)
        hidden = getattr(backbone_config, "output_hidden_size", None) or backbone_config.hidden_size
        self.head = TokenHead(hidden, config.num_tokens, config.width, config.head_layers, config.head_heads)
        self.post_init()

    def forward(self, input_features=None, input_values=None, attention_mask=None, **_):
        # w2v-bert takes fbank features; wav2vec2 / HuBERT / WavLM take the raw waveform
        inputs = {"input_features": input_features} if input_features is not None else {"input_values": input_values}
        frames = self.backbone(**inputs, attention_mask=attention_mask).last_hidden_state  # (B, T, H)
        frame_mask = None if attention_mask is None else self.frame_mask(attention_mask, frames.shape[1])
        return BaseModelOutput(last_hidden_state=self.head(frames, frame_mask))  # (B, L, D)

    def frame_mask(self, attention_mask: torch.Tensor, frames: int) -> torch.Tensor:
        """The input mask (B, S) carried to the backbone's output rate (B, T): True on frames of real audio,
        so the head's queries never attend to padding."""
        lengths = attention_mask.sum(-1)  # (B,)
        backbone, adapter = self.backbone, getattr(self.backbone, "adapter", None)
        if adapter is not None and hasattr(adapter, "_compute_sub_sample_lengths_from_attention_mask"):
            for _ in adapter.layers:  # w2v-bert: each adapter layer downsamples by its stride
                lengths = adapter._compute_sub_sample_lengths_from_attention_mask(lengths)
        elif hasattr(backbone, "_get_feat_extract_output_lengths"):
            lengths = backbone._get_feat_extract_output_lengths(lengths)  # wav2vec2 / HuBERT / WavLM conv stack
        lengths = lengths.long().clamp(1, frames)  # at least one frame, so a query always has a key
        return torch.arange(frames, device=attention_mask.device) < lengths[:, None]


AutoConfig.register(AudioPromptConfig.model_type, AudioPromptConfig)
AutoModel.register(AudioPromptConfig, AudioPromptEncoder)


def tiny_backbone_config(width: int = 32, model_type: str = "wav2vec2-bert") -> dict:
    """A backbone small enough for CPU tests: w2v-bert with audio2img's 2-layer stride-2 adapter, or a
    2-layer wav2vec2 / HuBERT / WavLM whose 3-conv feature encoder keeps their 320-sample hop.

    No dropout, layer drop or SpecAugment: regularisers for 600 M parameters only slow a 0.1 M model
    down, and the tests train it for a minute or two."""
    quiet = {
        "hidden_dropout": 0.0,
        "activation_dropout": 0.0,
        "attention_dropout": 0.0,
        "feat_proj_dropout": 0.0,
        "layerdrop": 0.0,
        "apply_spec_augment": False,
    }
    if model_type != "wav2vec2-bert":
        return AutoConfig.for_model(
            model_type,
            hidden_size=width,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=2 * width,
            conv_dim=(width,) * 3,
            conv_kernel=(10, 8, 8),
            conv_stride=(5, 8, 8),
            num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=2,
            **({"num_buckets": 32, "max_bucket_distance": 80} if model_type == "wavlm" else {}),
            **quiet,
        ).to_dict()
    from transformers import Wav2Vec2BertConfig

    return Wav2Vec2BertConfig(
        hidden_size=width,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * width,
        conv_depthwise_kernel_size=3,
        add_adapter=True,
        adapter_kernel_size=3,
        adapter_stride=2,
        num_adapter_layers=2,
        output_hidden_size=width,
        **quiet,
    ).to_dict()


def save_encoder(model: PreTrainedModel, feature_extractor, meta: EncoderMeta, folder: Path) -> Path:
    """Write the HF layout (safetensors only) plus phosphene.json."""
    quiet_model_loading()  # no "Writing model shards" bar: `training init`, fit's checkpoints
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    feature_extractor.save_pretrained(folder)
    meta.save(folder)
    return folder
