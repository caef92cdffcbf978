"""What a training run is told: `FitConfig`, from a TOML file and/or command-line flags.

Only the standard library (and live's light modules) is imported here, so `python -m training fit
--help`, which lists every setting with its help text and default, answers at once.

    config = FitConfig.from_toml("run.toml", overrides={"max_steps": 200})
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from live.core.defaults import DEFAULT_DIFFUSION, TINY
from live.core.errors import PhospheneError

CONFIG_FILE = "fit.json"  # the resolved settings of a run, in its output folder
MAX_TOKENS = 77  # positions of the SD text encoders (CLIP): a whole prompt
PATH_SETTINGS = ("output", "manifest", "dataset", "cache_dir")  # in a --config file, relative to the file's folder


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "phosphene" / "targets"


def setting(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class FitConfig:
    """Every setting of a run; TOML keys and command-line flags have these names (flags with dashes)."""

    output: str = setting("", "folder for checkpoints, logs and the trained encoder (OUT/encoder)")
    # data
    manifest: str | None = setting(None, "CSV or JSONL with columns audio, caption [, start, end, label, split]")
    dataset: str | None = setting(None, "a Hugging Face `datasets` folder (save_to_disk or audiofolder) instead of a manifest")
    split: str = setting("train", "train on rows of this split, and on rows with no split")
    window_s: float = setting(4.0, "seconds per training window; live and render windows are 2-4 s")
    random_crop: bool = setting(True, "crop windows anywhere in a clip (false: always its first window_s, as audio2img)")
    num_workers: int = setting(2, "decoding processes feeding the loop (0: decode in the training process)")
    cache_dir: str | None = setting(None, "where text-encoder targets are cached (default: ~/.cache/phosphene/targets)")
    # model
    encoder: str = setting(
        "pretrained", "backbone weights: pretrained | random (full size, for timing) | tiny (tests: tiny text encoder too)"
    )
    backbone: str = setting("w2v-bert-2.0", "w2v-bert-2.0, wav2vec2, hubert, wavlm, or a hub id / folder of one of those")
    # text_encoder, head_layers, head_heads: None takes the default for --encoder (see __post_init__)
    text_encoder: str | None = setting(None, "diffusion model whose text encoder gives the targets, recorded in the checkpoint")
    tokens: int = setting(MAX_TOKENS, "L, tokens per window, 1 to 77: 77 is a whole SD prompt")
    head_layers: int | None = setting(None, "cross-attention blocks in the token head")
    head_heads: int | None = setting(None, "attention heads in the token head (must divide the text width)")
    freeze_feature_projection: bool = setting(False, "freeze the backbone's feature encoder / projection")
    freeze_layers: int = setting(0, "freeze the backbone's first N layers")
    gradient_checkpointing: bool = setting(False, "recompute activations in the backward pass: less memory, ~30%% slower")
    # recipe
    batch_size: int = setting(8, "clips per process per micro-batch; each clip's negatives are the rest of the global batch")
    grad_accum: int = setting(1, "micro-batches per optimiser step")
    max_steps: int = setting(10_000, "optimiser steps to train for (a resumed run continues to this)")
    lr: float = setting(5e-5, "learning rate of the backbone")
    head_lr: float = setting(5e-4, "learning rate of the token head and logit scale (they start from scratch)")
    weight_decay: float = setting(0.01, "AdamW weight decay")
    warmup_steps: int = setting(500, "linear warm-up steps before the cosine decay (at most a tenth of max_steps)")
    mixed_precision: str = setting("no", "no | fp16 | bf16 (accelerate's autocast)")
    audio2img_weight: float = setting(1.0, "weight of audio2img's per-token contrastive loss")
    temperature: float = setting(0.15, "temperature of the per-token contrastive loss (audio2img: 0.15)")
    clap_weight: float = setting(1.0, "weight of the symmetric InfoNCE on pooled tokens (learnable logit scale)")
    token_weight: float = setting(1.0, "weight of the per-token distance to the targets (what the UNet reads)")
    token_loss: str = setting("cosine", "per-token distance: cosine | mse")
    mix: bool = setting(True, "TANGO mix of two clips with their captions joined")
    gain: bool = setting(True, "random gain, -6 to +6 dB")
    noise: bool = setting(True, "white noise at 10-40 dB SNR on some clips")
    shift: bool = setting(True, "circular time shift of up to 1 s")
    # bookkeeping
    save_every: int = setting(500, "write a checkpoint every N steps (and at the end)")
    keep_checkpoints: int = setting(3, "checkpoints kept on disk (0: all)")
    log_every: int = setting(10, "steps between log lines (TensorBoard, log.jsonl)")
    seed: int = setting(0, "seeds crops, order, augmentation and initialisation")

    def __post_init__(self):
        # --encoder tiny trains in the tiny text space with a head to match, unless told otherwise
        tiny = self.encoder == TINY
        if self.text_encoder is None:
            self.text_encoder = TINY if tiny else DEFAULT_DIFFUSION
        if self.head_layers is None:
            self.head_layers = 1 if tiny else 2
        if self.head_heads is None:
            self.head_heads = 2 if tiny else 8

    def check(self) -> None:
        """Every setting a run can be refused for without reading a file or loading a model."""
        if not self.output:
            raise PhospheneError("no output folder: give --output DIR")
        if (self.manifest is None) == (self.dataset is None):
            raise PhospheneError("give exactly one of --manifest FILE and --dataset DIR")
        choices = {"encoder": ("pretrained", "random", TINY), "mixed_precision": ("no", "fp16", "bf16"), "token_loss": ("cosine", "mse")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise PhospheneError(f"--{name.replace('_', '-')} {getattr(self, name)!r}: choose one of {', '.join(allowed)}")
        positive = ("window_s", "tokens", "head_layers", "head_heads", "batch_size", "grad_accum", "max_steps", "lr", "head_lr",
                    "temperature", "save_every", "log_every")  # fmt: skip
        for name in positive:
            if not getattr(self, name) > 0:
                raise PhospheneError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        at_least_0 = ("num_workers", "freeze_layers", "weight_decay", "warmup_steps", "audio2img_weight", "clap_weight",
                      "token_weight", "keep_checkpoints", "seed")  # fmt: skip
        for name in at_least_0:
            if not getattr(self, name) >= 0:
                raise PhospheneError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(self, name)}")
        if self.tokens > MAX_TOKENS:
            raise PhospheneError(f"--tokens {self.tokens}: SD text encoders take 1 to {MAX_TOKENS} positions")
        if self.audio2img_weight + self.clap_weight + self.token_weight <= 0:
            raise PhospheneError("every loss weight is 0: set --audio2img-weight, --clap-weight or --token-weight")
        if self.batch_size < 2 and self.audio2img_weight + self.clap_weight > 0:
            raise PhospheneError("contrastive losses need --batch-size of at least 2 (the other clips are the negatives)")

    @classmethod
    def from_dict(cls, values: dict, source: str) -> FitConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k.replace("-", "_"): v for k, v in values.items()}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise PhospheneError(f"{source}: unknown setting(s) {', '.join(unknown)}; see `python -m training fit --help`")
        defaults = cls()
        for name, value in values.items():
            kind = type(getattr(defaults, name))
            if kind is float and type(value) is int:
                values[name] = float(value)
            elif getattr(defaults, name) is not None and type(values[name]) is not kind and value is not None:
                raise PhospheneError(f"{source}: {name} = {value!r} should be a {kind.__name__}")
        return cls(**values)

    @classmethod
    def from_toml(cls, path, overrides: dict | None = None) -> FitConfig:
        """Settings from a TOML file (top level or a [fit] table), then `overrides` on top. Relative
        paths in the file (PATH_SETTINGS) are taken from the file's folder, as a manifest's audio paths are."""
        path = Path(path).expanduser()
        try:
            values = tomllib.loads(path.read_text())
        except (FileNotFoundError, IsADirectoryError):
            raise PhospheneError(f"config '{path}' is not a file: give a .toml file of settings") from None
        except tomllib.TOMLDecodeError as e:
            raise PhospheneError(f"config '{path}' is not valid TOML: {e}") from None
        values = {k.replace("-", "_"): v for k, v in values.get("fit", values).items()}
        for name in PATH_SETTINGS:
            if isinstance(values.get(name), str):
                values[name] = str(path.parent / Path(values[name]).expanduser())  # an absolute path stays itself
        return cls.from_dict({**values, **(overrides or {})}, str(path))


def check_new_output(out: Path) -> None:
    """Refuse an --output that cannot take a new run: before anything heavy is loaded."""
    if out.exists() and not out.is_dir():
        raise PhospheneError(f"--output {out} is a file: give a folder for the run")
    if out.is_dir() and any(out.iterdir()):
        if (out / CONFIG_FILE).exists():
            raise PhospheneError(f"{out} holds a run already: add --resume to continue it, or give a new --output")
        raise PhospheneError(f"{out} exists and is not empty: give a new --output folder")
