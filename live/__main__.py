"""`python -m live`: render a music file to an audio-reactive video (and, later, play live).

Only argparse and the standard library are imported at the top, so `--help` answers at once;
each command imports torch and friends when it runs.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

DESCRIPTION = """\
Phosphene paints what music sounds like: an audio encoder maps sound into Stable Diffusion's
text-embedding space, and a few-step img2img loop turns that into moving pictures.

commands:
  render   a music file -> an MP4 with the audio muxed in (--engine diffusion | shader)
  run      live: an audio input -> a fullscreen window, on the beat
  beats    tempo and beat times of a file, with the live (causal) beat tracker
  train-beats  train the beat tracker's network (on mma grooves; needs torch, mma, fluidsynth)
  devices  list the audio inputs
  bench    benchmarks that print tables: render, features, shaders, live, beats
"""

RENDER_EPILOG = """\
examples:
  python -m live render song.mp3 -o song.mp4
  python -m live render set.flac -o drop.mp4 --start 95 --duration 30 --seed 7
  python -m live render song.mp3 -o song.mp4 --prompt "neon city at night" --audio-weight 0.6
  python -m live render demo/phosphene-demo.mp3 -o demo.mp4 --models tiny   # offline smoke run

models are hub ids (looked up in the local Hugging Face cache, then downloaded), local folders,
or `tiny`: seeded random weights for tests and smoke runs, whose pictures mean nothing.
speed: one UNet call per frame (--steps 2 --strength 0.5) at 512 px is sd-turbo's real-time
setting on a GPU; on a CPU, use --size 256 or lower and expect seconds per frame with real weights.
"""


def add_model_args(p: argparse.ArgumentParser) -> None:
    from live.defaults import DEFAULT_DIFFUSION, DEFAULT_ENCODER, DEFAULT_VAE

    g = p.add_argument_group("models (hub id, local folder, or tiny)")
    g.add_argument(
        "--encoder",
        default=DEFAULT_ENCODER,
        help="audio encoder: audio2img checkpoint, one trained by `python -m training fit`, or an export folder from `python -m export onnx` (default: %(default)s)",
    )
    g.add_argument("--diffusion", default=DEFAULT_DIFFUSION, help="sd-turbo-class diffusion model (default: %(default)s)")
    g.add_argument(
        "--vae",
        default=DEFAULT_VAE,
        help="TAESD (AutoencoderTiny) folder/id, or `full` for the diffusion model's own VAE (default: %(default)s)",
    )
    g.add_argument(
        "--encoder-backend",
        choices=["torch", "onnx", "tensorrt", "auto"],
        default="torch",
        help="encoder runtime: torch; onnx (an export folder from `python -m export onnx`); tensorrt; auto = TensorRT engine > ONNX export > torch",
    )
    g.add_argument(
        "--encoder-threads", type=int, default=None, metavar="N", help="ONNX Runtime CPU threads (default: physical cores, at most 4)"
    )
    g.add_argument("--models", choices=["tiny"], help="set every model at once: `tiny` for an offline smoke run")
    g.add_argument(
        "--fallback",
        choices=["shader", "tiny", "none"],
        default="shader",
        help="if the models cannot be found: `shader` (default) draws with the shader engine and says so, `tiny` uses random weights, `none` stops with the reason",
    )
    g.add_argument(
        "--compute",
        default="auto",
        help="where the models run: auto (CUDA with fp16 if present, else CPU), cpu, cuda, cuda:N (default: %(default)s)",
    )


def add_render_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="audio or video file: anything ffmpeg reads (wav, flac, mp3, ogg, m4a, mp4, ...)")
    p.add_argument("-o", "--output", required=True, help="the MP4 to write (written to a temporary file, renamed when complete)")
    p.add_argument("--start", type=float, default=0.0, metavar="S", help="start of the segment in seconds (default: 0)")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="length of the segment in seconds (default: to the end)")
    p.add_argument("--fps", type=int, default=24, help="frames per second of the video; one generator call each (default: %(default)s)")
    p.add_argument(
        "--size", type=int, default=512, metavar="PX", help="width = height in pixels; multiple of 64 for SD models (default: %(default)s)"
    )
    p.add_argument(
        "--steps", type=int, default=2, help="scheduler steps; UNet calls per frame = int(steps * strength) (default: %(default)s)"
    )
    p.add_argument(
        "--strength",
        type=float,
        default=0.5,
        help="how much of each frame is repainted, (0, 1]; lower = calmer, more of the last frame (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="fixes the noise: same input + options + seed = same frames (default: %(default)s)")
    p.add_argument(
        "--window",
        type=float,
        default=None,
        metavar="S",
        help="encoder window in seconds (default: the encoder's training window, 3.76 for audio2img)",
    )
    p.add_argument(
        "--hop",
        type=float,
        default=0.125,
        metavar="S",
        help="seconds between encoder windows; frames in between are slerped (default: %(default)s)",
    )
    p.add_argument("--encoder-batch", type=int, default=8, metavar="N", help="windows per encoder call (default: %(default)s)")
    p.add_argument(
        "--attack", type=float, default=0.05, metavar="S", help="smoothing time constant when the music gets louder (default: %(default)s)"
    )
    p.add_argument(
        "--release", type=float, default=0.4, metavar="S", help="smoothing time constant when it gets quieter (default: %(default)s)"
    )
    p.add_argument(
        "--no-shaders",
        action="store_true",
        help="diffusion engine only: plain img2img feedback, without the shader warp, structure and post effects",
    )
    p.add_argument("--prompt", default=None, metavar="TEXT", help="a text prompt to mix with the audio")
    p.add_argument(
        "--audio-weight", type=float, default=None, metavar="W", help="1 = audio only, 0 = prompt only (default: 1, or 0.5 with --prompt)"
    )
    from live.shader_engine import add_engine_args

    add_engine_args(p)
    p.add_argument(
        "--stats-json", default=None, metavar="FILE", help="write the run's figures (frames, fps, ms per stage, peak memory) as JSON"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or log, errors only")
    add_model_args(p)


RUN_EPILOG = """\
examples:
  python -m live devices                                   # find your input
  python -m live run --device "USB Audio" --display 1      # fullscreen on the second screen
  python -m live run --input song.mp3 --windowed --models tiny --profile laptop   # rehearse

