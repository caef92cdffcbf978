"""`python -m live tune`: measure this machine's live loop and write the latency profile that meets
the targets, or say which target it cannot meet and how close it came.

    python -m live tune --target-fps 24 --target-latency 400 -o my-rig.toml
    python -m live run --profile my-rig.toml          # loads it unchanged
    python -m live tune --check my-rig.toml           # does it still hold here?

Every candidate is a real `python -m live run --profile CANDIDATE.toml --headless --duration S
--stats-json F` in a child, fed by `--input FILE` (the demo clip by default) or `--device NAME`
through the same live input path as a set. Its figures:

- fps: new pictures per second (the generator's frames from the first one shown); the window itself
  runs at display_fps and crossfades, so this is the rate the picture really changes at; it counts as
  met at 95% of the target (the display paces the generator at exactly that rate);
- latency: audio-to-photon p95 over the run after its first seconds (warm-up), from the run's trace;
- overflows: any input overflow fails the candidate (a block size too small for this machine).

The search is coordinate descent over the profile's fields, from a start profile (laptop on a CPU,
stage on CUDA; the balanced 512 px for the shader engine), not a grid: each round tries one step of
one field at a time, in the order below, and keeps the first step that brings the candidate closer
to the targets (the shortfall: the sum of how far each target is missed, as a ratio). When the
candidate meets both targets, it tries to win quality back, one step at a time in the reverse
order, keeping each step that still meets them. The winner is re-measured for twice as long before
it is written (a short screen, a long confirmation: successive halving with two rungs).

What is given up first (when fps, or latency through the frame time, is short):

1. the encoder backend: the fastest one available (ONNX Runtime where an export exists): free;
2. the full VAE, for TAESD: barely visible, tens of ms a frame;
3. UNet calls per frame, down to 1 (fewer steps at the same strength): a calmer picture;
4. the hop, longer: the encoder runs less often (less load), but reacts later;
5. the size, in steps of about 1/8: fewer pixels;
6. the encoder window, shorter: it hears less context.

When latency is short, a smaller audio block and a shorter hop are tried before the list above.
The shader engine has only the size (and the block). Not searched: display_fps is the target fps
(rounded up: a faster display only costs CPU, a slower one cannot meet it), and encoder_batch is 1
(the live loop encodes the newest window only; a batch never pays off live).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from live.core.defaults import DEMO_CLIP, ROOT
from live.core.errors import PhospheneError
from live.core.profiles import MAX_SIDE, LatencyProfile, load_profile
from live.core.units import parse_size

ENGINES = ("diffusion", "shader", "auto")
FPS_SLACK = 0.05  # fps counts as met at 95% of the target: the display paces the generator at exactly the target rate, so jitter alone reads a little under it
CHECK_TOLERANCE = 0.10  # --check: a profile holds while fps >= 90% of its target and latency <= 110% of its target
IMPROVES_BY = 0.02  # a step is kept only if it cuts the shortfall by this much: smaller is measurement noise
WARMUP_S = 2.0  # the first seconds of a run (first encoder calls, allocator growth) are left out of its latency
SIZE_FACTORS = (2.0, 1.5, 1.25, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125)  # size steps around the start's
HOPS_S = (0.0625, 0.125, 0.25, 0.5, 1.0)  # best (soonest) to cheapest
BLOCKS = (64, 128, 256, 512, 1024)  # frames per audio callback: best (soonest) to cheapest
TARGET_LINE = "# tune:"  # the machine-readable line --check reads back


@dataclass(frozen=True)
class Targets:
    fps: float
    latency_ms: float

    def describe(self) -> str:
        return f"{self.fps:g} fps, latency p95 <= {self.latency_ms:g} ms"


@dataclass
class Result:
    """One measured candidate."""

    profile: LatencyProfile
    engine: str
    fps: float = 0.0  # generated pictures per second
    latency_ms: dict = field(default_factory=dict)  # p50 / p95 / p99 after the warm-up
    overflows: int = 0
    seconds: float = 0.0
    stage_ms: dict = field(default_factory=dict)
    error: str = ""

    @property
    def p95(self) -> float:
        """Latency p95; with no picture shown, at least the run's length (nothing reached the screen in it)."""
        value = self.latency_ms.get("p95", math.nan)
        return (1000 * self.seconds if self.seconds else math.inf) if math.isnan(value) else value

    def shortfall(self, t: Targets, tolerance: float = 0.0) -> float:
        """0 when both targets are met (within `tolerance`); else how far they are missed, as ratios."""
        if self.error:
            return math.inf
        fps = max(self.fps, 0.5 / max(self.seconds, 1.0))  # no picture at all: as if half of one in the run
        fps_short = max(0.0, t.fps * (1 - FPS_SLACK) * (1 - tolerance) / fps - 1)
        latency_short = max(0.0, self.p95 / (t.latency_ms * (1 + tolerance)) - 1)
        return fps_short + latency_short + (1.0 if self.overflows else 0.0)

    def misses(self, t: Targets, tolerance: float = 0.0) -> list[str]:
        if self.error:
            return [f"the run failed ({self.error})"]
        out = []
        if self.fps < t.fps * (1 - FPS_SLACK) * (1 - tolerance):
            out.append(f"fps {self.fps:.1f} < {t.fps:g}")
        if self.p95 > t.latency_ms * (1 + tolerance):
            out.append(f"latency p95 {self.p95:.0f} ms > {t.latency_ms:g} ms")
        if self.overflows:
            out.append(f"{self.overflows} input overflows")
        return out

    def short_of(self, t: Targets) -> str:
        """By how much the figures miss the targets as given ('' when they meet them): what tune says
        beside every result it reports, so that "can" is never said of 22.3 fps for a 24 fps target."""
        if self.error:
            return f"the run failed ({self.error})"
        out = []
        if self.fps < t.fps:
            gap = t.fps - self.fps
            out.append(f"{gap:.{1 if gap >= 0.05 else 2}f} fps ({gap / t.fps:.0%}) short of the {t.fps:g} fps target")
        if self.p95 > t.latency_ms:
            gap = self.p95 - t.latency_ms
            out.append(f"latency p95 {gap:.0f} ms ({gap / t.latency_ms:.0%}) over the {t.latency_ms:g} ms target")
        if self.overflows:
            out.append(f"{self.overflows} input overflows")
        return "; ".join(out)

    def against(self, t: Targets) -> str:
        """The figures and how they stand against the targets: "meets 24 fps, latency p95 <= 400 ms"
        or "best found: 22.3 fps, 1.7 fps (7%) short of the 24 fps target"."""
        if self.error:
            return f"failed: {self.error}"
        short = self.short_of(t)
        return f"{self.figures()} (meets {t.describe()})" if not short else f"best found: {self.figures()}, {short}"

    def figures(self) -> str:
        if self.error:
            return f"failed: {self.error}"
        if math.isnan(self.latency_ms.get("p95", math.nan)):
            return f"{self.fps:.2f} fps, no picture shown within the {self.seconds:.0f} s run"
        lat = self.latency_ms
        return (
            f"{self.fps:.1f} fps, latency p50/p95/p99 {lat.get('p50', math.nan):.0f}/{lat.get('p95', math.nan):.0f}/"
            f"{lat.get('p99', math.nan):.0f} ms, {self.overflows} overflows ({self.seconds:.0f} s)"
        )


