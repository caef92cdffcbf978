"""`python -m training`: make and inspect the encoder checkpoints that render, live and export load.

Only the standard library is imported at the top, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Phosphene's encoder checkpoints: a Hugging Face folder (config.json, model.safetensors,
preprocessor_config.json) plus phosphene.json naming the text space it maps into (model id,
tokens L, width D).

commands:
  init   write a new, untrained checkpoint (a tiny one for tests and smoke runs)
  info   print what a checkpoint folder declares and what its model gives

Training itself (`fit`, `eval`) arrives with the training recipe.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    init = sub.add_parser(
        "init",
        help="write a new, untrained checkpoint",
        description="Write an untrained own-format checkpoint: seeded random weights, for tests and smoke runs (its pictures mean nothing).",
    )
    init.add_argument("-o", "--output", required=True, help="folder to write (must not exist)")
    init.add_argument(
        "--encoder", choices=["tiny"], default="tiny", help="architecture: tiny (a 2-layer w2v-bert, 32 wide, in the tiny text space)"
    )
    init.add_argument("--tokens", type=int, default=77, help="L, tokens per window (default: %(default)s, a whole SD prompt)")
    info = sub.add_parser(
        "info",
        help="print a checkpoint's metadata and output shape",
        description="Load a checkpoint (own or audio2img format) and print its text space and the shape it gives for a 3.76 s window.",
    )
    info.add_argument("encoder", help="checkpoint folder, hub id, or tiny")
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
        return cmd_init(args) if args.command == "init" else cmd_info(args)
    except PhospheneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def cmd_init(args) -> int:
    from pathlib import Path

    from live.errors import PhospheneError

    out = Path(args.output)
    if out.exists():
        raise PhospheneError(f"{out} already exists: give a new folder for the checkpoint")
    if not 1 <= args.tokens <= 77:
        raise PhospheneError(f"--tokens {args.tokens}: SD text encoders take 1 to 77 positions")
    from live.encoder import tiny_own_encoder
    from training.model import save_encoder

    model, fe, meta = tiny_own_encoder(tokens=args.tokens)
    save_encoder(model, fe, meta, out)
    print(f"wrote {out}: untrained tiny encoder, {meta.tokens} x {meta.width} tokens in the '{meta.text_encoder}' text space")
    return 0


def cmd_info(args) -> int:
    import numpy as np

    from live.encoder import load_encoder

    enc = load_encoder(args.encoder)
    window = np.zeros((1, round(enc.meta.window_s * 16_000)), dtype=np.float32)
    shape = tuple(enc.encode(window).shape)
    params = sum(p.numel() for p in enc.model.parameters())
    m = enc.meta
    print(f"encoder       {args.encoder}")
    print(f"format        {'audio2img (no phosphene.json)' if m.prepend_bos else 'phosphene'}")
    print(f"text space    {m.text_encoder}: L={m.tokens}, D={m.width}{' (+ start token prepended)' if m.prepend_bos else ''}")
    print(f"audio         {m.sample_rate} Hz, trained window {m.window_s} s")
    print(f"parameters    {params / 1e6:.2f} M")
    print(f"output        {shape} for one {m.window_s} s window (B, T, D)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
