"""`python -m export`: take the audio encoder out of torch, for ONNX Runtime and TensorRT.

Only the standard library is imported at the top, so `--help` answers at once; each command
imports torch, onnx and friends when it runs.
"""

from __future__ import annotations

import argparse
import sys

from live.core.cli import dispatch, top_parser
from live.core.units import COUNT, Number

DESCRIPTION = """\
Export Phosphene's audio encoder: encode(waveforms float32 [B, S] at 16 kHz) -> [B, T, D].

commands:
  shapes   run the torch encoder on 1, 2 and 3.76 s windows and print (B, S) -> (B, T, D)
  onnx     export an encoder (fbank included) to an ONNX folder: model.onnx + export.json
           (a text-space one: tokens (B, L, D); an image-space one, fit --target clip-image: (B, 1, P))
  verify   compare an ONNX export with its torch source on real music (cosine per token)
  trt      build a TensorRT engine (fp16) from an ONNX export for a latency profile (CUDA only)
  bench    milliseconds per window for every backend here, full-size and tiny

examples:
  python -m export onnx --encoder youzarsif/wav2vec2bert_2_diffusion -o exports/audio2img
  python -m export verify exports/audio2img
  python -m export trt --onnx exports/audio2img --profile stage      # writes exports/audio2img/stage.engine
  python -m live render song.mp3 -o song.mp4 --encoder exports/audio2img --encoder-backend onnx
  python -m live run --encoder exports/audio2img --encoder-backend auto --profile stage  # TensorRT when built
"""


OPSET = Number("an ONNX opset", example="17", whole=True)  # which ones export: export/onnx.py
THREADS = Number("a whole number of threads", lo=1, example="2", whole=True)


def build_parser(prog: str = "python -m export") -> argparse.ArgumentParser:
    parser, sub = top_parser(prog, DESCRIPTION)
    what = "Run the torch encoder on several window lengths and batch sizes and print (B, S) -> (B, T, D)."
    shapes = sub.add_parser("shapes", help="print the encoder's input and output shapes", description=what)
    shapes.add_argument("--encoder", default="tiny", help="hub id, folder, or tiny")
    shapes.set_defaults(func=cmd_shapes, tiny="--encoder tiny")

    onnx = sub.add_parser("onnx", help="export to ONNX", description="Export an encoder, fbank included, to an ONNX folder.")
    onnx.add_argument("--encoder", required=True, metavar="ID|PATH|tiny", help="audio2img or own-format checkpoint: hub id, folder, or tiny")
    onnx.add_argument("-o", "--output", required=True, metavar="DIR", help="the folder to write (must not exist, or be empty)")
    onnx.add_argument("--fp16", action="store_true", help="model weights and compute in fp16 (fbank stays fp32); for GPUs")
    onnx.add_argument("--opset", type=OPSET, default=17, help="ONNX opset (17 is the tested one)")
    onnx.set_defaults(func=cmd_onnx, tiny="--encoder tiny")

    verify = sub.add_parser("verify", help="check an export against torch", description="Compare an ONNX export with its torch source on real music.")
    verify.add_argument("folder", metavar="DIR", help="a folder written by `python -m export onnx`")
    verify.set_defaults(func=cmd_verify)

    trt = sub.add_parser("trt", help="build a TensorRT engine (CUDA)", description="Build a fp16 TensorRT engine from an ONNX export.")
    trt.add_argument("--onnx", required=True, metavar="DIR", help="a folder written by `python -m export onnx`")
    trt.add_argument("--profile", required=True, metavar="NAME", help="latency profile (stage, balanced, laptop, or a .toml file)")
    engine = "the engine file to write, ENGINE.json beside it (default: DIR/PROFILE.engine, where --encoder-backend auto finds it)"
    trt.add_argument("-o", "--output", metavar="ENGINE", help=engine)
    trt.add_argument("--timing-cache", metavar="FILE", help="TensorRT timing cache (default: timing.cache beside the engine)")
    trt.set_defaults(func=cmd_trt)

    bench = sub.add_parser("bench", help="time every backend", description="Milliseconds per window for every backend available here.")
    bench.add_argument("--models", default="full,tiny", help="comma-separated: full (w2v-bert-2.0 + adapter, random weights), tiny")
    bench.add_argument("--repeat", type=COUNT, default=3, help="timed runs per cell, median reported")
    bench.add_argument("--threads", type=THREADS, default=2, help="ONNX Runtime intra_op_num_threads on the CPU")
    bench.set_defaults(func=cmd_bench, tiny="--models tiny")
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m export") -> int:
    return dispatch(build_parser(prog), argv)


def cmd_shapes(args) -> int:
    import numpy as np

    from live.core.defaults import SAMPLE_RATE
    from live.models.encoder import load_encoder

    enc = load_encoder(args.encoder)
    print(f"{'B':>3} {'seconds':>8} {'S':>7}  ->  (B, T, D)")
    for batch in (1, 2):
        for seconds in (1.0, 2.0, 3.76):
            waves = np.zeros((batch, round(seconds * SAMPLE_RATE)), dtype=np.float32)
            print(f"{batch:>3} {seconds:>8.2f} {waves.shape[1]:>7}  ->  {tuple(enc.encode(waves).shape)}")
    return 0


def cmd_onnx(args) -> int:
    from export.onnx import check_output_folder, export_onnx

    check_output_folder(args.output)  # before torch loads anything
    out = export_onnx(args.encoder, args.output, fp16=args.fp16, opset=args.opset)
    print(out)
    return 0


def cmd_verify(args) -> int:
    from export.verify import print_rows, verify

    rows, threshold, info = verify(args.folder)
    space = f", CLIP {info.get('clip')}'s image space" if info.get("target") == "clip-image" else ""
    print(f"{args.folder}: {info['source']} ({'fp16' if info.get('fp16') else 'fp32'}, opset {info['opset']}{space}) vs torch fp32")
    print_rows(rows, threshold)
    worst = min(r.min_cosine for r in rows)
    if worst < threshold:
        print(f"FAIL: min cosine {worst:.7f} < {threshold}", file=sys.stderr)
        return 1
    print(f"ok: min cosine {worst:.7f} >= {threshold}")
    return 0


def cmd_trt(args) -> int:
    from pathlib import Path

    from export.trt import build_engine, check_can_build, default_engine
    from live.core.profiles import load_profile
    from live.models.runtimes import read_export

    read_export(args.onnx)  # a bad folder or profile is named before the TensorRT check
    profile = load_profile(args.profile)
    check_can_build()
    out = Path(args.output) if args.output else default_engine(args.onnx, profile)
    print(build_engine(args.onnx, args.profile, out, timing_cache=args.timing_cache))
    return 0


def cmd_bench(args) -> int:
    from live.core.errors import PhospheneError

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not models or set(models) - {"full", "tiny"}:
        raise PhospheneError(f"--models {args.models}: choose from full, tiny (comma-separated)")
    from export.bench import bench, print_table

    print_table(bench(models, repeat=args.repeat, threads=args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