# ---- the settings searched ----------------------------------------------------------------------


def describe(p: LatencyProfile, engine: str) -> str:
    w, h = parse_size(p.size)
    size = f"{w}" if w == h else f"{w}x{h}"
    if engine == "shader":
        return f"shader {size} px, block {p.block_size}"
    calls = int(p.steps * p.strength)
    return (
        f"{size} px, {calls} UNet call{'s' * (calls > 1)} ({p.steps}x{p.strength:g}), {p.vae}, hop {p.hop_s:g} s, "
        f"window {p.window_s:g} s, block {p.block_size}, {p.encoder_backend or 'torch'}"
    )


def size_levels(size, engine: str = "diffusion") -> list[tuple[int, int]]:
    """Sizes around the start's (itself included, as it is), largest first, the aspect kept: sides in
    multiples of 8 from 64 px, up to 2048 for the diffusion engine (its rule, live/models/settings.py)
    and 8192 for the shader engine (the profile's)."""
    w, h = parse_size(size)
    largest = 2048 if engine == "diffusion" else MAX_SIDE
    levels = []
    for f in SIZE_FACTORS:
        level = (w, h) if f == 1.0 else (max(64, round(w * f / 8) * 8), max(64, round(h * f / 8) * 8))
        if (max(level) <= largest or f == 1.0) and level not in levels:
            levels.append(level)
    return sorted(levels, key=lambda s: s[0] * s[1], reverse=True)


