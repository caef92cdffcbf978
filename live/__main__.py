"""`python -m live`: the parser and thin command functions; nothing imports this module.

Only argparse and the standard library are imported at the top, so `--help` answers at once; the
defaults come from the settings dataclasses (torch-free), and each command imports torch and
friends when it runs.
"""

from __future__ import annotations

import argparse
import logging
import sys

DESCRIPTION = """\
Phosphene paints what music sounds like: an audio encoder maps sound into Stable Diffusion's
text-embedding space, and a few-step img2img loop turns that into moving pictures.
`python -m live COMMAND --help` teaches each command.
"""

RENDER_EPILOG = """\
examples:
  python -m live render song.mp3 -o song.mp4
  python -m live render set.flac -o drop.mp4 --start 95 --duration 30 --seed 7
  python -m live render song.mp3 -o song.mp4 --prompt "neon city at night" --audio-weight 0.6
  python -m live render demo/phosphene-demo.mp3 -o demo.mp4 --models tiny   # offline smoke run
  python -m live render song.mp3 -o song.mp4 --engine shader --scene tunnel
  python -m live render song.mp3 -o video.mp4 --engine shader --timeline demo/timeline.toml --seed 3

models are hub ids (looked up in the local Hugging Face cache, then downloaded), local folders,
or `tiny`: seeded random weights for tests and smoke runs, whose pictures mean nothing.
speed: one UNet call per frame (--steps 2 --strength 0.5) at 512 px is sd-turbo's real-time
setting on a GPU; on a CPU, use --size 256 or lower and expect seconds per frame with real weights.
"""


def add_model_args(p: argparse.ArgumentParser) -> None:
    from live.models.loading import ENCODER_BACKENDS, Models

    d = Models()  # the defaults, stated once there; None here means "not given" (so --models tiny can't hide a given flag)
    g = p.add_argument_group("models (hub id, local folder, or tiny)")
    g.add_argument(
        "--encoder",
        help=f"audio encoder: audio2img checkpoint, one trained by `python -m training fit`, or an export folder from `python -m export onnx` (default: {d.encoder})",
    )
    g.add_argument("--diffusion", help=f"sd-turbo-class diffusion model (default: {d.diffusion})")
    g.add_argument("--vae", help=f"TAESD (AutoencoderTiny) folder/id, or `full` for the diffusion model's own VAE (default: {d.vae})")
    g.add_argument(
        "--encoder-backend",
        choices=ENCODER_BACKENDS,
        help="encoder runtime: torch; onnx (an export folder from `python -m export onnx`); tensorrt; auto = TensorRT engine > ONNX export > torch "
        "(default: an export folder runs in ONNX Runtime, a checkpoint in torch)",
    )
    g.add_argument("--encoder-threads", type=int, metavar="N", help="ONNX Runtime CPU threads (default: physical cores, at most 4)")
    g.add_argument(
        "--models",
        choices=["tiny", "random"],
        help="set every model at once: `tiny` for an offline smoke run; `random`: the full-size architectures with random "
        "weights, built offline for timing (--encoder random-own: our own encoder format); a model flag given beside it wins",
    )
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


def add_engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--half-beat",
        action="store_true",
        help="move the beat clock by half a beat: for music where the tracker finds the tempo but sits on the off-beat "
        "(live, the O key toggles it)",
    )
    p.add_argument(
        "--engine",
        choices=["diffusion", "shader"],
        default="diffusion",
        help="diffusion: the audio encoder + img2img; shader: the GLSL stages alone, driven by the audio features (no weights, no torch)",
    )


