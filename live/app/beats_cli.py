"""`beats`: the tempo, beats and bars of a music file, by the live (causal) tracker."""

from __future__ import annotations

import argparse

from live.app import options


def register(sub) -> None:
    p = sub.add_parser(
        "beats",
        help="tempo and beat times of a music file (the live tracker: causal)",
        description="Print tempo and beat times of a file with the same causal tracker the live path uses.",
    )
    p.add_argument("input", help="audio or video file: anything ffmpeg reads")
    p.add_argument("--json", action="store_true", help='print {"tempo": BPM, "beats": [seconds, ...]} instead of text')
    p.add_argument(
        "--bars",
        action="store_true",
        help="print the bars and where 4-, 8- and 16-bar phrases start (bar 1 = the first downbeat), to write a timeline by bar; "
        'with --json: {"tempo", "bars": [s, ...], "beats_per_bar", "phrases": {"4": [s, ...], ...}}',
    )
    options.add_segment_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from live.app.beats import cmd_beats

    return cmd_beats(args)