def unet_levels(p: LatencyProfile) -> list[tuple[int, float]]:
    """(steps, strength) from 2 (or the start's count) UNet calls down to 1, at the start's strength."""
    levels = []
    for calls in range(max(2, int(p.steps * p.strength)), 0, -1):
        steps = max(1, math.ceil(calls / p.strength - 1e-9))
        while int(steps * p.strength) < calls:
            steps += 1
        if int(steps * p.strength) == calls:
            levels.append((steps, p.strength))
    return levels


@dataclass(frozen=True)
class Axis:
    """One field (or pair of fields) of the profile: its values from the best picture to the cheapest."""

    name: str
    values: tuple
    get: object  # profile -> value
    put: object  # (profile, value) -> profile

    def step(self, p: LatencyProfile, direction: int) -> LatencyProfile | None:
        """One value cheaper (+1) or better (-1), or None at the end (or where it would be invalid)."""
        current = self.get(p)
        if current not in self.values:
            return None
        i = self.values.index(current) + direction
        if not 0 <= i < len(self.values):
            return None
        try:
            return self.put(p, self.values[i]).validate()
        except PhospheneError:
            return None


def axes(start: LatencyProfile, engine: str, backends: list[str]) -> dict[str, Axis]:
    """The searched fields, keyed by name, in the give-up order (see the module's docstring)."""
    sizes = size_levels(start.size, engine)
    size = Axis("size", tuple(sizes), lambda p: parse_size(p.size), lambda p, v: replace(p, size=v[0] if v[0] == v[1] else v))
    block = Axis("block", tuple(sorted({*BLOCKS, start.block_size})), lambda p: p.block_size, lambda p, v: replace(p, block_size=v))
    if engine == "shader":
        return {"size": size, "block": block}
    windows = tuple(sorted({w for w in start.encoder_windows_s if w <= 2.0} | {start.window_s}, reverse=True))
    return {
        "backend": Axis(  # None / auto count as the first available (torch, unless an export is there: auto picks it)
            "backend",
            tuple(backends),
            lambda p: p.encoder_backend if p.encoder_backend in backends else backends[-1 if p.encoder_backend == "auto" else 0],
            lambda p, v: replace(p, encoder_backend=v),
        ),
        "vae": Axis("vae", ("full", "taesd") if start.vae == "full" else ("taesd",), lambda p: p.vae, lambda p, v: replace(p, vae=v)),
        "unet": Axis(
            "unet", tuple(unet_levels(start)), lambda p: (p.steps, p.strength), lambda p, v: replace(p, steps=v[0], strength=v[1])
        ),
        "hop": Axis("hop", tuple(sorted({*HOPS_S, start.hop_s})), lambda p: p.hop_s, lambda p, v: replace(p, hop_s=v)),
        "size": size,
        "window": Axis("window", windows, lambda p: p.window_s, lambda p, v: replace(p, window_s=v)),
        "block": block,
    }


def moves(p: LatencyProfile, result: Result, t: Targets, space: dict[str, Axis]) -> list[tuple[str, LatencyProfile]]:
    """The steps to try from `p`, in order: for a latency shortfall a smaller block and a shorter hop
    first; then one step cheaper on each field in the give-up order (not a longer hop when only the
    latency is short: it adds latency)."""
    fps_short = result.error or result.fps < t.fps * (1 - FPS_SLACK)
    # with no picture at all, the frame time is what is short: the latency steps cannot help
    latency_short = (result.error or result.p95 > t.latency_ms or result.overflows) and result.fps > 0
    out = []
    if latency_short:
        for name in ("block", "hop"):
            if name in space and (step := space[name].step(p, -1)) is not None:
                out.append((f"{name} {space[name].get(step)}", step))
    for name, axis in space.items():
        if name == "block" or (name == "hop" and not fps_short):
            continue
        if name == "backend":  # not an order of quality: every other backend is one step
            others = [b for b in axis.values if b != axis.get(p)]
            out += [(f"backend {b}", replace(p, encoder_backend=b)) for b in others]
            continue
        if (step := axis.step(p, +1)) is not None:
            out.append((f"{name} {fmt(axis.get(step))}", step))
    if result.overflows and "block" in space and (step := space["block"].step(p, +1)) is not None:
        out.insert(0, (f"block {step.block_size}", step))  # overflows: a larger block, first
    return out


