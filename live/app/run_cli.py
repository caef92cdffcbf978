"""`run`: play live, an audio input -> a fullscreen window (and NDI, streams, a webcam). Its options
and the function that reads them; torch is imported when it runs, not at `--help`."""

from __future__ import annotations

import argparse

from live.app import options
from live.control.web import add_web_args
from live.core import cli
from live.core.units import DISPLAY_FPS, DURATION, INDEX, PORT, Number

SAMPLE_RATE_HZ = Number("a sample rate in Hz", lo=1, example="48000", whole=True)

EPILOG = """\
examples:
  {prog} devices                                   # find your input
  {prog} run --device "USB Audio" --display 1      # fullscreen on the second screen
  {prog} run --input song.mp3 --windowed --models tiny --profile laptop   # rehearse

keys (live/draw/keys.py):
{keys}
profiles (live/core/profiles/*.toml): stage (strong GPU), balanced, laptop (CPU); or a .toml of your own.
"""


def channel_list(text: str) -> list[int]:
    """--channels 1,2 -> [0, 1]."""
    from live.core.units import FlagValueError

    try:
        channels = [int(c) - 1 for c in text.split(",")]
    except ValueError:
        raise FlagValueError(f"{text}: give input channel numbers from 1, e.g. 1 or 1,2") from None
    if min(channels) < 0:
        raise FlagValueError(f"{text}: channel numbers start at 1, e.g. 1 or 1,2")
    return channels


def epilog() -> str:
    from live.draw.keys import describe_keys

    keys = "\n".join("  " + line for line in describe_keys().splitlines())
    return EPILOG.format(prog=cli.prog("live"), keys=keys)


def register(sub) -> None:
    from live.core.profiles import DEFAULT_PROFILE

    p = sub.add_parser(
        "run",
        help="live: an audio input -> a fullscreen window",
        description="Play live: paint what an audio input sounds like, fullscreen.",
        epilog=epilog(),
    )
    a = p.add_argument_group("audio in")
    options.add_source_args(
        a,
        device="audio input (see `devices`; default: the system default input)",
        input="play a file into the live path at real time instead of a device (rehearsal, tests)",
    )
    a.add_argument("--channels", type=channel_list, metavar="N[,N]", help="input channels to mix, from 1 (default: all the device has, up to 2)")
    a.add_argument("--samplerate", type=SAMPLE_RATE_HZ, metavar="HZ", help="device sample rate (default: the device's own); resampled to 16 kHz")
    a.add_argument(
        "--monitor", nargs="?", const="", metavar="DEVICE", help="with --input: also play the file out loud (default output, or DEVICE) to judge the sync"
    )
    p.add_argument("--profile", default=DEFAULT_PROFILE, metavar="NAME|FILE", help="latency profile: stage, balanced, laptop, or a .toml")
    o = p.add_argument_group("profile overrides (default: the profile's own)")
    options.add_picture_args(o, {})
    o.add_argument("--display-fps", type=DISPLAY_FPS, metavar="N", help="presentation rate of the window")
    w = p.add_argument_group("the window")
    w.add_argument("--display", type=INDEX, default=0, metavar="N", help="which display to fill")
    w.add_argument("--windowed", action="store_true", help="a window instead of fullscreen")
    hud = "the figures over the picture (H toggles it; default: on in a window, off fullscreen, where the audience sees it)"
    w.add_argument("--hud", action=argparse.BooleanOptionalAction, default=None, help=hud)
    w.add_argument(
        "--headless",
        action="store_true",
        help="draw without a window: a rack machine whose picture leaves only by --ndi, --stream or --virtual-camera "
        "(also benches, tests, soak runs; Ctrl-C or SIGTERM stops it); without it, no display is an error",
    )
    d = p.add_argument_group("diffusion")
    d.add_argument("--prompt", action="append", default=[], metavar="TEXT", help="a text prompt to mix in; give several and switch with Left/Right")
    d.add_argument("--prompts", metavar="FILE", help="a text file of prompts, one per line")
    options.add_condition_args(d)
    d.add_argument("--no-shaders", action="store_true", help="diffusion engine only: plain img2img feedback, without the shader stage")
    p.add_argument("--duration", type=DURATION, metavar="S", help="stop after S seconds (default: until Q, Ctrl-C or SIGTERM)")
    options.add_stats_arg(p, "frames, fps, latency p50/p95/p99, overflows, dropped frames, reconnects")
    add_control_args(p)
    add_web_args(p.add_argument_group("web remote (a page for a phone or tablet; docs/web.md)"))
    add_output_args(p)
    options.add_engine_args(p, default=None, default_text=" (default: the profile's engine; diffusion for the shipped ones)")
    options.add_scene_args(p, live=True)
    options.add_model_args(p)
    p.set_defaults(func=run)


