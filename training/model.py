"""Building the encoder for training: backbones (w2v-bert-2.0, wav2vec2, HuBERT, WavLM) loaded from a
hub id or folder, freezing, and the model inputs a batch becomes. The architecture and checkpoint
format it trains are `live.models.audio_prompt`'s (imported here, so the runtime never imports the
trainer)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModel

from live.core.defaults import SAMPLE_RATE
from live.core.errors import ModelNotFound, PhospheneError
from live.models.loading import first_line, folder_kind, load_errors, quiet_model_loading, resolve_folder
from live.models.audio_prompt import (
    AudioPromptConfig,
    AudioPromptEncoder,
    tiny_backbone_config,
)

# --backbone names and the checkpoints they load; any other hub id or folder of these model types works too
BACKBONES = {
    "w2v-bert-2.0": "facebook/w2v-bert-2.0",
    "wav2vec2": "facebook/wav2vec2-base",
    "hubert": "facebook/hubert-base-ls960",
    "wavlm": "microsoft/wavlm-base-plus",
}
MODEL_TYPES = {"w2v-bert-2.0": "wav2vec2-bert", "wav2vec2": "wav2vec2", "hubert": "hubert", "wavlm": "wavlm"}
TINY_BACKBONE_WIDTH = 32  # hidden size of --weights tiny's backbone; 64 (0.33 M parameters) measured no better in 500 steps
# audio2img's adapter on w2v-bert: two stride-2 layers, 50 -> 12.5 frames per second
AUDIO2IMG_ADAPTER = {"add_adapter": True, "adapter_kernel_size": 3, "adapter_stride": 2, "num_adapter_layers": 2}


def build_encoder(
    backbone: str = "w2v-bert-2.0",
    *,
    tokens: int = 77,
    width: int = 1024,
    weights: str = "pretrained",
    head_layers: int = 2,
    head_heads: int = 8,
    flag: str = "--backbone",
):
    """A new AudioPromptEncoder and its feature extractor (`flag`: where the user named `backbone`, for the errors).

    backbone  a BACKBONES name, or a hub id / folder of a w2v-bert, wav2vec2, HuBERT or WavLM checkpoint
    weights   pretrained: the backbone's own weights (the head starts random); random: the full-size
              architecture with random weights (for timing); tiny: a 2-layer, 32-wide version (for tests)
    """
    from transformers import AutoConfig, AutoFeatureExtractor, SeamlessM4TFeatureExtractor, Wav2Vec2FeatureExtractor

    if weights not in ("pretrained", "random", "tiny"):
        raise ValueError(f"weights must be pretrained, random or tiny, not {weights!r}")
    model_type = MODEL_TYPES.get(backbone)
    folder = None
    if weights == "pretrained" or model_type is None:
        try:
            folder = resolve_folder(BACKBONES.get(backbone, backbone), "backbone", ["*.json", "*.safetensors", "*.txt"])
        except PhospheneError as e:
            if backbone in BACKBONES:  # a known name not downloaded: the hub advice (or a smoke run with --weights tiny) fits
                raise
            path = Path(backbone).expanduser()
            if isinstance(e, ModelNotFound):
                where = f"no local folder, not in the Hugging Face cache, and the hub cannot be reached: `hf download {backbone}` on a connected machine"
            else:
                where = "a file, not a folder" if path.exists() else "no such folder"
            smoke = "; or use --weights tiny without --backbone for a smoke run" if weights != "tiny" else ""
            raise PhospheneError(
                f"{flag} {backbone}: not one of {', '.join(BACKBONES)} ({where}); "
                f"give one of those names, or a hub id / folder of a w2v-bert, wav2vec2, HuBERT or WavLM checkpoint{smoke}"
            ) from None
        kind = folder_kind(folder)
        if kind is not None:
            raise PhospheneError(
                f"{flag} {backbone} is {kind}, not a backbone checkpoint: give one of {', '.join(BACKBONES)}, "
                "or a hub id / folder of a w2v-bert, wav2vec2, HuBERT or WavLM checkpoint (config.json + model.safetensors)"
            )
        try:
            model_type = AutoConfig.from_pretrained(folder).model_type
        except load_errors() as e:
            raise PhospheneError(
                f"{flag} {backbone}: {folder} is not a readable backbone checkpoint ({first_line(e)}); give one of "
                f"{', '.join(BACKBONES)}, or a hub id / folder of a w2v-bert, wav2vec2, HuBERT or WavLM checkpoint"
            ) from None
    if model_type not in MODEL_TYPES.values():
        raise PhospheneError(
            f"backbone '{backbone}' is a {model_type} model; choose w2v-bert-2.0, wav2vec2, hubert, wavlm "
            "or a checkpoint of one of those types"
        )
    fbank = model_type == "wav2vec2-bert"
    if weights == "tiny":
        config = tiny_backbone_config(TINY_BACKBONE_WIDTH, model_type)
    elif weights == "random":
        config = AutoConfig.for_model(model_type, **(AUDIO2IMG_ADAPTER if fbank else {})).to_dict()
    else:
        config = AutoConfig.from_pretrained(folder, **(AUDIO2IMG_ADAPTER if fbank else {})).to_dict()
    torch.manual_seed(0)
    model = AudioPromptEncoder(
        AudioPromptConfig(backbone=config, num_tokens=tokens, width=width, head_layers=head_layers, head_heads=head_heads)
    )
    if weights == "pretrained":
        quiet_model_loading()
        pretrained = AutoModel.from_pretrained(folder, config=AutoConfig.for_model(**config), use_safetensors=True)
        missing, _ = model.backbone.load_state_dict(pretrained.state_dict(), strict=False)
        new = [k for k in missing if not k.startswith("adapter.")]  # the adapter is new, as in audio2img
        if new:
            raise PhospheneError(f"backbone '{backbone}' lacks weights for {len(new)} tensors (first: {new[0]})")
        fe = AutoFeatureExtractor.from_pretrained(folder)
        if fbank and getattr(fe, "stride", 2) != 2:
            fe = SeamlessM4TFeatureExtractor.from_pretrained(folder, stride=2)
    elif fbank:  # w2v-bert-2.0's: 80 mel bins, two frames per step; tiny: without per-bin normalisation (see Fbank)
        fe = SeamlessM4TFeatureExtractor(stride=2, do_normalize_per_mel_bins=weights != "tiny")
    else:
        fe = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)
    return model, fe


def continue_encoder(start, *, tokens: int, width: int, head_layers: int, head_heads: int):
    """An AudioPromptEncoder that starts from a loaded encoder (live.models.encoder.TorchEncoder, own or
    audio2img format): its backbone, and its token head when that gives `tokens` x `width` with
    `head_layers` x `head_heads`. Returns (encoder, feature extractor, why the head is new, or None).
    """
    model = start.model
    if isinstance(model, AudioPromptEncoder):
        c = model.config
        if (c.num_tokens, c.width, c.head_layers, c.head_heads) == (tokens, width, head_layers, head_heads):
            return model, start.feature_extractor, None
        backbone, why = model.backbone, f"it gives L={c.num_tokens} x D={c.width} from a {c.head_layers} x {c.head_heads} head"
    else:  # audio2img: a Wav2Vec2BertModel (adapter included) whose frames are the tokens
        backbone, why = model, "an audio2img checkpoint has none"
    torch.manual_seed(0)
    config = AudioPromptConfig(
        backbone=backbone.config.to_dict(), num_tokens=tokens, width=width, head_layers=head_layers, head_heads=head_heads
    )
    encoder = AudioPromptEncoder(config)
    encoder.backbone.load_state_dict(backbone.state_dict())
    return encoder, start.feature_extractor, why


def freeze(model: AudioPromptEncoder, *, feature_projection: bool = False, layers: int = 0) -> int:
    """Stop gradients into the backbone's feature encoder/projection and its first `layers` layers;
    returns how many parameters stay trainable."""
    backbone = model.backbone
    parts = []
    if feature_projection:
        parts += [getattr(backbone, name) for name in ("feature_extractor", "feature_projection") if hasattr(backbone, name)]
    encoder_layers = backbone.encoder.layers
    if not 0 <= layers <= len(encoder_layers):
        raise PhospheneError(f"--freeze-layers {layers}: the backbone has {len(encoder_layers)} layers")
    parts += list(encoder_layers[:layers])
    for part in parts:
        part.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_inputs(feature_extractor, waveforms: torch.Tensor, masks: torch.Tensor, fbank=None, frame_multiple: int = 1) -> dict:
    """(B, S) waveforms and masks -> the backbone's inputs with an attention mask.

    Each example's real samples (mask True; after a time shift they may wrap around) are taken on
    their own, so features and their normalisation never see padding, as at inference on a full
    window. `fbank` (live.models.fbank.Fbank) computes w2v-bert features in torch, as the live path does
    (on its own device); raw-waveform backbones go through their feature extractor (zero mean, unit
    variance).

    w2v-bert's adapter convolutions (kernel 3, stride 2) read one frame past an odd-length input,
    and in a padded batch that frame is padding: a padded example's frames are cut to a multiple
    of `frame_multiple` (stride ** adapter layers, see `frame_multiple`) so none is ever read; at
    most 60 ms of a short clip is lost.
    """
    real = [w[m] for w, m in zip(waveforms, masks, strict=True)]
    real = [r if len(r) >= MIN_SAMPLES else torch.nn.functional.pad(r, (0, MIN_SAMPLES - len(r))) for r in real]
    if fbank is None:
        extra = (
            {"do_normalize_per_mel_bins": feature_extractor.do_normalize_per_mel_bins}
            if hasattr(feature_extractor, "do_normalize_per_mel_bins")
            else {}
        )
        out = feature_extractor(
            [r.numpy() for r in real], sampling_rate=SAMPLE_RATE, padding=True, return_attention_mask=True, return_tensors="pt", **extra
        )
        key = "input_features" if "input_features" in out else "input_values"
        return {key: out[key], "attention_mask": out["attention_mask"]}
    device = fbank.kernel.device
    feats = [fbank(r[None].to(device))[0] for r in real]  # (F2_i, 160) each
    longest = max(len(f) for f in feats)
    feats = [f if len(f) == longest else f[: max(len(f) // frame_multiple, 1) * frame_multiple] for f in feats]
    features = torch.zeros(len(feats), longest, feats[0].shape[-1], device=device)
    attention = torch.zeros(len(feats), longest, dtype=torch.long, device=device)
    for i, f in enumerate(feats):
        features[i, : len(f)], attention[i, : len(f)] = f, 1
    return {"input_features": features, "attention_mask": attention}


def frame_multiple(model: AudioPromptEncoder) -> int:
    """Input frames per output frame of a w2v-bert adapter (2 stride-2 layers: 4); 1 without one."""
    c = model.backbone.config
    return c.adapter_stride**c.num_adapter_layers if getattr(c, "add_adapter", False) else 1


MIN_SAMPLES = 1_600  # 0.1 s: ten fbank frames (per-utterance normalisation needs several), enough for the wav2vec2 conv stack