def fmt(value) -> str:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], float):
        return f"{int(value[0] * value[1])} call(s) ({value[0]}x{value[1]:g})"
    if isinstance(value, tuple):
        return f"{value[0]}" if value[0] == value[1] else f"{value[0]}x{value[1]}"
    return f"{value:g}" if isinstance(value, float) else str(value)


# ---- measuring one candidate --------------------------------------------------------------------


@dataclass
class Bench:
    """How each candidate is run: engine, models, input, and the run length."""

    engine: str
    model_flags: list[str]
    input_flags: list[str]
    seconds: float
    folder: Path
    startup_s: float = 30.0  # a child's start-up (imports, model load), learned from the first run
    runs: int = 0

    def measure(self, profile: LatencyProfile, seconds: float | None = None) -> Result:
        seconds = seconds or self.seconds
        self.runs += 1
        toml = self.folder / f"candidate-{self.runs}.toml"
        toml.write_text(profile_toml(profile))
        stats_file = self.folder / f"candidate-{self.runs}.json"
        cmd = [sys.executable, "-m", "live", "run", "--profile", str(toml), "--engine", self.engine, "--windowed", "--headless"]
        cmd += ["--duration", f"{seconds:g}", "--stats-json", str(stats_file), *self.input_flags]
        cmd += self.model_flags if self.engine == "diffusion" else []
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "SDL_VIDEODRIVER": "dummy",
        }
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.monotonic() - started
        if self.runs == 1 or proc.returncode == 0:
            self.startup_s = max(1.0, wall - seconds)
        if proc.returncode != 0 or not stats_file.is_file():
            lines = [ln.removeprefix("error: ") for ln in proc.stderr.splitlines() if ln.strip()]
            return Result(profile, self.engine, error=(lines[-1] if lines else f"exit {proc.returncode}"))
        return result_of(profile, self.engine, json.loads(stats_file.read_text()))

    def cost_s(self, seconds: float | None = None) -> float:
        return self.startup_s + (seconds or self.seconds) + 1.0


def result_of(profile: LatencyProfile, engine: str, s: dict) -> Result:
    """The candidate's figures from a run's --stats-json: generated fps, latency after the warm-up."""
    import numpy as np

    warmup = min(WARMUP_S, s["seconds"] / 3)
    trace = [ms for t, ms in s.get("latency_trace", []) if t >= warmup]
    if len(trace) >= 3:
        latency = {p: float(np.percentile(trace, int(p[1:]))) for p in ("p50", "p95", "p99")}
    else:  # too few frames shown after the warm-up (a slow model): the whole run's
        latency = {k: (math.nan if v is None else float(v)) for k, v in s["latency_ms"].items()}
    stage_ms = dict(s.get("stage_ms") or {})
    if s.get("encoder"):
        stage_ms["encoder"] = s["encoder"].get("mean_ms", s["encoder"]["last_ms"])
    frames, first = s["generator"]["frames"], (s["latency_trace"][0][0] if s.get("latency_trace") else 0.0)
    # from the first picture on: the model load before it is not the rate a set sees (a slow model: the whole run)
    fps = (frames - 1) / (s["seconds"] - first) if frames >= 3 and s["seconds"] - first > 1.0 else frames / s["seconds"]
    return Result(profile, engine, fps, latency, s["overflows"], s["seconds"], stage_ms)


# ---- the search ---------------------------------------------------------------------------------


