"""Latency profiles: named presets for the live path, read from live/core/profiles/*.toml.

    load_profile("stage") -> LatencyProfile     (or a path to a .toml file)

A profile trades latency for picture quality and for the machine it must run on. The encoder
fields also tell `python -m export trt` which input shapes its optimisation profile must cover.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError

PROFILE_DIR = Path(__file__).parent / "profiles"
DEFAULT_PROFILE = "balanced"  # `run --profile`: a GPU-class machine at 60 Hz; laptop for CPUs, stage for strong GPUs


@dataclass(frozen=True)
class LatencyProfile:
    name: str  # the preset's name (the file's stem)
    window_s: float = 2.0  # encoder window: longer hears more context but reacts later and costs more per call
    hop_s: float = 0.125  # seconds between encoder calls: shorter reacts sooner and multiplies encoder load
    encoder_batch: int = 1  # windows per encoder call: live runs the newest window only; >1 only pays off when catching up
    block_size: int = 256  # audio frames per callback: smaller cuts input latency, too small underflows
    size: int = 512  # picture side in px: generator time grows with its square
    steps: int = 1  # scheduler steps; UNet calls per frame = int(steps * strength), the largest single cost
    strength: float = 1.0  # share of the frame repainted: lower is calmer and (with steps) fewer UNet calls
    vae: str = "taesd"  # "taesd" decodes in ~1 ms on a GPU; "full" adds tens of ms per frame
    attack_s: float = 0.05  # smoothing when louder: shorter follows hits sooner (perceived latency)
    release_s: float = 0.4  # smoothing when quieter: longer is calmer, adds no latency to onsets
    display_fps: int = 60  # presentation rate: higher shows a new embedding sooner after it lands
    encoder_windows_s: tuple[float, ...] = (1.0, 2.0, 3.76)  # window lengths the encoder (and a TRT profile) must take
    encoder_max_batch: int = 8  # the largest batch a TRT profile must take (offline renders batch windows)

    def validate(self) -> LatencyProfile:
        where = f"latency profile '{self.name}'"
        checks = [
            (0.1 <= self.window_s <= 30.0, f"window_s {self.window_s}: must be 0.1-30 s"),
            (0.01 <= self.hop_s <= self.window_s, f"hop_s {self.hop_s}: must be 0.01 s to window_s"),
            (1 <= self.encoder_batch <= self.encoder_max_batch, f"encoder_batch {self.encoder_batch}: must be 1 to encoder_max_batch"),
            (16 <= self.block_size <= 8192, f"block_size {self.block_size}: must be 16-8192 frames"),
            (64 <= self.size <= 2048 and self.size % 64 == 0, f"size {self.size}: must be a multiple of 64, 64-2048"),
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


def load_profile(name_or_path: str) -> LatencyProfile:
    """A preset by name (live/core/profiles/NAME.toml) or a path to a .toml file with the same keys."""
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
    known = {f.name: f for f in fields(LatencyProfile)}
    unknown = sorted(set(raw) - set(known) | ({"name"} & set(raw)))
    if unknown:
        allowed = ", ".join(k for k in known if k != "name")
        raise PhospheneError(f"latency profile {path}: unknown key(s) {', '.join(unknown)}; the keys are {allowed}")
    values = {}
    for key, value in raw.items():
        default = getattr(LatencyProfile, key)
        if isinstance(default, tuple):
            value = tuple(float(v) for v in value) if isinstance(value, list) else value
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(default):
            raise PhospheneError(f"latency profile {path}: {key} = {value!r} should be a {type(default).__name__}")
        values[key] = value
    return LatencyProfile(name=path.stem, **values).validate()