def add_scene_args(p: argparse.ArgumentParser, *, live: bool) -> None:
    g = p.add_argument_group("scenes and transitions (see `python -m live scenes`)")
    g.add_argument("--scene", metavar="NAME", help="start with this scene (default: classic, the look Phosphene always had)")
    g.add_argument("--scenes", metavar="DIR", help="a folder of your own NAME.toml scenes, beside the shipped ones (yours win by name)")
    g.add_argument(
        "--timeline",
        metavar="FILE.toml",
        help='[[cue]] entries at "m:ss.s" or "bar N", each a scene and/or prompt and a transition'
        + ("; live it is a cue list: the next entry fires on 'next' (N key, MIDI, OSC) or by itself at its time or bar" if live else ""),
    )
    g.add_argument(
        "--transition",
        default="crossfade 4 beats on bar",
        metavar="TEXT",
        help="how scenes change: cut | crossfade N beats|bars | dissolve N beats|bars, then on now|beat|bar|phrase [4|8|16] "
        "(when a go lands) (default: %(default)s)",
    )
    g.add_argument("--auto-advance", type=int, metavar="BARS", help="go to the next scene every BARS bars by itself")
    g.add_argument("--shuffle", action="store_true", help="with --auto-advance or next: the next scene at random (seeded), not in order")