keys: F fullscreen  H HUD  B blackout  Space freeze  Left/Right prompt  Up/Down strength
      [ ] audio weight  Q/Esc quit
profiles (live/profiles/*.toml): stage (strong GPU), balanced, laptop (CPU); or a .toml of your own.
"""


def channel_list(text: str) -> list[int]:
    try:
        channels = [int(c) - 1 for c in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give input channel numbers from 1, e.g. 1 or 1,2") from None
    if min(channels) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: channel numbers start at 1")
    return channels


def add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device", default=None, metavar="NAME|INDEX", help="audio input (see `python -m live devices`; default: the system default input)"
    )
    p.add_argument(
        "--channels",
        type=channel_list,
        default=None,
        metavar="N[,N]",
        help="input channels to mix, from 1 (default: all the device has, up to 2)",
    )
    p.add_argument(
        "--samplerate",
        type=int,
        default=None,
        metavar="HZ",
        help="device sample rate (default: the device's own); resampled to 16 kHz off the audio thread",
    )
    p.add_argument(
        "--input", default=None, metavar="FILE", help="play a file into the live path at real time instead of a device (rehearsal, tests)"
    )
    p.add_argument(
        "--profile",
        default="balanced",
        metavar="NAME|FILE",
        help="latency profile: stage, balanced, laptop, or a .toml (default: %(default)s)",
    )
    p.add_argument("--display", type=int, default=0, metavar="N", help="which display to fill (default: 0)")
    p.add_argument("--windowed", action="store_true", help="a window instead of fullscreen")
    p.add_argument(
        "--prompt", action="append", default=[], metavar="TEXT", help="a text prompt to mix in; give several and switch with Left/Right"
    )
    p.add_argument("--prompts", default=None, metavar="FILE", help="a text file of prompts, one per line")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds (default: until Q)")
    p.add_argument(
        "--stats-json",
        default=None,
        metavar="FILE",
        help="write the run's figures: frames, fps, latency p50/p95/p99, overflows, dropped frames, reconnects",
    )
    p.add_argument("--no-shaders", action="store_true", help="diffusion engine only: plain img2img feedback, without the shader stage")
    from live.shader_engine import add_engine_args

    add_engine_args(p)
    add_model_args(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m live", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="command")
    render = sub.add_parser(
        "render",
        help="a music file -> an MP4 with the audio",
        description="Render a music file to an audio-reactive video with its audio muxed in.",
        epilog=RENDER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_render_args(render)
    run = sub.add_parser(
        "run",
        help="live: an audio input -> a fullscreen window",
        description="Play live: paint what an audio input sounds like, fullscreen.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_args(run)
    from live.beats import add_beats_args

    add_beats_args(
        sub.add_parser(
            "beats",
            help="tempo and beat times of a music file (the live tracker: causal)",
            description="Print tempo and beat times of a file with the same causal tracker the live path uses.",
        )
    )
    from live.beat_train import add_train_beats_args

    add_train_beats_args(sub)
    sub.add_parser(
        "devices",
        help="list audio inputs (index, name, host API, channels, default rate)",
        description="List the audio inputs PortAudio sees.",
    )
    bench = sub.add_parser("bench", help="benchmarks that print tables", description="Benchmarks: programs that print tables, not tests.")
    bench_sub = bench.add_subparsers(dest="bench", metavar="what")
    bench_render = bench_sub.add_parser("render", help="per-stage ms per frame and peak memory, 1-minute vs 60-minute input")
    bench_render.add_argument("--minutes", type=float, nargs="+", default=[1.0, 60.0], help="input lengths to compare (default: 1 60)")
    bench_render.add_argument(
        "--fps", type=int, default=2, help="frames per second for the memory runs (default: %(default)s; low so 60 minutes finish)"
    )
    bench_render.add_argument("--size", type=int, default=128, help="frame size for the memory runs (default: %(default)s)")
    bench_render.add_argument(
        "--timing-seconds", type=float, default=10.0, help="length of the per-stage timing run (default: %(default)s)"
    )
    bench_render.add_argument("--timing-size", type=int, default=256, help="frame size of the timing run (default: %(default)s)")
    add_model_args(bench_render)
    # the bench measures the pipeline on whatever models are named; tiny unless told otherwise
    bench_render.set_defaults(encoder="tiny", diffusion="tiny", vae="tiny")
    from live.shader_engine import add_bench_args

    add_bench_args(bench_sub)
    from live.bench_live import add_bench_live_args

    add_bench_live_args(bench_sub)
    from live.beat_eval import add_bench_beats_args

    add_bench_beats_args(bench_sub)
    return parser


def cmd_render(args) -> int:
    if args.engine == "shader":
        from live.shader_engine import cmd_render_shader

        return cmd_render_shader(args)
    from live.conditioning import ConditioningConfig
    from live.generator import GeneratorConfig
    from live.render import Models, RenderConfig, render

    models = (
        Models.all_tiny()
        if args.models == "tiny"
        else Models(args.diffusion, args.vae, args.encoder, args.encoder_backend, args.encoder_threads)
    )
    audio_weight = args.audio_weight if args.audio_weight is not None else (0.5 if args.prompt else 1.0)
    config = RenderConfig(
        fps=args.fps,
        window_s=args.window,
        hop_s=args.hop,
        encoder_batch=args.encoder_batch,
        shaders=not args.no_shaders,
        half_beat=args.half_beat,
        conditioning=ConditioningConfig(attack_s=args.attack, release_s=args.release, audio_weight=audio_weight),
        generator=GeneratorConfig(size=args.size, steps=args.steps, strength=args.strength, seed=args.seed),
    )
    kwargs = dict(
        config=config, start_s=args.start, duration_s=args.duration, device=args.compute, prompt=args.prompt, progress=not args.quiet
    )
    from live.errors import ModelNotFound

    try:
        result = render(args.input, args.output, models=models, **kwargs)
    except ModelNotFound as e:
        log = logging.getLogger("phosphene")
        if args.fallback == "shader":
            log.warning("%s; drawing with --engine shader instead (the shaders alone, driven by the audio; no weights needed)", e)
            from live.shader_engine import cmd_render_shader

            return cmd_render_shader(args)
        if args.fallback != "tiny":
            raise
        log.warning("%s; rendering with --models tiny instead (random weights: the pictures mean nothing)", e)
        result = render(args.input, args.output, models=Models.all_tiny(), **kwargs)
    if args.stats_json:
        write_stats(args.stats_json, result)
    return 0


def peak_rss_kib() -> float:
    """This process's own peak resident memory. Not ru_maxrss: after fork + exec that starts from
    the parent's peak, so a child of a big process would report the parent's size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    import resource

    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def write_stats(path: str, result) -> None:
    import json

    peak_kib = peak_rss_kib()
    stats = {
        "output": str(result.output),
        "frames": result.frames,
        "seconds": result.seconds,
        "fps": result.frames / result.seconds,
        "stage_ms": result.stage_ms,
        "peak_rss_mib": peak_kib / 1024,
    }
    with open(path, "w") as f:
        json.dump(stats, f, indent=2)


def cmd_run(args) -> int:
    from pathlib import Path

    from live.errors import PhospheneError
    from live.profiles import load_profile
    from live.run import build_live_pipeline, build_shader_pipeline, check_run_args, run_live

    check_run_args(args)
    profile = load_profile(args.profile)
    prompts = list(args.prompt)
    if args.prompts:
        path = Path(args.prompts)
        if not path.is_file():
            raise PhospheneError(f"--prompts {path}: no such file (one prompt per line)")
        prompts += [line.strip() for line in path.read_text().splitlines() if line.strip()]

    def pipeline():
        from live.errors import ModelNotFound

        if args.engine == "shader":
            return build_shader_pipeline(profile)  # no torch import on this path
        from live.render import Models

        models = (
            Models.all_tiny()
            if args.models == "tiny"
            else Models(args.diffusion, args.vae, args.encoder, args.encoder_backend, args.encoder_threads)
        )
        try:
            return build_live_pipeline(models, profile, device=args.compute, prompts=prompts, shaders=not args.no_shaders)
        except ModelNotFound as e:
            if args.fallback != "shader":
                raise
            logging.getLogger("phosphene").warning(
                "%s; drawing with --engine shader instead (the shaders alone, driven by the audio; no weights needed)", e
            )
            return build_shader_pipeline(profile)

    summary = run_live(args, profile, pipeline)
    lat = summary["latency_ms"]
    print(
        f"{summary['frames']} frames, {summary['fps']:.1f} fps, latency p50 {lat['p50']:.0f} ms p95 {lat['p95']:.0f} ms, "
        f"overflows {summary['overflows']}, dropped {summary['dropped_frames']}, reconnects {summary['reconnects']}"
    )
    return 0


def cmd_devices(args) -> int:
    from live.capture import list_inputs

    inputs = [d for d in list_inputs() if d.channels > 0]
    if not inputs:
        print("no audio inputs found (is an audio server running? is libportaudio2 installed?)")
        return 1
    print(f"{'index':>5}  {'name':<40} {'host API':<28} {'in ch':>5} {'rate':>7}")
    for d in inputs:
        print(f"{d.index:>5}  {d.name:<40} {d.hostapi:<28} {d.channels:>5} {d.default_sr:>7g}")
    return 0


def cmd_bench(args) -> int:
    if args.bench == "features":
        from live.shader_engine import bench_features

        return bench_features(args)
    if args.bench == "shaders":
        from live.shader_engine import bench_shaders

        return bench_shaders(args)
    if args.bench == "live":
        from live.bench_live import bench_live

        return bench_live(args)
    if args.bench == "beats":
        from live.beat_eval import bench_beats

        return bench_beats(args)
    if args.bench != "render":
        build_parser().parse_args(["bench", "--help"])
    from live.bench import bench_render

    return bench_render(args)


def cmd_train_beats(args) -> int:
    from live.beat_train import train

    return train(args)


def cmd_beats(args) -> int:
    from live.beats import cmd_beats as beats

    return beats(args)


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from live.logs import setup_logging

    setup_logging(getattr(args, "quiet", False))
    signal.signal(signal.SIGTERM, interrupt)  # a kill from a script cleans up like Ctrl-C does
    from live.errors import run_command

    commands = {
        "render": cmd_render,
        "bench": cmd_bench,
        "devices": cmd_devices,
        "beats": cmd_beats,
        "run": cmd_run,
        "train-beats": cmd_train_beats,
    }
    try:
        return run_command(commands[args.command], args)
    except KeyboardInterrupt:
        print("interrupted: no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
