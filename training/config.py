"""What a training run is told: `FitConfig`, from a TOML file and/or command-line flags.

Only the standard library (and live's light modules) is imported here, so `python -m training fit
--help`, which lists every setting with its help text and default, answers at once.

    config = FitConfig.from_toml("run.toml", overrides={"max_steps": 200})
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from live.core.defaults import DEFAULT_DIFFUSION, TINY
from live.core.errors import PhospheneError
from live.models.hashing import cache_dir
from live.models.loading import EXPORT_FILE, folder_kind

CONFIG_FILE = "fit.json"  # the resolved settings of a run, in its output folder
MAX_TOKENS = 77  # positions of the SD text encoders (CLIP): a whole prompt
CLIP_IMAGE = "clip-image"  # --target: the encoder gives a CLIP image embedding (training/clip_image.py)
TARGETS = ("text", CLIP_IMAGE)
PATH_SETTINGS = ("output", "manifest", "dataset", "cache_dir")  # in a --config file, relative to the file's folder


def default_cache() -> Path:
    return cache_dir() / "targets"  # $XDG_CACHE_HOME/phosphene/targets, default ~/.cache/phosphene/targets


def setting(default, help: str):
    return field(default=default, metadata={"help": help})


# Recipe defaults that differ between a full-size encoder (a pretrained backbone into a real text
# space) and a tiny one (--weights tiny, or a run in the tiny text space): None in FitConfig takes these.
# Measured for tiny on rendered General MIDI phrases and the sound-icons set (docs/train.md, "Tiny and full size").
RECIPES = {
    "full": {
        "window_s": 4.0,  # audio2img's ~3.76 s; live and render windows are 2-4 s
        "batch_size": 8,  # audio2img's per-device batch; accumulate for more negatives
        "lr": 5e-5,  # fine-tuning a pretrained backbone: a larger step forgets what it knows
        "head_lr": 5e-4,  # the head starts from scratch
        "warmup_steps": 500,
        "mix": True,  # TANGO's mixes: more caption combinations than the data has
        "label_prompts": 0.0,  # a real text space already puts a caption near its class's prompt
        "zero_shot_weight": 0.0,  # likewise: its captions already rank their class's prompt first
    },
    "tiny": {
        "window_s": 0.5,  # a CPU minute buys ~8x the steps of 4 s windows; crops prefer active audio (data.active_offsets)
        "batch_size": 16,  # more negatives per step, still ~4 steps/s on 2 cores
        "lr": 3e-3,  # a random 0.1 M backbone learns from scratch: 60x the fine-tuning rate
        "head_lr": 3e-3,
        "warmup_steps": 10,  # runs are a few hundred steps
        "mix": False,  # half the windows as two-source mixes with joined captions cost a small model most of what it learns
        "label_prompts": 0.0,  # batches of prompts instead of captions pull the output halfway between the two
        "zero_shot_weight": 2.0,  # the random tiny text space puts "This is a sound of {label}" nowhere near the caption: rank both
    },
}


@dataclass
class FitConfig:
    """Every setting of a run; TOML keys and command-line flags have these names (flags with dashes)."""

    output: str = setting("", "folder for checkpoints, logs and the trained encoder (OUT/encoder)")
    # data
    manifest: str | None = setting(None, "CSV or JSONL with columns audio, caption [, start, end, label, split]")
    dataset: str | None = setting(None, "a Hugging Face `datasets` folder (save_to_disk or audiofolder) instead of a manifest")
    split: str = setting("train", "train on rows of this split, and on rows with no split")
    window_s: float | None = setting(None, "seconds per training window; live and render windows are 2-4 s")
    random_crop: bool = setting(True, "crop windows anywhere in a clip (false: always the same one, as audio2img)")
    active_crop: bool = setting(
        True,
        "prefer windows where the clip sounds: random among those at least half as active as the most active (clips up to 60 s); "
        "false: anywhere (with --no-random-crop: the clip's first window_s, as audio2img)",
    )
    num_workers: int = setting(2, "decoding processes feeding the loop (0: decode in the training process)")
    cache_dir: str | None = setting(None, "where text-encoder targets are cached (default: ~/.cache/phosphene/targets)")
    # model: a new encoder (--weights on a --backbone), or an existing one to go on from (--init-from)
    weights: str | None = setting(
        None, "a new encoder's backbone weights: pretrained | random (full size, for timing) | tiny (tests: the tiny text space too)"
    )
    backbone: str | None = setting(None, "a new encoder's backbone: w2v-bert-2.0, wav2vec2, hubert, wavlm, or a hub id / folder of one")
    init_from: str | None = setting(
        None,
        "start from this encoder instead (own or audio2img format: a folder, hub id, run's OUT/encoder, or tiny): "
        "its backbone, and its token head when L, D and the head sizes match",
    )
    # text_encoder, head_layers, head_heads: None takes the default for --weights (see __post_init__), or --init-from's
    text_encoder: str | None = setting(None, "diffusion model whose text encoder gives the targets, recorded in the checkpoint")
    tokens: int = setting(MAX_TOKENS, "L, tokens per window, 1 to 77: 77 is a whole SD prompt")
    head_layers: int | None = setting(None, "cross-attention blocks in the token head")
    head_heads: int | None = setting(None, "attention heads in the token head (must divide the text width)")
    freeze_feature_projection: bool = setting(False, "freeze the backbone's feature encoder / projection")
    freeze_layers: int = setting(0, "freeze the backbone's first N layers")
    gradient_checkpointing: bool = setting(False, "recompute activations in the backward pass: less memory, ~30%% slower")
    # recipe
    batch_size: int | None = setting(None, "clips per process per micro-batch; each clip's negatives are the rest of the global batch")
    grad_accum: int = setting(1, "micro-batches per optimiser step")
    max_steps: int = setting(10_000, "optimiser steps to train for (a resumed run continues to this)")
    lr: float | None = setting(None, "learning rate of the backbone")
    head_lr: float | None = setting(None, "learning rate of the token head and logit scale (they start from scratch)")
    weight_decay: float = setting(0.01, "AdamW weight decay")
    warmup_steps: int | None = setting(None, "linear warm-up steps before the cosine decay (at most a tenth of max_steps)")
    mixed_precision: str = setting("no", "no | fp16 | bf16 (accelerate's autocast)")
    audio2img_weight: float = setting(1.0, "weight of audio2img's per-token contrastive loss")
    temperature: float = setting(0.15, "temperature of the per-token contrastive loss (audio2img: 0.15)")
    clap_weight: float = setting(1.0, "weight of the symmetric InfoNCE on pooled tokens (learnable logit scale)")
    clap_temperature: float = setting(0.07, "the InfoNCE's starting temperature: its logit scale starts at 1 / this (CLIP, CLAP: 0.07)")
    token_weight: float = setting(1.0, "weight of the per-token distance to the targets (what the UNet reads)")
    zero_shot_weight: float | None = setting(
        None, "weight of an InfoNCE, in every batch, of the labelled clips against their zero-shot prompts ('This is a sound of {label}')"
    )
    token_loss: str = setting("cosine", "per-token distance: cosine | mse")
    mix: bool | None = setting(None, "TANGO mix of two clips with their captions joined")
    gain: bool = setting(True, "random gain, -6 to +6 dB")
    noise: bool = setting(True, "white noise at 10-40 dB SNR on some clips")
    shift: bool = setting(True, "circular time shift of up to 1 s")
    label_prompts: float | None = setting(
        None, "share of batches whose labelled clips are captioned 'This is a sound of {label}' (eval's zero-shot prompt) instead"
    )
    # CLIP's image space (Wav2CLIP's road): --target clip-image --clip MODEL
    target: str = setting(
        "text", "what the encoder learns to give: text (tokens in a diffusion model's text space) | clip-image (a CLIP image embedding)"
    )
    clip: str | None = setting(
        None, "with --target clip-image: the CLIP model whose frozen vision tower embeds the pictures: tiny, a hub id or a folder"
    )
    distill_weight: float = setting(
        0.0, "with --target clip-image: weight of a distance (--token-loss cosine | mse) from each audio embedding to its picture's"
    )
    # bookkeeping
    save_every: int = setting(500, "write a checkpoint every N steps (and at the end)")
    keep_checkpoints: int = setting(3, "checkpoints kept on disk (0: all)")
    log_every: int = setting(10, "steps between log lines (TensorBoard, log.jsonl)")
    seed: int = setting(0, "seeds crops, order, augmentation and initialisation")

    def __post_init__(self):
        # A new encoder's defaults: --weights tiny trains in the tiny text space with a head to match.
        # With --init-from, fit.build takes what is not given from the checkpoint (and records it).
        if self.init_from is not None:
            return
        self.weights = self.weights or "pretrained"
        self.backbone = self.backbone or "w2v-bert-2.0"
        if self.text_encoder is None:
            self.text_encoder = TINY if self.weights == TINY else DEFAULT_DIFFUSION
        self.head_layers, self.head_heads = self.new_head()
        self.take_recipe()

    @property
    def tiny(self) -> bool:
        return TINY in (self.weights, self.text_encoder)

    def take_recipe(self) -> None:
        """Recipe settings not given take the defaults of their size (RECIPES)."""
        for name, value in RECIPES["tiny" if self.tiny else "full"].items():
            if getattr(self, name) is None:
                setattr(self, name, value)

    def new_head(self) -> tuple[int, int]:
        """(layers, attention heads) of a new token head, where not given: 1 x 2 in the tiny text space, else 2 x 8."""
        layers, heads = (1, 2) if self.tiny else (2, 8)
        return (layers if self.head_layers is None else self.head_layers, heads if self.head_heads is None else self.head_heads)

    def starting_from(self, text_encoder: str, head: tuple[int, int] | None) -> FitConfig:
        """These settings for an --init-from run, which fit.json records: the checkpoint's text space,
        and its head's (layers, heads) when it has one, where none are given."""
        config = dataclasses.replace(self, text_encoder=self.text_encoder or text_encoder)
        if head is not None and (config.head_layers, config.head_heads) == (None, None):
            config.head_layers, config.head_heads = head
        config.head_layers, config.head_heads = config.new_head()
        config.take_recipe()
        return config

    def check(self) -> None:
        """Every setting a run can be refused for without reading a file or loading a model."""
        if not self.output:
            raise PhospheneError("no output folder: give --output DIR")
        if (self.manifest is None) == (self.dataset is None):
            raise PhospheneError("give exactly one of --manifest FILE and --dataset DIR")
        if self.init_from is not None and (self.weights, self.backbone) != (None, None):
            raise PhospheneError(f"--init-from {self.init_from} brings its own backbone and weights: drop --weights and --backbone")
        if self.init_from is not None:
            check_init_from(self.init_from)
        choices = {"weights": ("pretrained", "random", TINY), "mixed_precision": ("no", "fp16", "bf16"), "token_loss": ("cosine", "mse")}
        for name, allowed in choices.items():
            if getattr(self, name) not in (*allowed, None):
                raise PhospheneError(f"--{name.replace('_', '-')} {getattr(self, name)!r}: choose one of {', '.join(allowed)}")
        positive = ("window_s", "tokens", "head_layers", "head_heads", "batch_size", "grad_accum", "max_steps", "lr", "head_lr",
                    "temperature", "clap_temperature", "save_every", "log_every")  # fmt: skip
        for name in positive:
            if getattr(self, name) is not None and not getattr(self, name) > 0:  # None: head sizes taken from --init-from
                raise PhospheneError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        at_least_0 = ("num_workers", "freeze_layers", "weight_decay", "warmup_steps", "audio2img_weight", "clap_weight",
                      "token_weight", "zero_shot_weight", "keep_checkpoints", "seed", "label_prompts")  # fmt: skip
        for name in at_least_0:
            if getattr(self, name) is not None and not getattr(self, name) >= 0:  # None: the recipe's, taken with --init-from's size
                raise PhospheneError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(self, name)}")
        if self.target not in TARGETS:
            raise PhospheneError(f"--target {self.target!r}: choose one of {', '.join(TARGETS)}")
        if self.target == CLIP_IMAGE and not self.clip:
            raise PhospheneError("--target clip-image needs --clip MODEL: tiny, a CLIP hub id (openai/clip-vit-base-patch32) or a folder")
        if self.target != CLIP_IMAGE and self.clip:
            raise PhospheneError(f"--clip {self.clip} is for --target clip-image: add --target clip-image, or drop --clip")
        if self.distill_weight < 0:
            raise PhospheneError(f"--distill-weight must be 0 or more, got {self.distill_weight}")
        if self.label_prompts is not None and self.label_prompts > 1:
            raise PhospheneError(f"--label-prompts {self.label_prompts}: a share of batches, 0 to 1")
        if self.tokens > MAX_TOKENS:
            raise PhospheneError(f"--tokens {self.tokens}: SD text encoders take 1 to {MAX_TOKENS} positions")
        if self.audio2img_weight + self.clap_weight + self.token_weight <= 0:
            raise PhospheneError("every loss weight is 0: set --audio2img-weight, --clap-weight or --token-weight")
        if self.batch_size is not None and self.batch_size < 2 and self.audio2img_weight + self.clap_weight > 0:
            raise PhospheneError("contrastive losses need --batch-size of at least 2 (the other clips are the negatives)")

    @classmethod
    def from_dict(cls, values: dict, source: str) -> FitConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k.replace("-", "_"): v for k, v in values.items()}
        if "encoder" in values:  # its old name
            raise PhospheneError(f"{source}: encoder = {values['encoder']!r}: {renamed_encoder(values['encoder'], flags=False)}")
        unknown = sorted(set(values) - fields)
        if unknown:
            raise PhospheneError(f"{source}: unknown setting(s) {', '.join(unknown)}; see `python -m training fit --help`")
        defaults = cls()
        for name, value in values.items():
            kind = type(getattr(defaults, name))
            if kind is float and type(value) is int:
                values[name] = float(value)
            elif getattr(defaults, name) is not None and type(values[name]) is not kind and value is not None:  # defaults: full size
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


