"""Latency profiles: named presets for the live path, read from live/core/profiles/*.toml.

    load_profile("stage") -> LatencyProfile     (or a path to a .toml file)

A file of your own holds only what it changes: `base = "laptop"` (a preset or another file) says
what it starts from, balanced when it names none. `python -m live run` flags (--size, --hop,
--window, --steps, --strength, --display-fps) override the profile in turn.

A profile trades latency for picture quality and for the machine it must run on. The encoder
fields also tell `python -m export trt` which input shapes its optimisation profile must cover.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError
from live.core.units import parse_size

PROFILE_DIR = Path(__file__).parent / "profiles"
log = logging.getLogger("phosphene")

DEFAULT_PROFILE = "balanced"  # `run --profile`: a GPU-class machine at 60 Hz; laptop for CPUs, stage for strong GPUs


@dataclass(frozen=True)
class LatencyProfile:
    name: str  # the preset's name (the file's stem)
    window_s: float = 2.0  # encoder window: longer hears more context but reacts later and costs more per call
    hop_s: float = 0.125  # seconds between encoder calls: shorter reacts sooner and multiplies encoder load
    encoder_batch: int = 1  # windows per encoder call: live runs the newest window only; >1 only pays off when catching up
    block_size: int = 256  # audio frames per callback: smaller cuts input latency, too small underflows
    size: int | tuple[int, int] = 512  # px: N (square), "WxH" or [w, h] in a file; generator time grows with the area
    steps: int = 1  # scheduler steps; UNet calls per frame = int(steps * strength), the largest single cost
    strength: float = 1.0  # share of the frame repainted: lower is calmer and (with steps) fewer UNet calls
    vae: str = "taesd"  # "taesd" decodes in ~1 ms on a GPU; "full" adds tens of ms per frame
    attack_s: float = 0.05  # smoothing when louder: shorter follows hits sooner (perceived latency)
    release_s: float = 0.4  # smoothing when quieter: longer is calmer, adds no latency to onsets
    display_fps: int = 60  # presentation rate: higher shows a new embedding sooner after it lands
    encoder_windows_s: tuple[float, ...] = (1.0, 2.0, 3.76)  # window lengths the encoder (and a TRT profile) must take
    encoder_max_batch: int = 8  # the largest batch a TRT profile must take (offline renders batch windows)
    encoder_backend: str | None = None  # torch | onnx | tensorrt | auto; None: the encoder's own; --encoder-backend wins

    def validate(self) -> LatencyProfile:
        where = f"latency profile '{self.name}'"
        checks = [
            (0.1 <= self.window_s <= 30.0, f"window_s {self.window_s}: must be 0.1-30 s"),
            (0.01 <= self.hop_s <= self.window_s, f"hop_s {self.hop_s}: must be 0.01 s to window_s"),
            (1 <= self.encoder_batch <= self.encoder_max_batch, f"encoder_batch {self.encoder_batch}: must be 1 to encoder_max_batch"),
            (16 <= self.block_size <= 8192, f"block_size {self.block_size}: must be 16-8192 frames"),
            (
                all(64 <= v <= 2048 and v % 64 == 0 for v in parse_size(self.size)),
                f"size {self.size}: sides must be multiples of 64, 64-2048",
            ),
            (
                self.encoder_backend in (None, "torch", "onnx", "tensorrt", "auto"),
                f"encoder_backend {self.encoder_backend!r}: torch, onnx, tensorrt or auto",
            ),
            (self.steps >= 1 and 0 < self.strength <= 1, f"steps {self.steps} / strength {self.strength}: steps >= 1, strength in (0, 1]"),
            (int(self.steps * self.strength) >= 1, f"steps {self.steps} x strength {self.strength} gives no UNet call: raise either"),
            (self.vae in ("taesd", "full"), f"vae {self.vae!r}: choose taesd or full"),
            (self.attack_s >= 0 and self.release_s >= 0, "attack_s and release_s must be >= 0"),
            (1 <= self.display_fps <= 240, f"display_fps {self.display_fps}: must be 1-240"),
            (len(self.encoder_windows_s) >= 1 and min(self.encoder_windows_s) >= 0.1, "encoder_windows_s: one or more lengths >= 0.1 s"),
            (
                min(self.encoder_windows_s) <= self.window_s <= max(self.encoder_windows_s),
                f"window_s {self.window_s} must lie within encoder_windows_s",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise PhospheneError(f"{where}: {message}")
        return self

    @property
    def encoder_samples(self) -> tuple[int, int, int]:
        """(min, opt, max) window lengths in samples: the TRT profile's sample axis."""
        return (
            round(min(self.encoder_windows_s) * SAMPLE_RATE),
            round(self.window_s * SAMPLE_RATE),
            round(max(self.encoder_windows_s) * SAMPLE_RATE),
        )


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name_or_path: str, *, _seen: tuple = ()) -> LatencyProfile:
    """A preset by name (live/core/profiles/NAME.toml) or a path to a .toml file with the same keys;
    a file of your own starts from its `base` (default: balanced) and overrides what it names."""
    path = Path(name_or_path).expanduser()
    if path.suffix != ".toml":
        path = PROFILE_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise PhospheneError(
                f"latency profile '{name_or_path}': no such preset; choose one of {', '.join(profile_names())} or give a .toml file"
            )
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as e:
        raise PhospheneError(f"latency profile {path}: cannot read it ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise PhospheneError(f"latency profile {path}: not valid TOML ({e})") from None
    preset = path.parent.resolve() == PROFILE_DIR.resolve()
    base_name = raw.pop("base", None if preset else DEFAULT_PROFILE)
    known = {f.name: f for f in fields(LatencyProfile)}
    unknown = sorted(set(raw) - set(known) | ({"name"} & set(raw)))
    if unknown:
        allowed = ", ".join([*(k for k in known if k != "name"), "base"])
        raise PhospheneError(f"latency profile {path}: unknown key(s) {', '.join(unknown)}; the keys are {allowed}")
    values = {}
    for key, value in raw.items():
        default = getattr(LatencyProfile, key)
        if key == "encoder_backend" and isinstance(value, str):
            values[key] = value
            continue
        if key == "size":
            try:
                values[key] = parse_size(value) if not isinstance(value, int) or isinstance(value, bool) else value
            except PhospheneError:
                raise PhospheneError(f'latency profile {path}: size = {value!r} should be N, "WxH" or [w, h]') from None
            continue
        if isinstance(default, tuple):
            numbers = isinstance(value, list) and value and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            if not numbers:
                raise PhospheneError(f"latency profile {path}: {key} = {value!r} should be a list of numbers, e.g. {list(default)}")
            value = tuple(float(v) for v in value)
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(default):
            raise PhospheneError(f"latency profile {path}: {key} = {value!r} should be a {type(default).__name__}")
        values[key] = value
    if base_name is None:
        return LatencyProfile(name=path.stem, **values).validate()
    if not isinstance(base_name, str) or base_name in _seen or str(path) in _seen:
        raise PhospheneError(
            f"latency profile {path}: base = {base_name!r} should name another profile (a preset or a .toml), without a loop"
        )
    if not preset and "base" not in tomllib.loads(path.read_text()):
        log.info('latency profile %s starts from %s (set base = "NAME" to choose another)', path, base_name)
    base_path = Path(base_name).expanduser()
    if base_path.suffix == ".toml" and not base_path.is_absolute():
        base_path = path.parent / base_path  # a base file is found beside the file that names it
    base = load_profile(str(base_path) if base_path.suffix == ".toml" else base_name, _seen=(*_seen, str(path)))
    return replace(base, name=path.stem, **values).validate()


def with_overrides(profile: LatencyProfile, **overrides) -> LatencyProfile:
    """The profile with the fields given on the command line (None: not given) replaced, re-checked."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(profile, **given).validate() if given else profile