class Search:
    """Coordinate descent over one engine's settings within a time budget, with a progress bar."""

    def __init__(self, bench: Bench, targets: Targets, budget_s: float, bar):
        self.bench, self.t, self.bar = bench, targets, bar
        self.deadline = time.monotonic() + budget_s
        self.results: list[Result] = []
        self.seen: dict[str, Result] = {}

    def time_left(self, seconds: float | None = None) -> bool:
        return time.monotonic() + self.bench.cost_s(seconds) <= self.deadline

    def measure(self, profile: LatencyProfile, label: str, seconds: float | None = None) -> Result:
        key = profile_toml(profile)
        if key in self.seen and seconds is None:
            return self.seen[key]
        started = time.monotonic()
        self.bar.set_postfix_str(f"{self.bench.engine} {label}: measuring", refresh=True)
        result = self.bench.measure(profile, seconds)
        self.results.append(result)
        if seconds is None:
            self.seen[key] = result
        verdict = "" if result.error else ": meets" if result.shortfall(self.t) == 0 else ": short: " + "; ".join(result.misses(self.t))
        self.bar.set_postfix_str(f"{self.bench.engine} {label}: {result.fps:.1f} fps, p95 {result.p95:.0f} ms", refresh=False)
        spent, total = time.monotonic() - started, getattr(self.bar, "total", None)
        self.bar.update(spent if total is None else max(0.0, min(spent, total - self.bar.n)))  # past its total, tqdm's format fails
        self.bar.write(f"tune: {self.bench.engine} [{describe(profile, self.bench.engine)}] {result.figures()}{verdict}", file=sys.stderr)
        return result

    def run(self, start: LatencyProfile, space: dict[str, Axis]) -> Result:
        """The best candidate found: meeting the targets with the most quality kept, else the closest."""
        current = self.measure(start, "start")
        if current.error:  # a model that cannot load, a device that is not there: every candidate would fail alike
            return current
        unhelpful: list[str] = []  # fields whose step did not help last time: tried after the others
        while current.shortfall(self.t) > 0 and self.time_left():  # down: give up, in order, until the targets are met
            steps = moves(current.profile, current, self.t, space)
            steps.sort(key=lambda m: m[0].split()[0] in unhelpful)  # stable: the give-up order otherwise
            for label, candidate in steps:
                if not self.time_left():
                    break
                result = self.measure(candidate, label)
                if result.shortfall(self.t) < current.shortfall(self.t) * (1 - IMPROVES_BY):
                    current = result
                    break
                unhelpful.append(label.split()[0])
            else:
                break  # no step helps: as close as this engine gets
        if current.shortfall(self.t) == 0:  # up: win quality back, the last given up first
            improved = True
            while improved and self.time_left():
                improved = False
                for name in reversed([n for n in space if n not in ("block", "backend")]):
                    step = space[name].step(current.profile, -1)
                    if step is None or profile_toml(step) in self.seen or not self.time_left():
                        continue
                    result = self.measure(step, f"{name} {fmt(space[name].get(step))} (better)")
                    if result.shortfall(self.t) == 0:
                        current, improved = result, True
                        break
        return current

    def closest(self) -> Result | None:
        return min(self.results, key=lambda r: r.shortfall(self.t), default=None)


# ---- the profile file ---------------------------------------------------------------------------

WRITTEN = (
    "window_s",
    "hop_s",
    "encoder_batch",
    "block_size",
    "size",
    "steps",
    "strength",
    "vae",
    "attack_s",
    "release_s",
    "display_fps",
    "encoder_windows_s",
    "encoder_max_batch",
    "encoder_backend",
    "engine",
)


def toml_value(value) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f'"{value[0]}x{value[1]}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def profile_toml(p: LatencyProfile, comments: list[str] = ()) -> str:
    """Every field the loader reads, so the file means the same whatever its base says."""
    lines = [f"# {c}" if c else "#" for c in comments]
    lines.append('base = "balanced"  # every field is set below; the base only names where the keys come from')
    d = asdict(p)
    lines += [f"{key} = {toml_value(d[key])}" for key in WRITTEN if d[key] is not None]
    return "\n".join(lines) + "\n"