def load_run_config(out: Path) -> dict:
    path = Path(out) / CONFIG_FILE
    if not path.exists():
        raise PhospheneError(f"--resume: {out} holds no run ({CONFIG_FILE} missing); start one without --resume")
    values = json.loads(path.read_text())
    if "encoder" in values:  # a run started before `encoder` was renamed `weights`
        values["weights"] = values.pop("encoder")
    for name, before in (
        ("active_crop", False),
        ("label_prompts", 0.0),
        ("zero_shot_weight", 0.0),
        ("target", "text"),
        ("clip", None),
        ("distill_weight", 0.0),
    ):  # a run started before these existed goes on without them
        values.setdefault(name, before)
    return values


def renamed_encoder(value, *, flags: bool) -> str:
    """The error for fit's old `encoder` setting (it named the backbone's weights), as flags or as TOML keys."""
    weights, init = ("--weights", "--init-from") if flags else ("weights", "init_from")
    key = weights if value in ("pretrained", "random", TINY) else init
    fix = f"{key} {value}" if flags else f"{key} = {json.dumps(value)}"
    return (
        f"fit's encoder setting is now {weights} (pretrained, random or tiny: a new encoder's backbone weights), "
        f"and {init} names an encoder to start from: write {fix}"
    )


INIT_FROM_TAKES = (
    "--init-from takes an encoder checkpoint: a folder from `python -m training fit` or `init` "
    "(config.json + model.safetensors + phosphene.json), an audio2img checkpoint (hub id or folder), or tiny"
)


