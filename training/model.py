"""The audio encoder that Phosphene trains, and that every stage (render, live, export) loads.

A speech/audio backbone from transformers (w2v-bert-2.0 by default; wav2vec2, HuBERT and WavLM
through the same `backbone` config) followed by a token head: L learned queries cross-attend to the
backbone's frames, so the output is always exactly L x D, a whole prompt in the diffusion model's
text space, whatever the length of the audio window.

A checkpoint is a Hugging Face folder (`config.json`, `model.safetensors`,
`preprocessor_config.json`) plus `phosphene.json`, the metadata naming the text space it was
trained against (see `EncoderMeta`). `save_encoder` / `load_encoder_folder` write and read it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

META_FILE = "phosphene.json"
META_FORMAT = "phosphene-encoder"


@dataclass(frozen=True)
class EncoderMeta:
    """What `phosphene.json` declares about a checkpoint: the text space its tokens live in."""

    text_encoder: str  # model id of the diffusion model whose text encoder gave the targets
    tokens: int  # L: tokens per window, the prompt length it was trained to produce
    width: int  # D: the text encoder's hidden size; must equal the diffusion model's
    sample_rate: int = 16_000  # Hz of the waveform the encoder expects
    window_s: float = 3.76  # window length it was trained on; the default render window
    prepend_bos: bool = False  # audio2img-style outputs lack the start token; own checkpoints do not
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
        pad = None if frame_mask is None else ~frame_mask.bool()  # True where a frame is padding
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
        # The mask only lines up with the frames when the backbone keeps the input rate; after an
        # adapter downsamples, the backbone's own mask has already kept padding out of the frames.
        same_rate = attention_mask is not None and attention_mask.shape[1] == frames.shape[1]
        frame_mask = attention_mask if same_rate else None
        return BaseModelOutput(last_hidden_state=self.head(frames, frame_mask))  # (B, L, D)


AutoConfig.register(AudioPromptConfig.model_type, AudioPromptConfig)
AutoModel.register(AudioPromptConfig, AudioPromptEncoder)


def tiny_backbone_config(width: int = 32) -> dict:
    """A w2v-bert backbone small enough for CPU tests, with audio2img's 2-layer stride-2 adapter."""
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
    ).to_dict()


def save_encoder(model: PreTrainedModel, feature_extractor, meta: EncoderMeta, folder: Path) -> Path:
    """Write the HF layout (safetensors only) plus phosphene.json."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    feature_extractor.save_pretrained(folder)
    meta.save(folder)
    return folder
