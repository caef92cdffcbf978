"""`python -m live bench features` and `bench shaders`: the shader engine's two costs, as tables.

features  the features + beat tracker's CPU time per second of audio, on one core, in three block sizes
shaders   (live/lab/bench_shaders.py) ms per frame per scene and pass at 512x512 and 1920x1080
"""

from __future__ import annotations

import math
import time

import numpy as np

from live.analysis.clock import Analyzer
from live.audio.decode import open_segment, stream
from live.core.defaults import DEMO_CLIP, SAMPLE_RATE
from live.lab.bench_shaders import add_bench_shaders_args, bench_shaders  # noqa: F401  (`bench shaders` lives there)


def bench_features(args=None) -> int:
    """Feature + beat tracker cost per second of audio, on one core, in two block sizes."""
    demo = DEMO_CLIP
    seconds = float(getattr(args, "seconds", 60.0) or 60.0)
    clip = np.concatenate([b[:, 0] for b in stream(open_segment(demo), sr=SAMPLE_RATE, channels=1)])
    audio = np.resize(clip, round(seconds * SAMPLE_RATE))  # the demo clip looped
    print(f"features + beat tracker on {seconds:g} s of {demo.name} at {SAMPLE_RATE} Hz (one thread)")
    print("CPU time of this process (one thread: no BLAS in the hot path), best of 3; wall time beside it")
    print(f"{'block':>12}{'CPU ms per s of audio':>24}{'x real time':>14}{'wall x real time':>18}")
    for block_s in (1.0, 0.064, 0.016):
        block = round(block_s * SAMPLE_RATE)
        best_cpu = best_wall = math.inf
        for _ in range(3):
            analyzer = Analyzer(SAMPLE_RATE)
            c0, t0 = time.process_time(), time.perf_counter()
            for i in range(0, len(audio), block):
                analyzer.push(audio[i : i + block])
            best_cpu, best_wall = min(best_cpu, time.process_time() - c0), min(best_wall, time.perf_counter() - t0)
        print(f"{block_s * 1000:>9.0f} ms{1000 * best_cpu / seconds:>24.3f}{seconds / best_cpu:>14.0f}{seconds / best_wall:>18.0f}")
    return 0


def add_bench_args(bench_sub) -> None:
    """`bench features` and `bench shaders`, added to the `bench` subcommand's subparsers."""
    features = bench_sub.add_parser("features", help="features + beat tracker cost per second of audio, one core")
    features.add_argument("--seconds", type=float, default=60.0, help="audio to analyse (default: %(default)s)")
    add_bench_shaders_args(bench_sub)