def check_init_from(name: str) -> None:
    """Refuse, before torch loads, an --init-from that is a file or another kind of Phosphene folder
    (an ONNX export, TensorRT engines, a diffusion model, an empty folder), saying which."""
    path = Path(name).expanduser()
    if path.is_file():
        raise PhospheneError(f"--init-from {name} is a file, not a checkpoint folder; {INIT_FROM_TAKES}")
    kind = folder_kind(path)
    if kind is None:
        return
    source = None
    if (path / EXPORT_FILE).is_file():
        try:
            source = json.loads((path / EXPORT_FILE).read_text()).get("source")
        except (OSError, ValueError, AttributeError):
            source = None
    came_from = f"; this export was made from {source}: --init-from {source}" if isinstance(source, str) else ""
    raise PhospheneError(f"--init-from {name} is {kind}, not a checkpoint; {INIT_FROM_TAKES}{came_from}")


def check_new_output(out: Path) -> None:
    """Refuse an --output that cannot take a new run: before anything heavy is loaded."""
    if out.exists() and not out.is_dir():
        raise PhospheneError(f"--output {out} is a file: give a folder for the run")
    if out.is_dir() and any(out.iterdir()):
        if (out / CONFIG_FILE).exists():
            raise PhospheneError(f"{out} holds a run already: add --resume to continue it, or give a new --output")
        raise PhospheneError(f"{out} exists and is not empty: give a new --output folder")