def machine() -> str:
    """CPU model and cores, GPU name and driver, torch version: what the figures belong to."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = "no GPU"
    if shutil.which("nvidia-smi"):
        query = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
        )
        if query.returncode == 0 and query.stdout.strip():
            name, _, driver = query.stdout.strip().splitlines()[0].partition(",")
            gpu = f"GPU {name.strip()}, driver {driver.strip()}"
    try:
        torch = f"torch {version('torch')}"
    except PackageNotFoundError:
        torch = "no torch"
    return f"{cpu}, {os.cpu_count()} cores; {gpu}; {torch}"


def write_profile(path: Path, result: Result, targets: Targets, flags: list[str], note: str = "") -> None:
    """Atomically: a temporary file beside it, renamed when complete."""
    comments = [
        f"Written by `python -m live tune` on {datetime.datetime.now().isoformat(timespec='seconds')}.",
        f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} when measured.",
        f"Targets: {targets.describe()}; engine {result.engine}; models: {' '.join(flags) or 'none (shaders)'}.",
        f"Measured: {result.against(targets)}.",
        *([note] if note else []),
        f"Run it: python -m live run --profile {path.name} {run_flags(result.engine, flags)}".rstrip(),
        "",
    ]
    text = profile_toml(result.profile, comments)
    meta = {"fps": targets.fps, "latency_ms": targets.latency_ms, "engine": result.engine, "models": flags}
    text = text.replace("\nbase = ", f"\n{TARGET_LINE} {json.dumps(meta)}\nbase = ", 1)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_flags(engine: str, flags: list[str]) -> str:
    """What `run` needs beside --profile to draw as the candidate did: the models (the profile names
    the engine itself; the shader engine needs nothing more)."""
    if engine == "shader":
        return ""
    return " ".join(f for f in flags if f not in ("--fallback", "none"))


def read_targets(path: Path) -> dict:
    for line in path.read_text().splitlines():
        if line.startswith(TARGET_LINE):
            try:
                return json.loads(line[len(TARGET_LINE) :])
            except ValueError:
                break
    raise PhospheneError(f"--check {path}: no '{TARGET_LINE}' line (not written by tune); give --target-fps and --target-latency")


# ---- the command --------------------------------------------------------------------------------


def positive(text, flag: str, *, most: float | None = None) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise PhospheneError(f"{flag} {text!r}: give a number, e.g. {flag} 24") from None
    if not math.isfinite(value) or value <= 0 or (most is not None and value > most):
        raise PhospheneError(f"{flag} {text}: give a positive number{f' up to {most:g}' if most else ''}")
    return value


def model_flags(args) -> list[str]:
    """The children's model flags: what was given, and --fallback none (a missing model fails, never draws shaders)."""
    from live.app.engines import MODEL_FLAGS

    flags = ["--models", "random"] if args.random_weights else (["--models", args.models] if args.models else [])
    for name in MODEL_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            flags += [f"--{name.replace('_', '-')}", str(value)]
    if getattr(args, "condition", "text") != "text":  # the image road (IP-Adapter): measured as it will be played
        flags += ["--condition", args.condition, "--image-scale", f"{args.image_scale:g}"]
    return [*flags, "--compute", args.compute, "--fallback", "none"]


def uses_cuda(compute: str) -> bool:
    if compute == "cpu":
        return False
    import torch

    return torch.cuda.is_available()


def backends_for(args, cuda: bool) -> list[str]:
    """The encoder runtimes that can run the encoder named here (torch always)."""
    from live.models.runtimes import find_export

    encoder = args.encoder or ""
    found = ["torch"]
    if encoder and find_export(encoder) is not None:
        found.append("onnx")
    if cuda and encoder and (Path(encoder).suffix in (".engine", ".plan") or find_export(encoder) is not None):
        found.append("tensorrt")
    return found


def start_profile(args, engine: str, cuda: bool) -> LatencyProfile:
    name = args.start or ("balanced" if engine == "shader" else "stage" if cuda else "laptop")
    return load_profile(name)


def fit_display(p: LatencyProfile, targets: Targets, engine: str | None = None) -> LatencyProfile:
    """The start of a search: the display at the target rate, one window a call, and the engine measured
    (written into the profile, so that `run --profile` draws with it)."""
    return replace(p, display_fps=min(240, math.ceil(targets.fps - 1e-9)), encoder_batch=1, engine=engine or p.engine).validate()


