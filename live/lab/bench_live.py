"""`python -m live bench live`: the live loop, run for minutes on each latency profile this machine
can run, fed by real music. A program that prints tables, not a test with a time limit.

For each profile it runs `python -m live run --profile P --windowed --duration S --stats-json F` in
a child (SDL's dummy video driver: no screen needed) and samples the child's resident memory from
/proc every second. The music is the demo clip, looped:

- with `jackd` on PATH, through a real audio server: a JACK dummy server (started here unless one
  is already up) and a player client wired to the run's input with jack_connect, so the audio
  callback runs for real and its cost is measured inside it;
- otherwise through `--input FILE` (no audio callback: its cost reads n/a).

Targets, from the live issue: audio callback under 10% of the block's duration; latency p50 over
the last minute within 10% of the first minute (a slow frame is dropped, never queued); memory
flat after warm-up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from live.core.defaults import DEMO_CLIP, ROOT
from live.lab import jackdummy

WARMUP_S = 5.0  # first encoder calls and allocator growth: left out of the start-of-run figures
RSS_PERIOD_S = 1.0  # how often the child's VmRSS is read
CALLBACK_TARGET = 0.10  # audio callback cost as a share of the block's duration
DRIFT_TARGET = 0.10  # last-minute latency p50 against the first minute's
RING_FILL_S = 31.0  # the capture ring (30 s, shared memory) is paged in as it first fills: ~0.37 MiB/s of RSS until then


def add_bench_live_args(bench_sub) -> None:
    """`bench live`, added to the `bench` subcommand's subparsers."""
    p = bench_sub.add_parser(
        "live",
        help="the live loop for N minutes per profile: fps, latency drift, callback cost, memory",
        description="Run `python -m live run` for N minutes on each profile this machine can run, fed by real music "
        "(through a JACK dummy server when jackd is installed), and print fps, latency percentiles and drift, "
        "encoder/UNet ms, audio-callback cost and memory.",
    )
    p.add_argument("--minutes", type=float, default=1.0, help="length of each profile's run (default: %(default)s)")
    p.add_argument(
        "--profiles",
        nargs="+",
        default=None,
        metavar="NAME",
        help="profiles to run (default: every one this machine can run: stage needs CUDA)",
    )
    p.add_argument(
        "--random-weights",
        action="store_true",
        help="the full-size architectures (sd-turbo UNet, TAESD or the full VAE, text encoder, w2v-bert-2.0 + adapter) built "
        "offline from live/models/configs with random weights: real timing, meaningless pictures (--encoder random-own: "
        "our own encoder format; default profiles on a CPU: laptop)",
    )
    p.add_argument("--size", type=int, default=None, metavar="PX", help="picture size over every profile's (default: the profile's)")
    p.add_argument("--encoder", default="tiny", help="audio encoder (default: %(default)s: seeded random weights)")
    p.add_argument("--diffusion", default="tiny", help="diffusion model (default: %(default)s)")
    p.add_argument("--vae", default="tiny", help="VAE (default: %(default)s)")
    p.add_argument("--compute", default="auto", help="auto, cpu, cuda, cuda:N (default: %(default)s)")
    p.add_argument(
        "--condition",
        choices=["text", "image"],
        default="text",
        help="text: the encoder's text-space tokens; image: an image-space encoder through the UNet's IP-Adapter (with "
        "--random-weights: --encoder random-clip-image and ip-adapter_sd15's shape on the random UNet) (default: %(default)s)",
    )


def note(text: str) -> None:
    """Progress and notes go to stderr: stdout is the table."""
    print(text, file=sys.stderr, flush=True)


def has_cuda(compute: str) -> bool:
    if compute == "cpu":
        return False
    import torch

    return torch.cuda.is_available()


def choose_profiles(args) -> tuple[list[str], list[str]]:
    """(profiles to run, 'name: why not' for the ones skipped)."""
    from live.core.profiles import profile_names

    cuda = has_cuda(args.compute)
    random_on_cpu = getattr(args, "random_weights", False) and not cuda  # full size on a CPU: seconds a frame even at 256 px
    wanted = args.profiles or (["laptop"] if random_on_cpu else profile_names())
    run, skipped = [], []
    for name in wanted:
        if name == "stage" and not cuda:
            why = "--compute cpu" if args.compute == "cpu" else "no CUDA GPU on this machine"
            skipped.append(f"stage: skipped, it needs a CUDA GPU (512 px at 60 fps, one UNet call per frame); {why}")
        else:
            run.append(name)
    return run, skipped


def rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024  # kB -> MiB
    except OSError:  # exited, or a child that has just gone
        return None
    return None


def child_pids(pid: int) -> list[int]:
    """Every descendant (the capture child, multiprocessing's helpers)."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        return found
    return found + [g for c in found for g in child_pids(c)]


# ---- the audio server: a JACK dummy server and a player client ------------------------------------


def start_jackd() -> subprocess.Popen:
    """A JACK dummy server of the bench's own, under a private name: a JACK server already running
    (the user's) is neither used nor stopped."""
    return jackdummy.start_server()


def start_player() -> tuple[subprocess.Popen, str]:
    """The demo clip, looped, from a JACK client; returns it and its output port."""
    return jackdummy.play(DEMO_CLIP)


def connect_when_open(run: subprocess.Popen, player_port: str, timeout_s: float = 120.0) -> bool:
    """Wait for the run's capture ports (they open after the model load) and wire the player in."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and run.poll() is None:
        capture_in = jackdummy.ports("input")
        if capture_in:
            for port in capture_in:
                subprocess.run(["jack_connect", player_port, port], capture_output=True)
            return True
        time.sleep(0.2)
    return False


# ---- one profile ----------------------------------------------------------------------------------


def model_flags(args) -> list[str]:
    condition = getattr(args, "condition", "text")
    road = ["--condition", condition] if condition != "text" else []
    if getattr(args, "random_weights", False):
        encoder = ["--encoder", args.encoder] if args.encoder != "tiny" else []  # tiny is the flag's default: random's own then
        if condition == "image" and not encoder:
            encoder = ["--encoder", "random-clip-image"]  # the image road's random encoder
        return ["--models", "random", *encoder, *road, "--compute", args.compute]
    if road:
        raise_needs_image_encoder(args)
        return ["--encoder", args.encoder, "--diffusion", args.diffusion, "--vae", args.vae, *road, "--compute", args.compute]
    if args.encoder == args.diffusion == args.vae == "tiny":
        return ["--models", "tiny", "--compute", args.compute]
    return ["--encoder", args.encoder, "--diffusion", args.diffusion, "--vae", args.vae, "--compute", args.compute]


def raise_needs_image_encoder(args) -> None:
    if args.encoder == "tiny":
        from live.core.errors import PhospheneError

        raise PhospheneError("bench live --condition image: give --encoder CKPT (an image-space one, fit --target clip-image), or --random-weights")


def run_profile(profile: str, args, folder: Path, player_port: str | None) -> dict:
    """One `python -m live run`; its stats plus 'rss' [(seconds since the loop started, MiB run, MiB children)]."""
    stats_file = folder / f"{profile}.json"
    cmd = [sys.executable, "-m", "live", "run", "--profile", profile, "--windowed", "--headless", "--duration", f"{args.minutes * 60:g}"]
    cmd += ["--stats-json", str(stats_file), *model_flags(args)]
    cmd += ["--size", str(args.size)] if getattr(args, "size", None) else []
    cmd += ["--device", "system"] if player_port else ["--input", str(DEMO_CLIP)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])), "SDL_VIDEODRIVER": "dummy"}
    err_file = folder / f"{profile}.err"
    with open(err_file, "w") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        samples = []  # (monotonic s, MiB run process, MiB its children)
        connected = player_port is None
        next_sample = time.monotonic()
        while proc.poll() is None:
            if not connected and jackdummy.ports("input"):
                connected = connect_when_open(proc, player_port)
            now = time.monotonic()
            if now >= next_sample:
                own = rss_mib(proc.pid)
                if own is not None:
                    children = sum(m for c in child_pids(proc.pid) if (m := rss_mib(c)) is not None)
                    samples.append((now, own, children))
                next_sample += RSS_PERIOD_S
            time.sleep(0.1)
        exited = time.monotonic()
    if proc.returncode != 0 or not stats_file.is_file():
        from live.core.errors import PhospheneError

        tail = "\n".join(err_file.read_text().splitlines()[-15:])
        raise PhospheneError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{tail}")
    stats = json.loads(stats_file.read_text())
    stats["settings"] = settings_lines(profile, args)
    if getattr(args, "random_weights", False):  # what was built, as the run logged it
        for line in err_file.read_text().splitlines():
            if "M parameters" in line:
                note(f"bench live: {line.removeprefix('phosphene: ')}")
    # when the run's loop started: its own monotonic time (older runs: counted back from the exit by the loop's length)
    loop_start = stats.get("started_monotonic", exited - stats["seconds"])  # CLOCK_MONOTONIC: one for all processes
    stats["rss"] = [(t - loop_start, own, kids) for t, own, kids in samples]
    stats["jack"] = player_port is not None
    return stats


def settings_lines(profile: str, args) -> list[str]:
    """What the run ran with: the profile's fields (after --size) and the models."""
    from dataclasses import asdict

    from live.core.profiles import load_profile, with_overrides

    p = asdict(with_overrides(load_profile(profile), size=getattr(args, "size", None)))
    p.pop("name"), p.pop("origins")  # where each value came from is for error lines, not the table
    fields = ", ".join(f"{k}={v}" for k, v in p.items() if k not in ("encoder_windows_s", "encoder_max_batch"))
    return [fields, "models: " + " ".join(model_flags(args))]


# ---- the table ------------------------------------------------------------------------------------


def median_between(rows, a: float, b: float, column: int) -> float:
    values = [r[column] for r in rows if a <= r[0] < b]
    return float(np.median(values)) if values else float("nan")


def drift_windows(seconds: float, first_s: float = 0.0) -> tuple[tuple[float, float], tuple[float, float]]:
    """First and last minute, or thirds when the run is shorter than 3 minutes + warm-up. first_s: the
    trace's oldest entry (the run keeps its last two hours)."""
    start = max(WARMUP_S, first_s)
    span = min(60.0, (seconds - start) / 3)
    return (start, start + span), (seconds - span, seconds)


def table(profile: str, s: dict) -> list[str]:
    lat = s["latency_ms"]
    trace = s["latency_trace"]  # [[seconds since loop start, ms]]
    (a0, a1), (b0, b1) = drift_windows(s["seconds"], trace[0][0] if trace else 0.0)
    p50_first, p50_last = median_between(trace, a0, a1, 1), median_between(trace, b0, b1, 1)
    ratio = p50_last / p50_first
    rss = s["rss"]
    rss_from = RING_FILL_S if s["jack"] and s["seconds"] > RING_FILL_S + 10 else WARMUP_S
    rss_note = "after the ring filled" if rss_from == RING_FILL_S else "after warm-up" + (", ring filling" if s["jack"] else "")
    rss_start, rss_end = median_between(rss, rss_from, rss_from + 5, 1), median_between(rss, s["seconds"] - 5, s["seconds"], 1)
    kids_start, kids_end = median_between(rss, rss_from, rss_from + 5, 2), median_between(rss, s["seconds"] - 5, s["seconds"], 2)
    window = "minute" if b1 - b0 >= 60 else "third"
    if s["jack"]:
        share = s["callback_us"] / (1000 * s["block_ms"])
        callback = f"{s['callback_us']:.1f} us / {s['block_ms']:.2f} ms block = {100 * share:.2f}%"
        callback_verdict = "ok" if share < CALLBACK_TARGET else "OVER"
    else:
        callback, callback_verdict = "n/a (--input FILE: no audio callback)", ""
    rows = [
        ("frames / fps", f"{s['frames']} / {s['fps']:.1f}", "shown (display rate, crossfaded)"),
        ("generated frames / fps", f"{s['generator']['frames']} / {s['generator']['frames'] / s['seconds']:.2f}", "new pictures"),
        ("latency p50/p95/p99 ms", f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f}", ""),
        *stage_rows(s),
        ("audio callback", callback, f"< {100 * CALLBACK_TARGET:.0f}%: {callback_verdict}" if callback_verdict else ""),
        ("overflows", f"{s['overflows']}", "0: " + ("ok" if s["overflows"] == 0 else "OVER")),
        ("dropped frames", f"{s['dropped_frames']}", "display intervals overrun"),
        ("RSS run start/end MiB", f"{rss_start:.0f} / {rss_end:.0f}", f"{rss_end - rss_start:+.1f} MiB from {rss_from:g} s ({rss_note})"),
    ]
    if s["jack"]:
        rows.append(("RSS capture child MiB", f"{kids_start:.0f} / {kids_end:.0f}", "start / end"))
    cuda = f", CUDA peak {s['cuda_peak_mib']:.0f} MiB" if s.get("cuda_peak_mib") is not None else ""
    rows.append(("peak memory", f"{s['peak_rss_mib']:.0f} MiB RSS{cuda}", "the run process (VmHWM)"))
    rows.append(
        (
            f"latency p50 first/last {window}",
            f"{p50_first:.0f} / {p50_last:.0f} ms = {ratio:.3f}",
            f"within {100 * DRIFT_TARGET:.0f}%: " + ("ok" if abs(ratio - 1) <= DRIFT_TARGET else "OVER"),
        )
    )
    source = "JACK dummy server, demo clip looped" if s["jack"] else "--input demo clip"
    lines = [f"profile {profile}  ({s['seconds']:.0f} s, {source})"]
    lines += [f"  settings: {settings}" for settings in s.get("settings", [])]
    lines += [f"  {'':<36}{'value':<44}target"]
    lines += [f"  {name:<36}{value:<44}{target}" for name, value, target in rows]
    return lines


STAGES = (  # (stats key in stage_ms, label): per generated frame, in the order a frame goes through them
    ("conditioning", "conditioning (slerp, smoothing)"),
    ("shaders", "shaders (warp + structure, post)"),
    ("vae_encode", "VAE encode"),
    ("unet", "UNet"),
    ("vae_decode", "VAE decode"),
)


def stage_rows(s: dict) -> list[tuple[str, str, str]]:
    """Per-stage ms: the encoder per call, the generator's stages per generated frame, present per shown frame."""
    rows = []
    if s.get("encoder"):
        e = s["encoder"]
        rows.append(
            ("encoder ms per call", f"{e.get('mean_ms', e['last_ms']):.1f}", f"{e['encodes']} calls, {e['skipped_hops']} hops skipped")
        )
    stage_ms = s.get("stage_ms")
    if stage_ms is None:  # the shader engine: the whole frame is the shaders
        rows.append(("shaders ms per frame", f"{s['generator']['ms_mean']:.1f}", "features, structure, warp, post, readback"))
    else:
        rows += [(f"{label} ms", f"{stage_ms[key]:.1f}", "per generated frame") for key, label in STAGES if key in stage_ms]
        rows.append(("generator ms per frame", f"{s['generator']['ms_mean']:.1f}", "all of the above"))
    rows.append(("present ms", f"{s.get('present_ms_mean', float('nan')):.1f}", "per shown frame: window, HUD, outputs"))
    return rows


def bench_live(args) -> int:
    if args.minutes <= 0:
        from live.core.errors import PhospheneError

        raise PhospheneError(f"--minutes {args.minutes}: give a positive length")
    if not DEMO_CLIP.is_file():
        from live.core.errors import PhospheneError

        raise PhospheneError(f"{DEMO_CLIP}: the demo clip is missing (make it with demo/make_demo.py)")
    if getattr(args, "random_weights", False):
        from live.models.loading import RANDOM_NOTICE

        note("bench live: " + RANDOM_NOTICE.format(what="every model", name="random") + "; only the timing counts")
    profiles, skipped = choose_profiles(args)
    use_jack = shutil.which("jackd") is not None and shutil.which("jack_connect") is not None
    if not use_jack:
        note("jack: jackd / jack_connect not on PATH (Debian: jackd2): feeding --input FILE; the audio callback cost is n/a")
    results, failed = {}, 0
    server = player = player_port = None
    with tempfile.TemporaryDirectory(prefix="phosphene-bench-live-") as tmp:
        try:
            if use_jack:
                server = start_jackd()
                player, player_port = start_player()
            for profile in profiles:
                note(f"bench live: {profile}, {args.minutes:g} min ...")
                try:
                    results[profile] = run_profile(profile, args, Path(tmp), player_port if use_jack else None)
                except Exception as e:  # one profile failing still prints the others
                    note(f"bench live: {profile} failed: {e}")
                    failed += 1
        finally:
            if player is not None:  # only what this bench started, by its process
                player.kill()
                player.wait()
            if server is not None:
                jackdummy.stop_server(server)
    for profile, s in results.items():
        print("\n".join(table(profile, s)))
        print()
    for line in skipped:
        print(line)
    return 1 if failed else 0
