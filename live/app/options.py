"""The option groups `render`, `run` and `tune` share, declared once, and the checks on them that
come before any work: the models, the engine, the picture, the scenes, the audio source and the
files a command writes. Each command's own options live in its module (render_cli, run_cli,
tune_cli); this module is imported at `--help` time, so it imports the standard library only at
the top (the settings dataclasses it reads defaults from are torch-free).
"""

from __future__ import annotations

import argparse
import logging

from live.app.transition import DEFAULT_TRANSITION
from live.core.units import COUNT, DURATION, SECONDS, SHARE, Number, size_arg

log = logging.getLogger("phosphene")

BARS = Number("a whole number of bars", lo=1, example="8", whole=True)
IMAGE_SCALE = Number("an IP-Adapter scale", lo=0.0, hi=2.0, example="0.8")


def add_model_args(p: argparse.ArgumentParser) -> None:
    """The models (render, run, tune, bench render): each flag None when not given, so --models tiny cannot hide one."""
    from live.models.loading import ENCODER_BACKENDS, Models

    d = Models()  # the defaults, stated once there
    export = "an export folder from `python -m export onnx`"
    g = p.add_argument_group("models (hub id, local folder, or tiny)")
    g.add_argument("--encoder", help=f"audio encoder: audio2img checkpoint, one trained by `python -m training fit`, or {export} (default: {d.encoder})")
    g.add_argument(
        "--diffusion",
        help=f"few-step diffusion model: sd-turbo class, or an SD 1.5 folder with a few-step LoRA (the family is read from its "
        f"unet/scheduler configs) (default: {d.diffusion})",
    )
    g.add_argument("--lora", metavar="FILE", help="a few-step LoRA .safetensors for an SD 1.5 --diffusion (LCM-LoRA, TCD; default: the folder's lora/*.safetensors)")
    g.add_argument(
        "--ip-adapter", metavar="FILE",
        help="an IP-Adapter .safetensors (h94/IP-Adapter layout) for --condition image|both (default: the diffusion folder's ip_adapter/*.safetensors)",
    )  # fmt: skip
    g.add_argument("--vae", help=f"TAESD (AutoencoderTiny) folder/id, or `full` for the diffusion model's own VAE (default: {d.vae})")
    g.add_argument(
        "--encoder-backend",
        choices=ENCODER_BACKENDS,
        help=f"encoder runtime: torch; onnx ({export}); tensorrt; auto = TensorRT engine > ONNX export > torch "
        "(default: an export folder runs in ONNX Runtime, a checkpoint in torch)",
    )
    g.add_argument("--encoder-threads", type=COUNT, metavar="N", help="ONNX Runtime CPU threads (default: physical cores, at most 4)")
    g.add_argument(
        "--models",
        choices=["tiny", "tiny-sd15", "random"],
        help="set every model at once: `tiny` for an offline smoke run (sd-turbo's shape); `tiny-sd15`: a tiny SD 1.5 UNet + "
        "LCM-LoRA, written as a folder and loaded back; `random`: the full-size architectures with random weights, built offline "
        "for timing (sd-turbo; with --condition image|both SD 1.5 + LCM and ip-adapter_sd15; --encoder random-own: our own "
        "encoder format); a model flag given beside it wins",
    )
    g.add_argument(
        "--fallback",
        choices=["shader", "tiny", "none"],
        default="shader",
        help="if the models cannot be found: `shader` draws with the shader engine and says so, `tiny` uses random weights, "
        "`none` stops with the reason",
    )
    g.add_argument("--compute", default="auto", help="where the models run: auto (CUDA with fp16 if present, else CPU), cpu, cuda, cuda:N")


def add_condition_args(g) -> None:
    """--condition and --image-scale (render, run, tune): which road the audio steers the picture by."""
    from live.models.settings import ConditioningConfig as c

    g.add_argument(
        "--condition",
        choices=["text", "image", "both"],
        default=c.condition,
        help="text: the encoder's text-space tokens (audio2img's road); image: an image-space encoder's CLIP image embedding "
        "through the UNet's IP-Adapter (fit --target clip-image); both: that image embedding beside --prompt (default: " + c.condition + ")",
    )
    g.add_argument(
        "--image-scale", type=IMAGE_SCALE, default=c.image_scale, metavar="S",
        help="IP-Adapter scale for --condition image|both: 0 = the text side only, 1 = the adapter's own weight",
    )  # fmt: skip


def add_engine_args(p: argparse.ArgumentParser, *, default: str | None = "diffusion", default_text: str = "") -> None:
    """--engine and --half-beat (render, run). run's default is None: the profile's engine."""
    p.add_argument(
        "--engine",
        choices=["diffusion", "shader"],
        default=default,
        help="diffusion: the audio encoder + img2img; shader: the GLSL stages alone, driven by the audio features "
        f"(no weights, no torch){default_text}",
    )
    p.add_argument(
        "--half-beat",
        action="store_true",
        help="move the beat clock by half a beat: for music where the tracker finds the tempo but sits on the off-beat "
        "(live, the O key toggles it)",
    )


