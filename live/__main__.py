"""`python -m live` and the `phosphene` command: the top parser and the dispatch, nothing else.

Each command registers its own options beside the code that reads them (live/app/*_cli.py,
live/lab/bench_cli.py; the groups render, run and tune share: live/app/options.py); `export` and
`train` hand their words to `python -m export` and `python -m training`. Only the standard library
and those torch-free modules are imported, so `--help` answers at once; nothing imports this module.
"""

from __future__ import annotations

import argparse
import sys

from live.app import beats_cli, render_cli, rig_cli, run_cli, scenes_cli, tune_cli
from live.control import web as web_cli
from live.core.cli import dispatch, prog, top_parser
from live.lab import bench_cli

DESCRIPTION = """\
Phosphene paints what music sounds like: an audio encoder maps sound into Stable Diffusion's
text-embedding space, and a few-step img2img loop turns that into moving pictures.
`{prog} COMMAND --help` teaches each command.
"""

COMMANDS = (render_cli, run_cli, tune_cli, scenes_cli, beats_cli, rig_cli, web_cli, bench_cli)

def export(words: list[str]) -> int:
    from export.__main__ import main

    return main(words, prog=f"{prog('live')} export")


def train(words: list[str]) -> int:
    from training.__main__ import main

    return main(words, prog=f"{prog('live')} train")


# the encoder's two other command lines, reached from here: `export ...` and `train ...` take their words as they are
DELEGATES = {
    "export": (export, "the audio encoder to ONNX / TensorRT: shapes, onnx, verify, trt, bench (`python -m export`)"),
    "train": (train, "train and score encoders: fit, eval, bench, init, info (`python -m training`)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser, sub = top_parser(prog("live"), DESCRIPTION.format(prog=prog("live")))
    for command in COMMANDS:
        command.register(sub)
    for name, (_, summary) in DELEGATES.items():
        sub.add_parser(name, help=summary, add_help=False)  # listed here; its words go to its own parser (main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in DELEGATES:
        return DELEGATES[argv[0]][0](argv[1:])
    return dispatch(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