def check_args(args) -> Targets | None:
    """Every setting, before anything runs: one line and exit 2 for each mistake."""
    from live.core.paths import check_output_file

    if args.engine not in ENGINES:
        raise PhospheneError(f"--engine {args.engine!r}: choose diffusion, shader or auto")
    args.budget_s = positive(args.budget_s, "--budget-s")
    if args.seconds is not None:
        args.seconds = positive(args.seconds, "--seconds")
    if args.input and args.device:
        raise PhospheneError("--input and --device: give one audio source")
    if args.input and not Path(args.input).is_file():
        raise PhospheneError(f"--input {args.input}: no such file")
    if args.check:
        if not Path(args.check).is_file():
            raise PhospheneError(f"--check {args.check}: no such file")
        load_profile(args.check)  # a profile that does not load is said now
    elif args.output is None:
        raise PhospheneError("tune: give -o FILE.toml for the profile to write (or --check FILE.toml to re-measure one)")
    else:
        args.output = check_output_file(args.output, flag="-o", suffix=".toml")
    fps = None if args.target_fps is None else positive(args.target_fps, "--target-fps", most=240)
    latency = None if args.target_latency is None else positive(args.target_latency, "--target-latency")
    if not args.check and (fps is None or latency is None):
        raise PhospheneError("tune: give both --target-fps N and --target-latency MS")
    if args.start is not None:
        load_profile(args.start)  # a start that does not load is said now, not by the first candidate
    check_sources(args)
    return None if fps is None or latency is None else Targets(fps, latency)


def check_sources(args) -> None:
    """The input (a second of it decoded), the device and the models, checked as `run` and `render`
    check them, before the search: a text file named .wav was found only by every candidate's run,
    after the whole search, and said twice."""
    if args.input:
        from live.audio.decode import open_segment

        open_segment(args.input, 0.0, 1.0)
    elif args.device:
        from live.audio.capture import probe

        probe(args.device, 1, None)
    args.diffusion_missing = ""
    if args.engine == "shader" or args.check:
        return
    from live.app.engines import select_models
    from live.core.errors import ModelNotFound
    from live.models.loading import missing_models, not_found_message

    chosen = argparse.Namespace(**{**vars(args), "models": "random" if args.random_weights else getattr(args, "models", None)})
    missing = missing_models(select_models(chosen))
    if missing and args.engine == "diffusion":
        raise ModelNotFound(not_found_message(missing), "--models tiny")
    if missing:  # auto: the shader engine alone, said now
        args.diffusion_missing = not_found_message(missing)
        print(f"tune: the diffusion engine cannot run here ({args.diffusion_missing}); tuning the shader engine", file=sys.stderr)


def tune(args) -> int:
    from tqdm import tqdm

    from live.core.progress import bar_output

    targets = check_args(args)
    input_flags = ["--device", args.device] if args.device else ["--input", str(args.input or DEMO_CLIP)]
    flags = model_flags(args)
    if args.check:
        return check(args, targets, input_flags, flags)
    cuda = args.engine != "shader" and uses_cuda(args.compute)
    # diffusion first (when asked for, or auto); the shader engine after it fails: auto writes it, diffusion only says so
    engines = ["shader"] if args.engine == "shader" or args.diffusion_missing else ["diffusion", "shader"]
    seconds = args.seconds or min(20.0, max(4.0, args.budget_s / 12))
    found: dict[str, Result] = {}
    closest: dict[str, Result] = {}
    started = time.monotonic()
    deadline = started + args.budget_s
    bar_format = "{desc} {bar} {n:.0f}/{total:.0f} s{postfix}"
    with (
        tempfile.TemporaryDirectory(prefix="phosphene-tune-") as tmp,
        tqdm(total=round(args.budget_s), unit="s", desc="tune", bar_format=bar_format, **bar_output()) as bar,
    ):
        for engine in engines:
            left = deadline - time.monotonic()
            budget = left if engine == "shader" else 0.8 * left  # the shader engine, if it comes to it, gets the rest
            bench = Bench(engine, flags, input_flags, seconds, Path(tmp), startup_s=3.0 if engine == "shader" else 30.0)
            search = Search(bench, targets, budget, bar)
            start = fit_display(start_profile(args, engine, cuda), targets, engine)
            best = search.run(start, axes(start, engine, backends_for(args, cuda) if engine == "diffusion" else []))
            if best.shortfall(targets) > 0:
                closest[engine] = search.closest()
                continue
            if time.monotonic() + bench.cost_s(2 * seconds) <= deadline:  # confirm, twice as long
                confirmed = search.measure(best.profile, "confirm", seconds=2 * seconds)
                if confirmed.shortfall(targets, CHECK_TOLERANCE) == 0:
                    best = confirmed
                else:
                    missed = "; ".join(confirmed.misses(targets))
                    bar.write(f"tune: the confirmation run missed ({missed}); keeping the screen's figures", file=sys.stderr)
            found[engine] = closest[engine] = best
            break
        bar.set_postfix_str("done")
    return report(args, targets, found, closest, flags)


