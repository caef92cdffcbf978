"""`python -m live bench render`: where a render's time goes, and proof that memory does not grow
with the input's length. A program that prints tables, not a test with a time limit.

1. Timing: render a stretch of the demo clip and print milliseconds per frame for each stage
   (decode, encoder, conditioning, UNet, VAE, mux) and frames per second.
2. Memory: render a 1-minute and a 60-minute input (the demo clip looped, as MP3), each in a fresh
   process, and print each one's peak resident memory and their ratio (target: within 10%).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from live.core.defaults import DEMO_CLIP

STAGES = ("decode", "encoder", "conditioning", "shaders", "unet", "vae", "mux")


def looped_mp3(minutes: float, folder: Path) -> Path:
    """The demo clip repeated to `minutes`, written block by block (the bench itself stays small)."""
    import av

    from live.audio.decode import open_segment, stream

    seg = open_segment(DEMO_CLIP)
    clip = np.concatenate(list(stream(seg, sr=44_100, channels=2)))  # (n, 2), ~12 s
    path = folder / f"input-{minutes:g}min.mp3"
    total = round(minutes * 60 * 44_100)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libmp3lame", rate=44_100, layout="stereo")
        s.bit_rate = 128_000
        written = 0
        while written < total:
            block = clip[: total - written]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block.T), format="fltp", layout="stereo")
            frame.sample_rate = 44_100
            for packet in s.encode(frame):
                out.mux(packet)
            written += len(block)
        for packet in s.encode(None):
            out.mux(packet)
    return path


def run_render(input_path: Path, out_dir: Path, extra: list[str]) -> dict:
    stats = out_dir / f"{input_path.stem}.json"
    cmd = [
        sys.executable,
        "-m",
        "live",
        "render",
        str(input_path),
        "-o",
        str(out_dir / f"{input_path.stem}.mp4"),
        "-q",
        "--stats-json",
        str(stats),
        *extra,
    ]
    # its own session: Ctrl-C reaches the bench alone, which stops the render and says so in one line
    render = subprocess.Popen(cmd, start_new_session=True)
    try:
        code = render.wait()
    except KeyboardInterrupt:
        render.kill()  # its partial file goes with the bench's temporary folder
        render.wait()
        raise KeyboardInterrupt(f"bench render stopped during the render of {input_path.name}; no figures") from None
    if code != 0:
        from live.core.errors import PhospheneError

        raise PhospheneError(f"the benchmark's render of {input_path.name} failed (its error is above)")
    return json.loads(stats.read_text())


def model_flags(args) -> list[str]:
    if args.models == "tiny" or args.encoder == args.diffusion == args.vae == "tiny":
        return ["--models", "tiny"]
    return ["--encoder", args.encoder, "--diffusion", args.diffusion, "--vae", args.vae, "--compute", args.compute]


def bench_render(args) -> int:
    flags = model_flags(args)
    with tempfile.TemporaryDirectory(prefix="phosphene-bench-") as tmp:
        tmp = Path(tmp)
        print(
            f"timing: {args.timing_seconds:g} s of {DEMO_CLIP.name} at {args.timing_size} px, 24 fps, models: {' '.join(flags)}", flush=True
        )
        timing = run_render(
            DEMO_CLIP, tmp, [*flags, "--duration", str(args.timing_seconds), "--size", str(args.timing_size), "--fps", "24"]
        )
        print()
        print(f"{'stage':<14}{'ms/frame':>10}")
        for stage in STAGES:
            print(f"{stage:<14}{timing['stage_ms'].get(stage, 0.0):>10.1f}")
        print(f"{'total':<14}{1000 / timing['fps']:>10.1f}   ({timing['fps']:.1f} fps, {timing['frames']} frames)")
        print()
        rows = []
        for minutes in args.minutes:
            t0 = time.perf_counter()
            path = looped_mp3(minutes, tmp)
            made_s = time.perf_counter() - t0
            print(
                f"memory: {minutes:g}-minute input written in {made_s:.0f} s; rendering at {args.fps} fps, {args.size} px ...", flush=True
            )
            stats = run_render(path, tmp, [*flags, "--fps", str(args.fps), "--size", str(args.size), "--hop", "0.5"])
            rows.append((minutes, stats))
            path.unlink()
        print()
        print(f"{'input':<10}{'frames':>8}{'wall s':>9}{'fps':>7}{'peak RSS MiB':>14}")
        for minutes, s in rows:
            print(f"{minutes:>6g} min{s['frames']:>8}{s['seconds']:>9.1f}{s['fps']:>7.1f}{s['peak_rss_mib']:>14.0f}")
        if len(rows) >= 2:
            ratio = rows[-1][1]["peak_rss_mib"] / rows[0][1]["peak_rss_mib"]
            verdict = "ok" if ratio <= 1.10 else "OVER the 10% target"
            print(f"peak memory ratio {rows[-1][0]:g} min / {rows[0][0]:g} min: {ratio:.3f} ({verdict})")
    return 0