def add_control_args(p: argparse.ArgumentParser) -> None:
    c = p.add_argument_group("control (see `osc` and `midi`)")
    c.add_argument("--midi", metavar="NAME|INDEX", help="a MIDI controller: CCs set parameters, notes fire actions, its clock drives the beat")
    c.add_argument("--midi-api", choices=["auto", "alsa", "jack"], default="auto", help="MIDI system (auto: ALSA where it exists, else JACK)")
    c.add_argument(
        "--tempo-source",
        choices=["auto", "audio", "tap", "midi", "link"],
        default="auto",
        help="what drives the beat: audio (the tracker), tap (T key, OSC tempo), midi (the controller's clock), "
        "link (the Ableton Link session); auto: the audio until a tap, a clock or Link speaks, then the latest "
        "to speak (the HUD says which)",
    )
    link = "join the Ableton Link session on the local network and follow its tempo and beat (Live, Traktor, Resolume, ...)"
    c.add_argument("--link", action="store_true", help=link)
    c.add_argument(
        "--midi-map",
        metavar="FILE.toml",
        help="which CC sets which parameter and which note fires which action; MIDI learn (L) saves to it "
        "(it need not exist yet; default phosphene-midi.toml)",
    )
    c.add_argument("--osc-port", type=PORT, metavar="N", help="listen for OSC on this UDP port (0: one the OS picks, said in the log)")
    c.add_argument("--osc-host", metavar="ADDR", help="with --osc-port: an address of this machine to listen on for OSC (default: 127.0.0.1, this machine only; 0.0.0.0: every one)")


def add_output_args(p: argparse.ArgumentParser) -> None:
    o = p.add_argument_group("outputs besides the window")
    streams = "udp://HOST:PORT or srt://HOST:PORT (MPEG-TS), rtmp://HOST/APP/KEY"
    o.add_argument("--stream", metavar="URL", help=f"also send the picture as low-latency H.264: {streams}")
    o.add_argument(
        "--ndi",
        metavar="NAME",
        help="also send the picture as an NDI® source that Resolume, TouchDesigner or OBS list as 'HOST (NAME)' "
        "(the optional extra: pip install -r requirements-ndi.txt)",
    )
    o.add_argument(
        "--virtual-camera",
        nargs="?",
        const="",
        metavar="DEVICE",
        help="also show the picture as a webcam (OBS, browsers, video calls): the first v4l2loopback device, or DEVICE "
        "such as /dev/video10 (make one: sudo modprobe v4l2loopback exclusive_caps=1 card_label=Phosphene)",
    )


def read_prompts(args) -> list[str]:
    from pathlib import Path

    from live.core.errors import PhospheneError

    prompts = list(args.prompt)
    if args.prompts:
        path = Path(args.prompts)
        if not path.is_file():
            raise PhospheneError(f"--prompts {path}: no such file (one prompt per line)")
        prompts += [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return prompts


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from live.app.director import scene_director
    from live.app.engines import build_live_pipeline, build_shader_pipeline, select_models
    from live.app.run import check_run_args, run_live
    from live.core.errors import ModelNotFound
    from live.core.profiles import load_profile, with_overrides
    from live.models.loading import Models
    from live.models.settings import GeneratorConfig

    check_run_args(args)
    options.check_outputs(args)
    overrides = dict(size=args.size, window_s=args.window, hop_s=args.hop, steps=args.steps, strength=args.strength)
    profile = with_overrides(load_profile(args.profile), **overrides, display_fps=args.display_fps)
    if args.engine is None:  # the profile's engine (a tuned profile names the one it was measured with), else diffusion
        args.engine = getattr(profile, "engine", None) or "diffusion"
    if args.engine == "shader":
        options.check_shader_engine_args(args, {})
    else:
        GeneratorConfig(size=profile.size, steps=profile.steps, strength=profile.strength).check_schedule()  # before any model loads
    prompts = read_prompts(args)
    director = scene_director(args)  # bad scenes, transitions and timelines fail here, before audio and models

    def pipeline():
        if args.engine == "shader":
            return build_shader_pipeline(profile, director)  # no torch import on this path
        build = dict(device=args.compute, prompts=prompts, shaders=not args.no_shaders, director=director)
        build.update(condition=args.condition, image_scale=args.image_scale)
        models = select_models(args)
        if args.encoder_backend is None and profile.encoder_backend:  # the profile says which runtime suits the machine
            models = dataclasses.replace(models, encoder_backend=profile.encoder_backend)
        try:
            return build_live_pipeline(models, profile, **build)
        except ModelNotFound as e:
            if options.fall_back(args, e, "playing") == "shader":
                options.check_shader_engine_args(args, {}, fallback=True)
                return build_shader_pipeline(profile, director)
            return build_live_pipeline(Models.all_tiny(), profile, **build)

    summary = run_live(args, profile, pipeline)
    lat = summary["latency_ms"]
    print(
        f"{summary['frames']} frames, {summary['fps']:.1f} fps, latency p50 {lat['p50']:.0f} ms p95 {lat['p95']:.0f} ms, "
        f"overflows {summary['overflows']}, dropped {summary['dropped_frames']}, reconnects {summary['reconnects']}"
    )
    return 0
