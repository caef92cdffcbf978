"""`python -m export`: take the audio encoder out of torch, for ONNX Runtime and TensorRT.

Only the standard library is imported at the top, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Export Phosphene's audio encoder: encode(waveforms float32 [B, S] at 16 kHz) -> [B, T, D].

commands:
  shapes   run the torch encoder on 1, 2 and 3.76 s windows and print the shapes an export must
           reproduce (its dynamic batch and sample axes)

ONNX export, verification and TensorRT engines (`onnx`, `verify`, `trt`, `bench`) arrive with the
export work; until then the torch backend in `python -m live render` is the only runtime.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m export", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="command")
    shapes = sub.add_parser(
        "shapes",
        help="print the encoder's input and output shapes",
        description="Run the torch encoder on several window lengths and batch sizes and print (B, S) -> (B, T, D).",
    )
    shapes.add_argument("--encoder", default="tiny", help="hub id, folder, or tiny (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.command:
        build_parser().print_help()
        return 2
    from live.errors import PhospheneError
    from live.logs import setup_logging

    setup_logging(quiet=False)
    try:
        return cmd_shapes(args)
    except PhospheneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def cmd_shapes(args) -> int:
    import numpy as np

    from live.encoder import SAMPLE_RATE, load_encoder

    enc = load_encoder(args.encoder)
    print(f"{'B':>3} {'seconds':>8} {'S':>7}  ->  (B, T, D)")
    for batch in (1, 2):
        for seconds in (1.0, 2.0, 3.76):
            waves = np.zeros((batch, round(seconds * SAMPLE_RATE)), dtype=np.float32)
            print(f"{batch:>3} {seconds:>8.2f} {waves.shape[1]:>7}  ->  {tuple(enc.encode(waves).shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