def add_picture_args(g, defaults: dict) -> None:
    """The picture's size and the diffusion schedule (render, run). `defaults` by dest: render's
    settings; run gives none (the profile's own, said in the group's title)."""
    d = defaults.get
    g.add_argument("--size", type=size_arg, default=d("size"), metavar="PX|WxH", help="picture size: N for N x N, or WIDTHxHEIGHT such as 1280x720")
    steps_default = " (default: the model family's: 2 for sd-turbo, 4 for SD 1.5 + LCM-LoRA)" if "steps" in defaults and d("steps") is None else ""
    g.add_argument("--steps", type=COUNT, default=d("steps"), help="scheduler steps; UNet calls per frame = int(steps * strength)" + steps_default)
    g.add_argument("--strength", type=SHARE, default=d("strength"), help="share of each frame repainted: lower is calmer, more of the last frame")
    g.add_argument("--window", type=DURATION, default=d("window"), metavar="S", help=d("window_help", "encoder window in seconds"))
    g.add_argument("--hop", type=DURATION, default=d("hop"), metavar="S", help="seconds between encoder windows; frames in between are slerped")


def add_segment_args(p: argparse.ArgumentParser) -> None:
    """The part of a file to use (render, beats)."""
    p.add_argument("--start", type=SECONDS, default=0.0, metavar="S", help="start of the segment in seconds")
    p.add_argument("--duration", type=DURATION, metavar="S", help="length of the segment in seconds (default: to the end)")


def add_scene_args(p: argparse.ArgumentParser, *, live: bool) -> None:
    g = p.add_argument_group("scenes and transitions (see `scenes`)")
    g.add_argument("--scene", metavar="NAME", help="start with this scene (default: classic, the look Phosphene always had)")
    g.add_argument("--scenes", metavar="DIR", help="a folder of your own NAME.toml scenes, beside the shipped ones (yours win by name)")
    cues = "; live it is a cue list: the next entry fires on 'next' (N key, MIDI, OSC) or by itself at its time or bar"
    g.add_argument(
        "--timeline",
        metavar="FILE.toml",
        help='[[cue]] entries at "m:ss.s" or "bar N", each a scene and/or prompt and a transition' + (cues if live else ""),
    )
    g.add_argument(
        "--transition",
        default=DEFAULT_TRANSITION,
        metavar="TEXT",
        help="how scenes change: cut | crossfade N beats|bars | dissolve N beats|bars, then on now|beat|bar|phrase [4|8|16] (when a go lands)",
    )
    g.add_argument("--auto-advance", type=BARS, metavar="BARS", help="go to the next scene every BARS bars by itself")
    g.add_argument("--shuffle", action="store_true", help="with --auto-advance or next: the next scene at random (seeded), not in order")


def add_source_args(p: argparse.ArgumentParser, *, device: str, input: str) -> None:
    """Where live audio comes from (run, tune): a device, or a file played in at real time."""
    p.add_argument("--device", metavar="NAME|INDEX", help=device)
    p.add_argument("--input", metavar="FILE", help=input)


def add_stats_arg(p: argparse.ArgumentParser, figures: str) -> None:
    p.add_argument("--stats-json", metavar="FILE", help=f"write the run's figures as JSON: {figures}")


# ---- the checks before any work ------------------------------------------------------------------


def check_outputs(args) -> None:
    """Every file a command will write, checked before any work (the MP4 itself: by the renderer)."""
    from live.core.paths import check_output_file

    if getattr(args, "stats_json", None):
        check_output_file(args.stats_json, flag="--stats-json", inputs=(getattr(args, "input", None),))


# options that only the diffusion engine reads: dest -> flag
DIFFUSION_ONLY = {
    "prompt": "--prompt",
    "prompts": "--prompts",
    "audio_weight": "--audio-weight",
    "strength": "--strength",
    "steps": "--steps",
    "window": "--window",
    "hop": "--hop",
    "encoder_batch": "--encoder-batch",
    "attack": "--attack",
    "release": "--release",
}


def check_shader_engine_args(args, defaults: dict, *, fallback: bool = False) -> None:
    """The shader engine draws without diffusion: --no-shaders contradicts it, and the diffusion
    options given a value other than the command's `defaults` (by dest; None if absent) have no
    effect (said once, as a warning)."""
    from live.core.errors import PhospheneError

    if args.no_shaders:
        if not fallback:
            raise PhospheneError("--engine shader --no-shaders: the shader engine is the shaders; drop one of the two")
        log.warning("--no-shaders has no effect: the shader engine draws with the shaders alone")
    ignored = [flag for dest, flag in DIFFUSION_ONLY.items() if getattr(args, dest, None) not in (None, [], defaults.get(dest))]
    if ignored:
        log.warning("the shader engine ignores %s (diffusion options)", ", ".join(ignored))


def check_shader_size(size) -> None:
    """The shader engine's size rule, on the size as typed (so the message names `--size 7x7`)."""
    from live.draw.shaders import check_size

    check_size(size)


def fall_back(args, error, doing: str) -> str:
    """What `--fallback` says to do when a model cannot be found: "shader" or "tiny" (said in the log), or re-raise."""
    if args.fallback == "shader":
        log.warning("%s; drawing with --engine shader instead (the shaders alone, driven by the audio; no weights needed)", error)
        return "shader"
    if args.fallback == "tiny":
        log.warning("%s; %s with --models tiny instead (random weights: the pictures mean nothing)", error, doing)
        return "tiny"
    raise error
