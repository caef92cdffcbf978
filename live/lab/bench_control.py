"""`python -m live bench control`: control-to-photon latency. The real live loop runs in this
process (headless, the shader engine unless told otherwise, the demo clip through the file input);
a probe output beside the window records the time and mean brightness of every frame the loop
shows, at the moment the window would show it, and a sender thread sends OSC over 127.0.0.1 at
random moments:

- `/phosphene/action/blackout` (an action the frame loop applies itself): inbox -> next frame;
- `/phosphene/param/vignette 1.0` then `0.0` (a shader parameter): inbox -> the frame loop wakes
  the generator and waits up to half a display frame for its frame -> shown as a cut.

The latency of one message is the time from its send to the first shown frame whose brightness has
moved at least half way from the level before it to the level after it. The target, from the rig
issue: at most one audio block plus one display frame. MIDI CCs land in the same inbox as OSC (the
MIDI thread puts them there), so the path after the inbox is the same.
"""

from __future__ import annotations

import json
import random
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from live.draw.outputs import FrameSender

SETTLE_S = 0.6  # after each message: long enough for the change to show and the next level to settle


class Probe(FrameSender):
    """An output that records (monotonic time, mean brightness) of every frame handed to it, on the
    frame loop's thread, at the moment the window is presented. No thread of its own."""

    kind = "probe"

    def __init__(self, width: int, height: int):
        super().__init__("probe", width=width, height=height)
        self.frames: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def send(self, rgb: np.ndarray | None) -> None:
        if rgb is not None:
            luma = float(rgb[::4, ::4].mean())
            with self._lock:
                self.frames.append((time.monotonic(), luma))

    def since(self, t: float) -> list[tuple[float, float]]:
        with self._lock:
            return [f for f in self.frames if f[0] > t]

    def stop(self) -> dict:
        return {"frames": len(self.frames)}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_crossing(frames: list[tuple[float, float]], sent: float, before: float, after: float) -> float | None:
    """Seconds from `sent` to the first frame half way from `before` to `after`."""
    half = (before + after) / 2
    for t, luma in frames:
        if t > sent and (luma - half) * (after - before) >= 0:
            return t - sent
    return None


class Sender(threading.Thread):
    """Sends the messages and measures each one against the probe."""

    def __init__(self, port: int, probe_box: list, repeats: int, seed: int = 0):
        super().__init__(name="bench-control-sender", daemon=True)
        from pythonosc.udp_client import SimpleUDPClient

        self.client, self.probe_box, self.repeats = SimpleUDPClient("127.0.0.1", port), probe_box, repeats
        self.rng = random.Random(seed)
        self.results: dict[str, list[float]] = {"blackout (action)": [], "vignette (shader param)": []}
        self.missed = 0
        self.done = threading.Event()

    def level(self, a: float, b: float) -> float | None:
        frames = [luma for t, luma in self.probe_box[0].since(a) if t <= b]
        return float(np.median(frames)) if frames else None

    def measure(self, name: str, address: str, value, settled_from: float) -> None:
        time.sleep(self.rng.uniform(0.0, 0.05))  # a random moment within the frame interval
        before = self.level(settled_from, time.monotonic())
        sent = time.monotonic()
        self.client.send_message(address, value)
        time.sleep(SETTLE_S)
        after = self.level(sent + SETTLE_S / 2, time.monotonic())
        if before is None or after is None or abs(after - before) < 2.0:
            self.missed += 1  # no visible step to time (a black picture, a stalled loop)
            return
        latency = first_crossing(self.probe_box[0].since(sent), sent, before, after)
        if latency is None:
            self.missed += 1
        else:
            self.results[name].append(latency)

    def run(self) -> None:
        while not self.probe_box or len(self.probe_box[0].frames) < 30:  # the loop is up and drawing
            time.sleep(0.1)
        time.sleep(1.0)
        for _ in range(self.repeats):
            for name, address, on, off in (
                ("blackout (action)", "/phosphene/action/blackout", [], []),
                ("vignette (shader param)", "/phosphene/param/vignette", 1.0, 0.0),
            ):
                for value in (on, off):
                    self.measure(name, address, value, time.monotonic() - 0.3)
        self.done.set()


def bench_control(run_args, run, profile_of) -> int:
    """`run_args`: the parsed `run` command (headless, --osc-port, --duration set by the caller);
    `run`: the run command's function; `profile_of(run_args)`: the profile it will use."""
    from live.core.units import parse_size

    profile = profile_of(run_args)
    probe_box: list[Probe] = []

    def make_probe(width: int, height: int) -> Probe:
        probe_box.append(Probe(width, height))
        return probe_box[0]

    run_args.probe = make_probe
    sender = Sender(run_args.osc_port, probe_box, run_args.repeats)
    sender.start()
    run_args.stop_when = sender.done  # the run ends when the sender is done
    with tempfile.TemporaryDirectory() as folder:
        run_args.stats_json = str(Path(folder) / "stats.json")
        code = run(run_args)
        stats = json.loads(Path(run_args.stats_json).read_text()) if code == 0 else {}
    block_ms = 1000 * profile.block_size / 48_000
    frame_ms = 1000 / profile.display_fps
    target = block_ms + frame_ms
    width, height = parse_size(profile.size)
    print(f"control-to-photon, {run_args.engine} engine, profile {profile.name}, {width}x{height} at {profile.display_fps} fps")
    print(f"target: one audio block ({block_ms:.1f} ms) + one display frame ({frame_ms:.1f} ms) = {target:.1f} ms\n")
    print(f"{'control':<26}{'n':>4}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}   within target")
    for name, values in sender.results.items():
        if not values:
            print(f"{name:<26}{0:>4}{'-':>9}{'-':>9}{'-':>9}   -")
            continue
        ms = 1000 * np.array(values)
        share = float(np.mean(ms <= target))
        print(f"{name:<26}{len(ms):>4}{np.median(ms):>9.1f}{np.percentile(ms, 95):>9.1f}{ms.max():>9.1f}   {share:.0%}")
    gen_ms = stats.get("generator", {}).get("ms_mean")
    if gen_ms is not None:
        print(f"\nthe generator's frame takes {gen_ms:.1f} ms on average. A parameter wakes the generator at once, and the")
        print("display waits up to half a frame for that frame: the wait for the loop to drain its inbox (up to one")
        print("display frame) plus one generator frame. An action the loop applies itself shows at its next frame.")
    if sender.missed:
        print(f"\n{sender.missed} message(s) showed no step to time (a dark picture or a stalled loop)")
    return code


def add_bench_control_args(bench_sub) -> None:
    """`bench control`, added to the `bench` subcommand's subparsers."""
    p = bench_sub.add_parser(
        "control",
        help="control-to-photon latency: an OSC message to the first frame that shows it",
        description="Run the live loop headless on the demo clip and time OSC messages (an action and a shader "
        "parameter) to the first shown frame that shows their effect; prints p50/p95/max against the target "
        "(one audio block + one display frame).",
    )
    p.add_argument("--engine", choices=["shader", "diffusion"], default="shader", help="engine (default: %(default)s)")
    p.add_argument("--profile", default="laptop", help="latency profile (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=10, help="messages of each kind, each way (default: %(default)s)")
    p.add_argument("--compute", default="auto", help="diffusion engine: auto, cpu, cuda (default: %(default)s; tiny models)")
