"""`scenes`: list the scenes (shipped and your own) and draw their contact sheet."""

from __future__ import annotations

import argparse

from live.core import cli
from live.core.units import SECONDS, Number

SHEET_PX = Number("pixels", lo=1, example="160", whole=True)  # the sizes it can draw: the shader engine's rule


def register(sub) -> None:
    p = sub.add_parser(
        "scenes",
        help="list the scenes (name, generator, description); --sheet draws them all",
        description="List the scenes: the shipped ones in scenes/ and a --scenes folder of your own. "
        "A scene is a TOML file: its structure generator, warp, grade, feature routes and diffusion prompt (docs/scenes.md).",
        epilog=f"example:\n  {cli.prog('live')} scenes --sheet sheet.png   # every scene at 3, 6, 9 and 12 s of the demo track",
    )
    p.add_argument("--scenes", metavar="DIR", help="a folder of your own NAME.toml scenes, beside the shipped ones")
    p.add_argument("--sheet", metavar="OUT.png", help="render a contact sheet: a row per scene, a column per moment")
    p.add_argument("--input", metavar="FILE", help="the track the sheet is drawn on (default: the demo track)")
    p.add_argument("--at", type=SECONDS, nargs="+", default=[3.0, 6.0, 9.0, 12.0], metavar="S", help="the moments, in seconds (default: 3 6 9 12)")
    p.add_argument("--size", type=SHEET_PX, default=160, metavar="PX", help="side of each picture")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