def add_render_args(p: argparse.ArgumentParser) -> None:
    from live.app.settings import RenderConfig
    from live.models.settings import ConditioningConfig, GeneratorConfig

    r, g, c = RenderConfig, GeneratorConfig, ConditioningConfig  # the defaults, stated once there
    p.add_argument("input", help="audio or video file: anything ffmpeg reads (wav, flac, mp3, ogg, m4a, mp4, ...)")
    p.add_argument("-o", "--output", required=True, help="the MP4 to write (written to a temporary file, renamed when complete)")
    p.add_argument("--start", type=float, default=0.0, metavar="S", help="start of the segment in seconds (default: 0)")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="length of the segment in seconds (default: to the end)")
    p.add_argument(
        "--fps",
        type=fps_arg,
        default=r.fps,
        help="frames per second of the video, one generator call each: 24, 25, 30, 60, or 23.976 / 29.97 / 59.94 "
        "(exactly 24000/1001 ...) for NTSC timelines (default: %(default)s)",
    )
    p.add_argument(
        "--size",
        type=size_arg,
        default=g.size,
        metavar="PX|WxH",
        help="picture size: N for N x N, or WIDTHxHEIGHT such as 1280x720; sides in multiples of 64 for SD models (default: %(default)s)",
    )
    p.add_argument(
        "--steps", type=int, default=g.steps, help="scheduler steps; UNet calls per frame = int(steps * strength) (default: %(default)s)"
    )
    p.add_argument(
        "--strength",
        type=float,
        default=g.strength,
        help="how much of each frame is repainted, (0, 1]; lower = calmer, more of the last frame (default: %(default)s)",
    )
    p.add_argument(
        "--seed", type=int, default=g.seed, help="fixes the noise: same input + options + seed = same frames (default: %(default)s)"
    )
    p.add_argument(
        "--window",
        type=float,
        default=r.window_s,
        metavar="S",
        help="encoder window in seconds (default: the encoder's training window, 3.76 for audio2img)",
    )
    p.add_argument(
        "--hop",
        type=float,
        default=r.hop_s,
        metavar="S",
        help="seconds between encoder windows; frames in between are slerped (default: %(default)s)",
    )
    p.add_argument(
        "--encoder-batch", type=int, default=r.encoder_batch, metavar="N", help="windows per encoder call (default: %(default)s)"
    )
    p.add_argument(
        "--attack",
        type=float,
        default=c.attack_s,
        metavar="S",
        help="smoothing time constant when the music gets louder (default: %(default)s)",
    )
    p.add_argument(
        "--release",
        type=float,
        default=c.release_s,
        metavar="S",
        help="smoothing time constant when it gets quieter (default: %(default)s)",
    )
    p.add_argument(
        "--no-shaders",
        action="store_true",
        help="diffusion engine only: plain img2img feedback, without the shader warp, structure and post effects",
    )
    p.add_argument("--prompt", default=None, metavar="TEXT", help="a text prompt to mix with the audio")
    p.add_argument(
        "--audio-weight",
        type=float,
        default=None,
        metavar="W",
        help=f"1 = audio only, 0 = prompt only (default: {c.audio_weight:g}, or {c.PROMPT_AUDIO_WEIGHT:g} with --prompt)",
    )
    add_engine_args(p)
    add_scene_args(p, live=False)
    p.add_argument(
        "--stats-json",
        default=None,
        metavar="FILE",
        help="write the run's figures (frames, fps, ms per stage, peak memory; with scenes, the scene of every frame) as JSON",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or log: warnings and errors only")
    add_model_args(p)


RUN_EPILOG = """\
examples:
  python -m live devices                                   # find your input
  python -m live run --device "USB Audio" --display 1      # fullscreen on the second screen
  python -m live run --input song.mp3 --windowed --models tiny --profile laptop   # rehearse

keys: F fullscreen  H HUD  B blackout  Space freeze  Left/Right prompt  Up/Down strength
      [ ] audio weight  T tap tempo  R release the tapped tempo  O move the beat by half a beat
      N / P next / previous scene (on the next bar; with --timeline: the next cue)
      C cue the next scene (it fires on the next phrase)  G go: the cued scene on the next beat
      Q/Esc quit
profiles (live/core/profiles/*.toml): stage (strong GPU), balanced, laptop (CPU); or a .toml of your own.
"""


def size_arg(text: str):
    """--size N or WxH -> N or (W, H), as the settings take it."""
    from live.core.errors import PhospheneError
    from live.core.units import parse_size

    try:
        width, height = parse_size(text, minimum=0)
    except PhospheneError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return width if width == height else (width, height)


def fps_arg(text: str):
    from live.core.errors import PhospheneError
    from live.core.units import parse_fps

    try:
        return parse_fps(text)
    except PhospheneError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
        "--monitor",
        nargs="?",
        const="",
        default=None,
        metavar="DEVICE",
        help="with --input: also play the file out loud (default output, or DEVICE) to judge the sync by ear",
    )
    from live.core.profiles import DEFAULT_PROFILE

    p.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        metavar="NAME|FILE",
        help="latency profile: stage, balanced, laptop, or a .toml (default: %(default)s)",
    )
    o = p.add_argument_group("profile overrides (default: the profile's own)")
    o.add_argument(
        "--size", type=size_arg, metavar="PX|WxH", help="picture size: N, or WIDTHxHEIGHT such as 1280x720 (sides: multiples of 64)"
    )
    o.add_argument("--window", type=float, metavar="S", help="encoder window in seconds")
    o.add_argument("--hop", type=float, metavar="S", help="seconds between encoder calls")
    o.add_argument("--steps", type=int, help="scheduler steps; UNet calls per frame = int(steps * strength)")
    o.add_argument("--strength", type=float, help="share of each frame repainted, (0, 1]")
    o.add_argument("--display-fps", type=int, metavar="N", help="presentation rate of the window")
    p.add_argument("--display", type=int, default=0, metavar="N", help="which display to fill (default: 0)")
    p.add_argument("--windowed", action="store_true", help="a window instead of fullscreen")
    p.add_argument(
        "--hud",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the figures over the picture (H toggles it; default: on in a window, off fullscreen, where the audience sees it)",
    )
    p.add_argument(
        "--headless",
        action="store_true",
        help="draw without a window: a rack machine whose picture leaves only by --ndi, --stream or --virtual-camera "
        "(also benches, tests, soak runs); without it, no display is an error",
    )
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
    c = p.add_argument_group("control (see `python -m live osc` and `python -m live midi`)")
    c.add_argument(
        "--midi", metavar="NAME|INDEX", help="a MIDI controller: CCs set parameters, notes fire actions, its clock drives the beat"
    )
    c.add_argument(
        "--midi-api", choices=["auto", "alsa", "jack"], default="auto", help="MIDI system (default: ALSA where it exists, else JACK)"
    )
    c.add_argument(
        "--tempo-source",
        choices=["auto", "audio", "tap", "midi", "link"],
        default="auto",
        help="what drives the beat: audio (the tracker), tap (T key, OSC tempo), midi (the controller's clock), "
        "link (the Ableton Link session); auto: the audio until a tap, a clock or Link speaks, then the latest "
        "to speak (default: %(default)s; the HUD says which)",
    )
    c.add_argument(
        "--link",
        action="store_true",
        help="join the Ableton Link session on the local network and follow its tempo and beat (Live, Traktor, Resolume, ...)",
    )
    c.add_argument(
        "--midi-map",
        metavar="FILE.toml",
        help="which CC sets which parameter and which note fires which action; MIDI learn (L) saves to it "
        "(it need not exist yet; default phosphene-midi.toml)",
    )
    c.add_argument("--osc-port", type=int, metavar="N", help="listen for OSC on this UDP port (0: one the OS picks, said in the log)")
    c.add_argument(
        "--osc-host", default="127.0.0.1", metavar="ADDR", help="OSC address to listen on (default: %(default)s; 0.0.0.0 opens it)"
    )
    p.add_argument(
        "--stream",
        metavar="URL",
        help="also send the picture as low-latency H.264: udp://HOST:PORT or srt://HOST:PORT (MPEG-TS), rtmp://HOST/APP/KEY",
    )
    p.add_argument(
        "--ndi",
        metavar="NAME",
        help="also send the picture as an NDI® source that Resolume, TouchDesigner or OBS list as 'HOST (NAME)' "
        "(the optional extra: pip install -r requirements-ndi.txt)",
    )
    p.add_argument(
        "--virtual-camera",
        nargs="?",
        const="",
        metavar="DEVICE",
        help="also show the picture as a webcam (OBS, browsers, video calls): the first v4l2loopback device, or DEVICE "
        "such as /dev/video10 (make one: sudo modprobe v4l2loopback exclusive_caps=1 card_label=Phosphene)",
    )
    add_engine_args(p)
    add_scene_args(p, live=True)
    add_model_args(p)