def report(args, targets: Targets, found: dict, closest: dict, flags: list[str]) -> int:
    """Write the profile that meets the targets, or say which target no candidate met, and the closest.
    Every result said is said against the targets: met, or by how much it falls short."""
    chosen = found.get("shader") if args.engine == "shader" else found.get("diffusion")
    if chosen is None and args.engine == "auto":
        chosen = found.get("shader")
    if chosen is not None:
        note = ""
        short = chosen.short_of(targets)
        if chosen.engine == "shader" and args.engine == "auto":
            can = "can" if not short else f"comes closest ({short})"
            if getattr(args, "diffusion_missing", ""):
                note = f"The diffusion engine cannot run on this machine ({args.diffusion_missing}); the shader engine {can}."
            else:
                note = f"The diffusion engine could not meet these targets on this machine; the shader engine {can}."
                print(f"tune: the diffusion engine cannot meet {targets.describe()} here; the shader engine {can}", file=sys.stderr)
        write_profile(args.output, chosen, targets, flags if chosen.engine == "diffusion" else [], note)
        print(f"tune: wrote {args.output} ({chosen.engine}: {describe(chosen.profile, chosen.engine)}; {chosen.against(targets)})")
        print(f"run it: python -m live run --profile {args.output} {run_flags(chosen.engine, flags)}".rstrip())
        return 0
    engine = "shader" if args.engine == "shader" else "diffusion"
    near = closest.get(engine)
    if near is None:
        raise PhospheneError("tune: nothing was measured within --budget-s; give a longer budget")
    if near.error:  # every candidate would fail alike (the first one's error, said once)
        print(f"tune: the {engine} engine did not run here: {near.error}", file=sys.stderr)
    else:
        print(
            f"tune: no candidate of the {engine} engine meets {targets.describe()} here: {'; '.join(near.misses(targets))}; "
            f"the closest: [{describe(near.profile, engine)}] {near.figures()}",
            file=sys.stderr,
        )
    if "shader" in found:  # --engine diffusion: the shader engine could (or came within the fps slack)
        shader = found["shader"]
        can = "can" if not shader.short_of(targets) else "comes closest"
        print(
            f"tune: the shader engine {can}: [{describe(shader.profile, 'shader')}] {shader.against(targets)} (tune --engine shader or auto)",
            file=sys.stderr,
        )
    elif engine == "diffusion" and "shader" in closest:
        print(f"tune: nor can the shader engine (closest: {closest['shader'].against(targets)})", file=sys.stderr)
    if args.write_closest and not near.error:
        write_profile(
            args.output, near, targets, flags if engine == "diffusion" else [], f"Closest: misses {'; '.join(near.misses(targets))}."
        )
        print(f"tune: wrote the closest candidate to {args.output} (--write-closest)")
    else:
        print("tune: no profile written" + ("" if near.error else " (--write-closest writes the closest candidate)"), file=sys.stderr)
    return 1


def check(args, targets: Targets | None, input_flags: list[str], flags: list[str]) -> int:
    """--check FILE: re-measure the profile (twice the screening length) against its own targets."""
    path = Path(args.check)
    saved = read_targets(path) if targets is None else {}
    targets = targets or Targets(float(saved["fps"]), float(saved["latency_ms"]))
    profile = load_profile(str(path))
    engine = saved.get("engine") or profile.engine or ("diffusion" if args.engine == "auto" else args.engine)
    flags = saved.get("models", flags) if engine == "diffusion" and not (args.models or args.random_weights) else flags
    seconds = args.seconds or 8.0
    with tempfile.TemporaryDirectory(prefix="phosphene-tune-") as tmp:
        bench = Bench(engine, flags, input_flags, seconds, Path(tmp))
        result = bench.measure(profile)
    misses = result.misses(targets, CHECK_TOLERANCE)
    status = "holds" if not misses else "no longer holds: " + "; ".join(misses)
    print(f"tune --check {path}: {status} ({engine}: {result.figures()}; targets {targets.describe()}, within {CHECK_TOLERANCE:.0%})")
    return 0 if not misses else 1
