"""`bench` (programs that print tables, not tests) and `train-beats`: the lab's two user-facing
commands. Each bench keeps its options beside its code (add_*_args in its module); this module
adds `bench render` and `bench control`, which reuse the render and run commands' option groups."""

from __future__ import annotations

import argparse

from live.app import options
from live.core.units import DURATION, Number

MINUTES = Number("minutes", lo=0, lo_open=True, example="1")
PIXELS = Number("pixels", lo=1, example="128", whole=True)
FPS = Number("frames per second", lo=1, hi=240, example="2", whole=True)


def register(sub) -> None:
    from live.lab.beat_eval import add_bench_beats_args
    from live.lab.beat_train import add_train_beats_args
    from live.lab.bench_control import add_bench_control_args
    from live.lab.bench_engine import add_bench_args
    from live.lab.bench_latency import add_bench_latency_args
    from live.lab.bench_live import add_bench_live_args

    bench = sub.add_parser("bench", help="benchmarks that print tables", description="Benchmarks: programs that print tables, not tests.")
    bench_sub = bench.add_subparsers(dest="bench", metavar="what")
    render = bench_sub.add_parser("render", help="per-stage ms per frame and peak memory, 1-minute vs 60-minute input")
    render.add_argument("--minutes", type=MINUTES, nargs="+", default=[1.0, 60.0], help="input lengths to compare (default: 1 60)")
    render.add_argument("--fps", type=FPS, default=2, help="frames per second for the memory runs (low so 60 minutes finish)")
    render.add_argument("--size", type=PIXELS, default=128, help="frame size for the memory runs")
    render.add_argument("--timing-seconds", type=DURATION, default=10.0, help="length of the per-stage timing run")
    render.add_argument("--timing-size", type=PIXELS, default=256, help="frame size of the timing run")
    options.add_model_args(render)
    render.set_defaults(encoder="tiny", diffusion="tiny", vae="tiny")  # the pipeline on whatever models are named; tiny unless told
    add_bench_args(bench_sub)
    add_bench_live_args(bench_sub)
    add_bench_control_args(bench_sub)
    add_bench_latency_args(bench_sub)
    add_bench_beats_args(bench_sub)
    bench.set_defaults(func=lambda args: run_bench(args, bench))
    add_train_beats_args(sub)
    sub.choices["train-beats"].set_defaults(func=run_train_beats)


def run_bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from live.lab import beat_eval, bench_engine, bench_latency, bench_live, bench_render

    benches = {
        "render": bench_render.bench_render,
        "features": bench_engine.bench_features,
        "shaders": bench_engine.bench_shaders,
        "live": bench_live.bench_live,
        "beats": beat_eval.bench_beats,
        "control": bench_control,
        "latency": bench_latency.bench_latency,
    }
    if args.bench not in benches:
        parser.print_help()
        return 2
    return benches[args.bench](args)


def bench_control(args: argparse.Namespace) -> int:
    """`bench control`: the real `run` command, headless on the demo clip, with OSC on a free port."""
    from live.app import run_cli
    from live.core.cli import Parser
    from live.core.errors import PhospheneError
    from live.core.defaults import DEMO_CLIP
    from live.core.profiles import load_profile
    from live.lab.bench_control import bench_control as bench
    from live.lab.bench_control import free_udp_port

    if args.repeats < 1:
        raise PhospheneError(f"--repeats {args.repeats}: give at least 1")
    run = ["run", "--headless", "--windowed", "--input", str(DEMO_CLIP), "--engine", args.engine, "--profile", args.profile]
    run += ["--osc-port", str(free_udp_port())]
    if args.engine == "diffusion":
        run += ["--models", "tiny", "--compute", args.compute]
    parser = Parser()
    run_cli.register(parser.add_subparsers(dest="command"))
    run_args = parser.parse_args(run)
    run_args.repeats = args.repeats
    return bench(run_args, run_cli.run, lambda a: load_profile(a.profile))


def run_train_beats(args: argparse.Namespace) -> int:
    from live.lab.beat_train import train

    return train(args)
