"""`python -m live bench shaders`: where the shader engine's milliseconds go, per scene and per pass.

Every scene of the library runs on the same audio (the demo clip, or --wav) on the offline clock at
24 fps, as `render --scene NAME` would draw it, at 512x512 and 1920x1080. A frame's time
(`total`) is the features (the Analyzer on the audio under the frame) plus the GL work of frames
drawn back to back and waited for (glFinish) at the end, as projectM's bench times its own. The
pass columns come from a second run of the same frames with a wait after each pass, so each share
is its own: structure, warp (which grades the frame too), post (a pass of its own only during a
crossfade). The frame stays in GL, as in the live window; `readback` (glReadPixels of the
finished frame, what an output that needs pixels pays) is its own column and not in the total.

    bench shaders                          the table
    bench shaders --json FILE              also {"scenes": {NAME: {"512x512": ms, "1920x1080": ms}}}
    bench shaders --peer projectm          also Debian's libprojectM on the same audio and sizes:
                                           one table of both medians and their ratio

The machine is shared and llvmpipe noisy: with the peer, a scene and a preset take turns, so both
see the same load, and the ratio is the figure to read.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

SIZES = ((512, 512), (1920, 1080))
FPS = 24  # the audio under each frame: 1/24 s, as projectM's bench pushes it
PASSES = ("features", "structure", "warp", "post")


def size_key(width: int, height: int) -> str:
    return f"{width}x{height}"


def load_audio(path, seconds: float, sr: int, channels: int) -> np.ndarray:
    """float32 (n, channels) of the first `seconds` of the file (looped when it is shorter)."""
    from live.audio.decode import open_segment, stream

    segment = open_segment(path, 0.0, None)
    audio = np.concatenate(list(stream(segment, sr=sr, channels=channels, block_s=1.0)))
    n = round(seconds * sr)
    return np.resize(audio, (n, channels)) if len(audio) < n else audio[:n]


def time_scene(scene, audio: np.ndarray, sr: int, width: int, height: int, frames: int, warmup: int, ctx) -> dict[str, float]:
    """ms per frame over `frames` frames after `warmup`: `total` = the features plus the frames drawn
    back to back and waited for once at the end (as projectM's are timed); the passes' columns from a
    second run of the same frames with a wait after each pass; `readback` apart."""
    from live.analysis.clock import FeatureClock
    from live.draw.gl import read_rgb
    from live.draw.shaders import ShaderEngine

    clock = FeatureClock(sr)
    step = Fraction(sr, FPS)
    drives, features_s = [], 0.0
    for k in range(warmup + frames):
        a, b = round(k * step) % len(audio), round((k + 1) * step) % len(audio)
        under = audio[a:b] if b > a else audio[a:]
        t0 = time.perf_counter()
        drives.append(clock.advance(under, float(k / FPS)))
        if k >= warmup:
            features_s += time.perf_counter() - t0
    row = {"features": 1000.0 * features_s / frames}
    for timed_passes in (False, True):
        engine = ShaderEngine(width, height, look=scene.look, structure=scene.structure, seed=0, fps=float(FPS), ctx=ctx)
        for drive in drives[:warmup]:
            engine.render(drive)
        ctx.finish()
        passes = engine.time_passes() if timed_passes else None
        t0 = time.perf_counter()
        for drive in drives[warmup:]:
            engine.render(drive)
        ctx.finish()
        if timed_passes:
            row.update({name: ms / frames for name, ms in passes.items()})
            t0 = time.perf_counter()
            for _ in range(3):
                read_rgb(engine.output_fbo)
            row["readback"] = 1000.0 * (time.perf_counter() - t0) / 3
        else:
            row["total"] = row["features"] + 1000.0 * (time.perf_counter() - t0) / frames
        engine.release(context=False)
    return row


def print_table(size: tuple[int, int], results: dict) -> None:
    print(f"\n{size_key(*size)}: ms per frame; total: features + the frames drawn back to back; the passes: each waited for; readback apart")
    head = f"{'scene':<10}" + "".join(f"{p:>10}" for p in PASSES) + f"{'total':>9}{'fps':>8}{'readback':>10}"
    print(head)
    for name, row in results.items():
        cells = "".join(f"{row.get(p, 0.0):>10.2f}" for p in PASSES)
        print(f"{name:<10}{cells}{row['total']:>9.2f}{1000.0 / row['total']:>8.1f}{row['readback']:>10.2f}")
    totals = [row["total"] for row in results.values()]
    print(f"{'median':<10}{'':>{10 * len(PASSES)}}{statistics.median(totals):>9.2f}{statistics.median(1000.0 / t for t in totals):>8.1f}")


def bench_shaders(args=None) -> int:
    from live.app.scenes import load_library
    from live.core.defaults import DEMO_CLIP, SAMPLE_RATE
    from live.draw.gl import create_context

    from live.core.errors import PhospheneError

    frames = int(getattr(args, "frames", None) or 24)
    warmup = int(getattr(args, "warmup", 6))
    wav = getattr(args, "wav", None) or DEMO_CLIP
    json_path = getattr(args, "json", None)
    peer = getattr(args, "peer", None)
    library = load_library()
    names = getattr(args, "scene", None)
    if names:
        unknown = [n for n in names if n not in library]
        if unknown:
            raise PhospheneError(f"--scene {unknown[0]}: no such scene (there are: {', '.join(library)})")
        library = {n: library[n] for n in names}
    audio = load_audio(wav, (warmup + frames + 1) / FPS, SAMPLE_RATE, 1)[:, 0]
    ctx = create_context()
    print(f"shader engine on {ctx.info['GL_RENDERER']}; {len(library)} scenes; {frames} frames each after {warmup} untimed; "
          f"audio {Path(wav).name} at {FPS} fps; load average {os.getloadavg()[0]:.2f}")
    runner = None
    if peer == "projectm":
        from live.lab.peer_projectm import PCM_SR, ProjectM

        runner = ProjectM.find()
        if runner.missing:
            print(f"peer projectm skipped: {runner.missing}")
            runner = None
        else:
            pcm = load_audio(wav, (warmup + frames + 1) / FPS, PCM_SR, 2)  # the same audio at projectM's rate, in stereo
    ours, theirs = {}, {}
    presets = runner.presets(args.peer_count, args.peer_seed) if runner else []
    with runner.pcm_file(pcm) if runner else contextlib.nullcontext() as pcm_path:
        for size in SIZES:
            # interleaved, a scene then a preset: on a shared machine both see the same load
            ours[size], rows = {}, []
            for i in range(max(len(library), len(presets))):
                if i < len(library):
                    name = list(library)[i]
                    ours[size][name] = time_scene(library[name], audio, SAMPLE_RATE, *size, frames, warmup, ctx)
                if i < len(presets):
                    rows.append(runner.run_one(pcm_path, presets[i], *size, frames, warmup, FPS))
            print_table(size, ours[size])
            if runner is not None:
                theirs[size] = runner.summary(size, rows)
    ctx.release()
    if runner is not None:
        print_peer_table(ours, theirs)
    if json_path:
        data = {"scenes": {name: {size_key(*s): round(ours[s][name]["total"], 3) for s in SIZES} for name in library}}
        tmp = Path(json_path).with_name(f".{Path(json_path).name}.partial")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(tmp, json_path)
        print(f"wrote {json_path}")
    return 0


def print_peer_table(ours: dict, theirs: dict) -> None:
    print("\nside by side, same machine, audio and sizes, in this run (fps: frames per second, median)")
    print(f"{'size':>11}{'Phosphene':>11}{'projectM':>10}{'ratio':>8}   (Phosphene: over scenes; projectM: over presets measured)")
    for size, results in ours.items():
        if size not in theirs:
            continue
        mine = statistics.median(1000.0 / row["total"] for row in results.values())
        peer = theirs[size]
        print(f"{size_key(*size):>11}{mine:>11.1f}{peer['median_fps']:>10.1f}{mine / peer['median_fps']:>7.2f}x   "
              f"({peer['measured']} of {peer['presets']} presets, {peer['failed']} failed)")


def add_bench_shaders_args(bench_sub) -> None:
    p = bench_sub.add_parser(
        "shaders",
        help="shader engine ms per frame per scene and pass at 512x512 and 1920x1080 (--peer projectm: beside projectM)",
        description="Per scene and per pass: features, structure, warp, post, at 512x512 and 1920x1080.",
    )
    p.add_argument("--json", metavar="FILE", help='also write {"scenes": {NAME: {"512x512": ms, "1920x1080": ms}}} to FILE')
    p.add_argument("--peer", choices=["projectm"], help="also run Debian's libprojectM 3.1 on the same audio and sizes")
    from live.core.units import Number

    p.add_argument("--peer-count", type=Number("presets", lo=1, example="20", whole=True), default=20, help="random projectM presets")
    p.add_argument("--peer-seed", type=Number("a seed", lo=0, example="1", whole=True), default=1, help="which random presets")
    p.add_argument("--frames", type=Number("frames", lo=1, example="24", whole=True), default=24, help="timed frames per scene and size")
    p.add_argument("--warmup", type=Number("frames", lo=0, example="6", whole=True), default=6, help="untimed frames first")
    p.add_argument("--wav", metavar="AUDIO", help="the audio (default: the demo clip)")
    p.add_argument("--scene", action="append", metavar="NAME", help="only this scene (repeat for more)")
