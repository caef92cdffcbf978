"""`python -m live bench features` and `bench shaders`: the shader engine's two costs, as tables.

features  the features + beat tracker's CPU time per second of audio, on one core, in three block sizes
shaders   milliseconds per engine frame (structure + warp + post + readback) at 512x512 and 1920x1080
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from live.analysis.clock import Analyzer, Drive
from live.audio.decode import open_segment, stream
from live.core.defaults import DEMO_CLIP, SAMPLE_RATE
from live.draw.gl import create_context, read_rgb
from live.draw.shaders import ShaderEngine


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


def bench_shaders(args=None) -> int:
    """Milliseconds per engine frame (structure + warp + post + readback) at 512x512 and 1920x1080."""
    drive = Drive(time_s=1.0, level=0.7, peak=0.8, bands=(0.8, 0.7, 0.5, 0.4, 0.3, 0.2), onset=0.5, beat_phase=0.2, confidence=0.8)
    ctx = create_context()
    print(f"shader engine frames on {ctx.info['GL_RENDERER']}")
    print(f"{'size':>12}{'ms/frame':>10}{'fps':>8}{'  (of which readback ms)':>26}")
    for width, height in ((512, 512), (1920, 1080)):
        engine = ShaderEngine(width, height, ctx=ctx)
        for _ in range(3):
            engine.frame(drive)  # warm up: shader compile and first allocations
        n = 20
        t0 = time.perf_counter()
        for k in range(n):
            engine.frame(replace(drive, time_s=k / 24))
        per = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for _ in range(n):
            read_rgb(engine.output_fbo)
        readback = (time.perf_counter() - t0) / n
        print(f"{width:>5}x{height:<6}{per * 1000:>10.2f}{1 / per:>8.1f}{readback * 1000:>26.2f}")
    ctx.release()
    return 0


def add_bench_args(bench_sub) -> None:
    """`bench features` and `bench shaders`, added to the `bench` subcommand's subparsers."""
    features = bench_sub.add_parser("features", help="features + beat tracker cost per second of audio, one core")
    features.add_argument("--seconds", type=float, default=60.0, help="audio to analyse (default: %(default)s)")
    bench_sub.add_parser("shaders", help="shader engine ms per frame at 512x512 and 1920x1080")
