"""`tune`: measure this machine's live loop and write the latency profile that meets a target fps
and latency. Its options; the search that reads them is live/app/tune.py."""

from __future__ import annotations

import argparse

from live.app import options
from live.core import cli
from live.core.units import DURATION, Number

TARGET_FPS = Number("pictures per second", lo=1, hi=240, example="24")
TARGET_LATENCY = Number("milliseconds", lo=0, lo_open=True, example="400")

EPILOG = """\
examples:
  {prog} tune --target-fps 24 --target-latency 400 --engine shader -o my-rig.toml
  {prog} tune --target-fps 8 --target-latency 900 --models tiny --budget-s 120 -o tiny.toml
  {prog} tune --target-fps 24 --target-latency 300 --random-weights --engine auto -o my-rig.toml
  {prog} tune --check my-rig.toml
"""


def register(sub) -> None:
    p = sub.add_parser(
        "tune",
        help="measure this machine and write the latency profile that meets a target fps and latency",
        description="Search the latency profile's settings with the real live loop on this machine and write the "
        "profile that meets --target-fps and --target-latency (audio-to-photon p95), or say which target no candidate "
        "met and the closest one. The give-up order is in live/app/tune.py.",
        epilog=EPILOG.format(prog=cli.prog("live")),
    )
    p.add_argument("--target-fps", type=TARGET_FPS, metavar="N", help="new pictures per second the profile must reach")
    p.add_argument("--target-latency", type=TARGET_LATENCY, metavar="MS", help="audio-to-photon latency (p95) it must stay under, in ms")
    engine = "what to tune: auto tries diffusion, then the shader engine"  # checked by tune, in one line
    p.add_argument("--engine", default="diffusion", metavar="diffusion|shader|auto", help=engine)
    p.add_argument("-o", "--output", metavar="FILE.toml", help="the profile to write (atomically)")
    p.add_argument("--write-closest", action="store_true", help="when no candidate meets the targets, write the closest one anyway")
    p.add_argument("--check", metavar="FILE.toml", help="re-measure a profile tune wrote and say whether it still meets its targets")
    p.add_argument("--budget-s", type=DURATION, default=300.0, metavar="S", help="wall time for the whole search")
    p.add_argument("--seconds", type=DURATION, metavar="S", help="length of each candidate's run (default: budget / 12, 4-20 s)")
    start = "where the search starts (default: laptop on a CPU, stage on CUDA, balanced for shaders)"
    p.add_argument("--start", metavar="PROFILE", help=start)
    options.add_source_args(
        p, device="an audio input instead of --input (play music into it)", input="music played in at real time (default: the demo clip)"
    )
    random = "the full-size architectures with random weights (= --models random): real timing, no download"
    p.add_argument("--random-weights", action="store_true", help=random)
    options.add_model_args(p)
    options.add_condition_args(p.add_argument_group("conditioning (diffusion)"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from live.app.tune import tune

    return tune(args)