def add_beats_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="audio or video file: anything ffmpeg reads")
    p.add_argument("--json", action="store_true", help='print {"tempo": BPM, "beats": [seconds, ...]} instead of text')
    p.add_argument(
        "--bars",
        action="store_true",
        help="print the bars and where 4-, 8- and 16-bar phrases start (bar 1 = the first downbeat), to write a timeline by bar; "
        'with --json: {"tempo", "bars": [s, ...], "beats_per_bar", "phrases": {"4": [s, ...], ...}}',
    )
    p.add_argument("--start", type=float, default=0.0, metavar="S", help="start of the segment in seconds (default: 0)")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="length of the segment in seconds (default: to the end)")


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
    add_beats_args(
        sub.add_parser(
            "beats",
            help="tempo and beat times of a music file (the live tracker: causal)",
            description="Print tempo and beat times of a file with the same causal tracker the live path uses.",
        )
    )
    from live.lab.beat_train import add_train_beats_args

    add_train_beats_args(sub)
    scenes = sub.add_parser(
        "scenes",
        help="list the scenes (name, generator, description); --sheet draws them all",
        description="List the scenes: the shipped ones in scenes/ and a --scenes folder of your own. "
        "A scene is a TOML file: its structure generator, warp, grade, feature routes and diffusion prompt (README: Scenes).",
        epilog="example:\n  python -m live scenes --sheet docs/scenes.png   # every scene at 3, 6, 9 and 12 s of the demo track",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scenes.add_argument("--scenes", metavar="DIR", help="a folder of your own NAME.toml scenes, beside the shipped ones")
    scenes.add_argument("--sheet", metavar="OUT.png", help="render a contact sheet: a row per scene, a column per moment")
    scenes.add_argument("--input", metavar="FILE", help="the track the sheet is drawn on (default: the demo track)")
    scenes.add_argument(
        "--at", type=float, nargs="+", default=[3.0, 6.0, 9.0, 12.0], metavar="S", help="the moments, in seconds (default: 3 6 9 12)"
    )
    scenes.add_argument("--size", type=int, default=160, metavar="PX", help="side of each picture (default: %(default)s)")
    midi = sub.add_parser("midi", help="list MIDI inputs and the controls they can reach", description="List MIDI inputs (for --midi).")
    midi.add_argument(
        "--midi-api", choices=["auto", "alsa", "jack"], default="auto", help="MIDI system (default: ALSA where it exists, else JACK)"
    )
    sub.add_parser("osc", help="the OSC address space", description="Print the OSC addresses `run --osc-port N` answers.")
    devices = sub.add_parser(
        "devices",
        help="list audio inputs (index, name, host API, channels, default rate)",
        description="List the audio inputs PortAudio sees (--outputs: the outputs, for run --monitor).",
    )
    devices.add_argument("--outputs", action="store_true", help="list the outputs instead (for --monitor)")
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
    from live.lab.bench_engine import add_bench_args

    add_bench_args(bench_sub)
    from live.app.tune import add_tune_args

    add_tune_args(sub, add_model_args)
    from live.lab.bench_live import add_bench_live_args

    add_bench_live_args(bench_sub)
    from live.lab.bench_control import add_bench_control_args

    add_bench_control_args(bench_sub)
    from live.lab.beat_eval import add_bench_beats_args

    add_bench_beats_args(bench_sub)
    return parser


def check_outputs(args) -> None:
    """Every file a command will write, checked before any work (the MP4 itself: by the renderer)."""
    from live.core.paths import check_output_file

    if getattr(args, "stats_json", None):
        check_output_file(args.stats_json, flag="--stats-json", inputs=(getattr(args, "input", None),))


# options that only the diffusion engine reads: (dest, flag)
DIFFUSION_ONLY = (
    ("prompt", "--prompt"),
    ("prompts", "--prompts"),
    ("audio_weight", "--audio-weight"),
    ("strength", "--strength"),
    ("steps", "--steps"),
    ("window", "--window"),
    ("hop", "--hop"),
    ("encoder_batch", "--encoder-batch"),
    ("attack", "--attack"),
    ("release", "--release"),
)


def given(args, dests) -> list[str]:
    """The flags among `dests` that were given a value other than their default."""
    defaults = build_parser()._subparsers._group_actions[0].choices[args.command]  # the command's own parser
    return [flag for dest, flag in dests if hasattr(args, dest) and getattr(args, dest) != defaults.get_default(dest)]


def check_shader_engine_args(args, *, fallback: bool = False) -> None:
    """The shader engine draws without diffusion: --no-shaders contradicts it, and the diffusion
    options have no effect (said once, as a warning)."""
    from live.core.errors import PhospheneError

    if args.no_shaders:
        if not fallback:
            raise PhospheneError("--engine shader --no-shaders: the shader engine is the shaders; drop one of the two")
        logging.getLogger("phosphene").warning("--no-shaders has no effect: the shader engine draws with the shaders alone")
    if ignored := given(args, DIFFUSION_ONLY):
        logging.getLogger("phosphene").warning("the shader engine ignores %s (diffusion options)", ", ".join(ignored))


def cmd_render(args) -> int:
    check_outputs(args)
    if args.engine == "shader":
        check_shader_engine_args(args)
        return cmd_render_shader(args)
    from live.app.engines import select_models
    from live.app.render import render
    from live.app.settings import RenderConfig
    from live.app.stats import write_stats
    from live.core.errors import ModelNotFound
    from live.models.loading import Models
    from live.models.settings import ConditioningConfig, GeneratorConfig

    audio_weight = args.audio_weight if args.audio_weight is not None else ConditioningConfig.default_audio_weight(bool(args.prompt))
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
    from live.app.director import scene_director
    from live.audio.decode import open_segment

    duration_s = open_segment(args.input, args.start, args.duration).duration_s  # a timeline's times are checked against it
    director = scene_director(args, seed=args.seed, duration_s=duration_s, input_path=args.input, start_s=args.start)
    kwargs = dict(
        config=config, start_s=args.start, duration_s=args.duration, device=args.compute, prompt=args.prompt, progress=not args.quiet
    )
    kwargs.update(director=director, audio_weight=args.audio_weight)  # scenes: their prompts, strength and audio weight
    try:
        result = render(args.input, args.output, models=select_models(args), **kwargs)
    except ModelNotFound as e:
        if fall_back(args, e, "rendering") == "shader":
            check_shader_engine_args(args, fallback=True)
            return cmd_render_shader(args)
        result = render(args.input, args.output, models=Models.all_tiny(), **kwargs)
    if args.stats_json:
        write_stats(args.stats_json, result)
    return 0


def cmd_render_shader(args) -> int:
    """`render --engine shader`: the same input/output/segment/fps/size/seed options as diffusion."""
    from live.app.director import scene_director
    from live.app.render import render_shader
    from live.app.stats import write_stats
    from live.audio.decode import open_segment

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


def fall_back(args, error, doing: str) -> str:
    """What `--fallback` says to do when a model cannot be found: "shader" or "tiny" (said in the log), or re-raise."""
    log = logging.getLogger("phosphene")
    if args.fallback == "shader":
        log.warning("%s; drawing with --engine shader instead (the shaders alone, driven by the audio; no weights needed)", error)
        return "shader"
    if args.fallback == "tiny":
        log.warning("%s; %s with --models tiny instead (random weights: the pictures mean nothing)", error, doing)
        return "tiny"
    raise error


def cmd_run(args) -> int:
    import dataclasses
    from pathlib import Path

    from live.app.engines import build_live_pipeline, build_shader_pipeline, select_models
    from live.app.run import check_run_args, run_live
    from live.core.errors import ModelNotFound, PhospheneError
    from live.core.profiles import load_profile, with_overrides
    from live.models.loading import Models
    from live.models.settings import GeneratorConfig

    check_run_args(args)
    check_outputs(args)
    profile = with_overrides(
        load_profile(args.profile),
        size=args.size,
        window_s=args.window,
        hop_s=args.hop,
        steps=args.steps,
        strength=args.strength,
        display_fps=args.display_fps,
    )
    if args.engine == "shader":
        check_shader_engine_args(args)
    else:
        GeneratorConfig(size=profile.size, steps=profile.steps, strength=profile.strength).check_schedule()  # before any model loads
    prompts = list(args.prompt)
    if args.prompts:
        path = Path(args.prompts)
        if not path.is_file():
            raise PhospheneError(f"--prompts {path}: no such file (one prompt per line)")
        prompts += [line.strip() for line in path.read_text().splitlines() if line.strip()]
    from live.app.director import scene_director

    director = scene_director(args)  # bad scenes, transitions and timelines fail here, before audio and models

    def pipeline():
        if args.engine == "shader":
            return build_shader_pipeline(profile, director)  # no torch import on this path
        build = dict(device=args.compute, prompts=prompts, shaders=not args.no_shaders, director=director)
        models = select_models(args)
        if args.encoder_backend is None and profile.encoder_backend:  # the profile says which runtime suits the machine
            models = dataclasses.replace(models, encoder_backend=profile.encoder_backend)
        try:
            return build_live_pipeline(models, profile, **build)
        except ModelNotFound as e:
            if fall_back(args, e, "playing") == "shader":
                check_shader_engine_args(args, fallback=True)
                return build_shader_pipeline(profile, director)
            return build_live_pipeline(Models.all_tiny(), profile, **build)

    summary = run_live(args, profile, pipeline)
    lat = summary["latency_ms"]
    print(
        f"{summary['frames']} frames, {summary['fps']:.1f} fps, latency p50 {lat['p50']:.0f} ms p95 {lat['p95']:.0f} ms, "
        f"overflows {summary['overflows']}, dropped {summary['dropped_frames']}, reconnects {summary['reconnects']}"
    )
    return 0


def cmd_scenes(args) -> int:
    from live.app.scenes import describe, load_library

    library = load_library(args.scenes)
    if not args.sheet:
        print(describe(library))
        return 0
    from live.app.sheet import DEMO, write_sheet
    from live.core.paths import check_output_file

    check_output_file(args.sheet, flag="--sheet", suffix=".png", inputs=(args.input,))
    out = write_sheet(args.sheet, library, args.input or DEMO, args.at, size=args.size)
    print(f"wrote {out}: {len(library)} scenes x {len(args.at)} moments")
    return 0


def cmd_devices(args) -> int:
    from live.audio.capture import list_inputs, list_outputs

    inputs = [d for d in (list_outputs() if args.outputs else list_inputs()) if d.channels > 0]
    if not inputs:
        print(f"no audio {'outputs' if args.outputs else 'inputs'} found (is an audio server running? is libportaudio2 installed?)")
        return 1
    print(f"{'index':>5}  {'name':<40} {'host API':<28} {'out ch' if args.outputs else 'in ch':>5} {'rate':>7}")
    for d in inputs:
        print(f"{d.index:>5}  {d.name:<40} {d.hostapi:<28} {d.channels:>5} {d.default_sr:>7g}")
    return 0


def cmd_midi(args) -> int:
    from live.control.midi import DEFAULT_CC, DEFAULT_NOTES, input_names, pick_api

    names = input_names(args.midi_api)
    print(f"MIDI inputs ({pick_api(args.midi_api)}):" if names else f"no MIDI inputs ({pick_api(args.midi_api)})")
    for i, name in enumerate(names):
        print(f"  {i:>3}  {name}")
    print("default map (--midi-map FILE.toml to change it):")
    print("  " + "  ".join(f"CC{n}={p}" for n, p in DEFAULT_CC.items()))
    print("  " + "  ".join(f"note{n}={a}" for n, a in DEFAULT_NOTES.items()))
    return 0


def cmd_osc(args) -> int:
    from live.control import osc
    from live.control.surface import describe_surface

    print(osc.__doc__.split("\n\n")[1])
    print(describe_surface())
    return 0


def cmd_bench(args) -> int:
    if args.bench == "features":
        from live.lab.bench_engine import bench_features

        return bench_features(args)
    if args.bench == "shaders":
        from live.lab.bench_engine import bench_shaders

        return bench_shaders(args)
    if args.bench == "live":
        from live.lab.bench_live import bench_live

        return bench_live(args)
    if args.bench == "beats":
        from live.lab.beat_eval import bench_beats

        return bench_beats(args)
    if args.bench == "control":
        return bench_control(args)
    if args.bench != "render":
        build_parser().parse_args(["bench", "--help"])
    from live.lab.bench_render import bench_render

    return bench_render(args)


def bench_control(args) -> int:
    """`bench control`: the real `run` command, headless on the demo clip, with OSC on a free port."""
    from live.core.defaults import DEMO_CLIP
    from live.core.errors import PhospheneError
    from live.core.profiles import load_profile
    from live.lab.bench_control import bench_control as bench
    from live.lab.bench_control import free_udp_port

    if args.repeats < 1:
        raise PhospheneError(f"--repeats {args.repeats}: give at least 1")
    run = ["run", "--headless", "--windowed", "--input", str(DEMO_CLIP), "--engine", args.engine, "--profile", args.profile]
    run += ["--osc-port", str(free_udp_port())]
    if args.engine == "diffusion":
        run += ["--models", "tiny", "--compute", args.compute]
    run_args = build_parser().parse_args(run)
    run_args.repeats = args.repeats
    return bench(run_args, cmd_run, lambda a: load_profile(a.profile))


def cmd_tune(args) -> int:
    from live.app.tune import tune

    return tune(args)


def cmd_train_beats(args) -> int:
    from live.lab.beat_train import train

    return train(args)


def cmd_beats(args) -> int:
    from live.app.beats import cmd_beats as beats

    return beats(args)


def command_parser(parser: argparse.ArgumentParser, args) -> argparse.ArgumentParser:
    """The parser of the (sub)command that was given, so its errors name it: `python -m live render: error: ...`."""
    while parser._subparsers is not None:
        action = parser._subparsers._group_actions[0]
        name = getattr(args, action.dest, None)
        if name not in action.choices:
            break
        parser = action.choices[name]
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if not args.command:
        parser.print_help()
        return 2
    from live.core.errors import run_main

    commands = {
        "render": cmd_render,
        "bench": cmd_bench,
        "devices": cmd_devices,
        "beats": cmd_beats,
        "run": cmd_run,
        "train-beats": cmd_train_beats,
        "midi": cmd_midi,
        "osc": cmd_osc,
        "scenes": cmd_scenes,
        "tune": cmd_tune,
    }
    return run_main(commands, args, quiet=getattr(args, "quiet", False))


if __name__ == "__main__":
    sys.exit(main())
