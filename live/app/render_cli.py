"""`render`: a music file -> an MP4 with its audio, by the diffusion or the shader engine. Its
options and the function that reads them; torch is imported when it runs, not at `--help`."""

from __future__ import annotations

import argparse

from live.app import options
from live.core import cli
from live.core.units import COUNT, SECONDS, SEED, WEIGHT, fps_arg

EPILOG = """\
examples:
  {prog} render song.mp3 -o song.mp4
  {prog} render set.flac -o drop.mp4 --start 95 --duration 30 --seed 7
  {prog} render song.mp3 -o song.mp4 --prompt "neon city at night" --audio-weight 0.6
  {prog} render demo/phosphene-demo.mp3 -o demo.mp4 --models tiny   # offline smoke run
  {prog} render song.mp3 -o song.mp4 --encoder runs/w2c/encoder --condition image --image-scale 0.8 \\
      --diffusion sd15/ --lora lcm-lora-sdv1-5.safetensors --ip-adapter ip-adapter_sd15.safetensors   # Wav2CLIP's road
  {prog} render song.mp3 -o song.mp4 --engine shader --scene tunnel
  {prog} render song.mp3 -o video.mp4 --engine shader --timeline demo/timeline.toml --seed 3

models are hub ids (looked up in the local Hugging Face cache, then downloaded), local folders,
or `tiny`: seeded random weights for tests and smoke runs, whose pictures mean nothing.
speed: one UNet call per frame (--steps 2 --strength 0.5) at 512 px is sd-turbo's real-time
setting on a GPU; on a CPU, use --size 256 or lower and expect seconds per frame with real weights.
"""


def defaults() -> dict:
    """The render's defaults by dest, from its settings dataclasses (stated once there)."""
    from live.app.settings import RenderConfig as r
    from live.models.settings import ConditioningConfig as c
    from live.models.settings import GeneratorConfig as g

    window_help = "encoder window in seconds (default: the encoder's training window, 3.76 for audio2img)"
    picture = dict(size=g.size, steps=None, strength=g.strength, window=r.window_s, window_help=window_help, hop=r.hop_s)
    return dict(picture, fps=r.fps, seed=g.seed, encoder_batch=r.encoder_batch, attack=c.attack_s, release=c.release_s)


def register(sub) -> None:
    from live.models.settings import ConditioningConfig as c

    p = sub.add_parser(
        "render",
        help="a music file -> an MP4 with the audio",
        description="Render a music file to an audio-reactive video with its audio muxed in.",
        epilog=EPILOG.format(prog=cli.prog("live")),
    )
    d = defaults()
    p.add_argument("input", help="audio or video file: anything ffmpeg reads (wav, flac, mp3, ogg, m4a, mp4, ...)")
    p.add_argument("-o", "--output", required=True, help="the MP4 to write (written to a temporary file, renamed when complete)")
    options.add_segment_args(p)
    fps_help = "frames per second of the video, one generator call each: 24, 25, 30, 60, or 23.976 / 29.97 / 59.94 (exactly 24000/1001 ...)"
    p.add_argument("--fps", type=fps_arg, default=d["fps"], help=fps_help + " for NTSC timelines")
    g = p.add_argument_group("picture and diffusion")
    options.add_picture_args(g, d)
    g.add_argument("--seed", type=SEED, default=d["seed"], help="fixes the noise: same input + options + seed = same frames")
    g.add_argument("--encoder-batch", type=COUNT, default=d["encoder_batch"], metavar="N", help="windows per encoder call")
    g.add_argument("--attack", type=SECONDS, default=d["attack"], metavar="S", help="smoothing time constant when the music gets louder")
    g.add_argument("--release", type=SECONDS, default=d["release"], metavar="S", help="smoothing time constant when it gets quieter")
    g.add_argument("--no-shaders", action="store_true", help="diffusion engine only: plain img2img feedback, without the shader stage")
    g.add_argument("--prompt", metavar="TEXT", help="a text prompt to mix with the audio")
    weights = f"(default: {c.audio_weight:g}, or {c.PROMPT_AUDIO_WEIGHT:g} with --prompt)"
    g.add_argument("--audio-weight", type=WEIGHT, metavar="W", help=f"1 = audio only, 0 = prompt only {weights}")
    options.add_condition_args(g)
    options.add_engine_args(p)
    options.add_scene_args(p, live=False)
    options.add_stats_arg(p, "frames, fps, ms per stage, peak memory; with scenes, the scene of every frame")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or log: warnings and errors only")
    options.add_model_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options.check_outputs(args)
    if args.engine == "shader":
        options.check_shader_engine_args(args, defaults())
        return run_shader(args)
    from live.app.director import scene_director
    from live.app.engines import select_models
    from live.app.render import render
    from live.app.settings import RenderConfig
    from live.app.stats import write_stats
    from live.audio.decode import open_segment
    from live.core.errors import ModelNotFound
    from live.models.loading import Models
    from live.models.settings import ConditioningConfig, GeneratorConfig

    from live.models.families import family_for

    models = select_models(args)
    steps = args.steps if args.steps is not None else family_for(models.diffusion, models.lora).steps  # the family's: sd-turbo 2, LCM 4
    audio_weight = args.audio_weight if args.audio_weight is not None else ConditioningConfig.default_audio_weight(bool(args.prompt))
    config = RenderConfig(
        fps=args.fps,
        window_s=args.window,
        hop_s=args.hop,
        encoder_batch=args.encoder_batch,
        shaders=not args.no_shaders,
        half_beat=args.half_beat,
        conditioning=ConditioningConfig(
            attack_s=args.attack, release_s=args.release, audio_weight=audio_weight, condition=args.condition, image_scale=args.image_scale
        ),
        generator=GeneratorConfig(size=args.size, steps=steps, strength=args.strength, seed=args.seed),
    )
    duration_s = open_segment(args.input, args.start, args.duration).duration_s  # a timeline's times are checked against it
    director = scene_director(args, seed=args.seed, duration_s=duration_s, input_path=args.input, start_s=args.start)
    kwargs = dict(
        config=config, start_s=args.start, duration_s=args.duration, device=args.compute, prompt=args.prompt, progress=not args.quiet
    )
    kwargs.update(director=director, audio_weight=args.audio_weight)  # scenes: their prompts, strength and audio weight
    try:
        result = render(args.input, args.output, models=models, **kwargs)
    except ModelNotFound as e:
        if options.fall_back(args, e, "rendering") == "shader":
            options.check_shader_engine_args(args, defaults(), fallback=True)
            return run_shader(args)
        result = render(args.input, args.output, models=Models.all_tiny(), **kwargs)
    if args.stats_json:
        write_stats(args.stats_json, result)
    return 0


def run_shader(args: argparse.Namespace) -> int:
    """`render --engine shader`: the same input/output/segment/fps/size/seed options as diffusion."""
    from live.app.director import scene_director
    from live.app.render import render_shader
    from live.app.stats import write_stats
    from live.audio.decode import open_segment

    options.check_shader_size(args.size)
    duration_s = open_segment(args.input, args.start, args.duration).duration_s  # a timeline's times are checked against it
    director = scene_director(args, seed=args.seed, duration_s=duration_s, input_path=args.input, start_s=args.start)
    result = render_shader(
        args.input,
        args.output,
        fps=args.fps,
        size=args.size,
        start_s=args.start,
        duration_s=args.duration,
        seed=args.seed,
        half_beat=args.half_beat,
        progress=not args.quiet,
        director=director,
    )
    if args.stats_json:
        write_stats(args.stats_json, result)
    return 0
