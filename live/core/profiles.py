"""Latency profiles: named presets for the live path, read from live/core/profiles/*.toml.

    load_profile("stage") -> LatencyProfile     (or a path to a .toml file)

A file of your own holds only what it changes: `base = "laptop"` (a preset or another file) says
what it starts from, balanced when it names none. `python -m live run` flags (--size, --hop,
--window, --steps, --strength, --display-fps) override the profile in turn, and `--engine` wins
over the profile's `engine`.

A profile trades latency for picture quality and for the machine it must run on. The encoder
fields also tell `python -m export trt` which input shapes its optimisation profile must cover.
A profile `python -m live tune` wrote is the whole recipe it measured: every field, the engine too.

Every value is checked where it was given, and an error names it there: a shipped preset by its
name (`profile 'laptop': ...`), a file of yours by the path you gave (`my-rig.toml: strength = nan
...`), a flag as the flag (`--display-fps 0 ...`). The picture size's rule here is the profile's
(16-8192 px, any shape: the shader engine draws any size); the diffusion engine adds its own rule
when it loads (live/models/settings.py: multiples of 8 px, 64-2048).
"""

from __future__ import annotations

import logging
import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError
from live.core.numbers import check_number, shown
from live.core.units import parse_size, size_text

PROFILE_DIR = Path(__file__).parent / "profiles"
log = logging.getLogger("phosphene")

DEFAULT_PROFILE = "balanced"  # `run --profile`: a GPU-class machine at 60 Hz; laptop for CPUs, stage for strong GPUs
ENGINES = ("diffusion", "shader")  # `engine` in a profile: what `run --profile` draws with unless --engine is given
DEFAULT_ENGINE = "diffusion"  # a profile that names no engine (the presets): the diffusion engine, as `run` always did
BACKENDS = ("torch", "onnx", "tensorrt", "auto")
MIN_SIDE, MAX_SIDE = 16, 8192  # px: the profile's own size rule (the shader engine draws any size; 8K is the largest display)

# the `run` flag that overrides each field (with_overrides names a refused value by its flag)
FLAGS = {
    "size": "--size",
    "window_s": "--window",
    "hop_s": "--hop",
    "steps": "--steps",
    "strength": "--strength",
    "display_fps": "--display-fps",
    "engine": "--engine",
    "encoder_backend": "--encoder-backend",
}

# each number's range: (lo, hi, lo_open, hi_open, integer); hop_s and encoder_batch have a second, joint check
NUMBERS = {
    "window_s": (0.1, 30.0, False, False, False),
    "hop_s": (0.01, 30.0, False, False, False),
    "encoder_batch": (1, 64, False, False, True),
    "block_size": (16, 8192, False, False, True),
    "steps": (1, 100, False, False, True),
    "strength": (0.0, 1.0, True, False, False),
    "attack_s": (0.0, 60.0, False, False, False),
    "release_s": (0.0, 60.0, False, False, False),
    "display_fps": (1, 240, False, False, True),
    "encoder_max_batch": (1, 64, False, False, True),
}


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
    engine: str | None = None  # diffusion | shader; None: diffusion. What `run --profile` draws with; --engine wins
    # where each value was given, for the messages: (field, "--flag" | "my-rig.toml" | "profile 'laptop'");
    # ("*", label) for the fields no entry names. Not a setting: never compared, written or shown.
    origins: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    # ---- where a value came from ----

    def where(self, key: str) -> str:
        """The flag (`--hop`) or the file (`my-rig.toml`, `profile 'laptop'`) that gave `key`."""
        found = dict(self.origins)
        return found.get(key) or found.get("*") or f"profile '{self.name}'"

    def said(self, key: str) -> str:
        """How a message names the value: `--hop 3`, or `my-rig.toml: hop_s = 3`."""
        value = getattr(self, key)
        if key == "size":  # as typed: --size 1280x720, size = 512, size = "1280x720"
            text = size_text(parse_size(value))
            if self.where(key).startswith("-"):
                return f"--size {text}"
            return f"{self._key(key)} = " + (text if isinstance(value, int) else '"' + text + '"')
        return shown(self._key(key), value)

    def _named(self, key: str, beside: str) -> str:
        """Another value a message mentions: `--window 1`, `window_s = 1` (same file), `window_s = 1 in profile 'laptop'`."""
        where, value = self.where(key), getattr(self, key)
        if where.startswith("-"):
            return shown(flag(key), value)
        return shown(key, value) + ("" if where == self.where(beside) else f" in {where}")

    # ---- the checks ----

    def validate(self) -> LatencyProfile:
        """Each value on its own (finite, in range: before any arithmetic with it), then together."""
        for key, (lo, hi, lo_open, hi_open, integer) in NUMBERS.items():
            check_number(getattr(self, key), self._key(key), lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open, integer=integer)
        try:
            sides = parse_size(self.size)  # the form; the range is the next check
        except PhospheneError:
            raise PhospheneError(f"{self._key('size')}: give N (square) or \"WxH\", e.g. 512 or \"1280x720\"") from None
        if not all(MIN_SIDE <= v <= MAX_SIDE for v in sides):
            raise PhospheneError(f"{self.said('size')}: sides must be {MIN_SIDE}-{MAX_SIDE} px")
        windows = self.encoder_windows_s
        if not isinstance(windows, tuple) or not windows:
            raise PhospheneError(f"{self._key('encoder_windows_s')}: give one or more window lengths in seconds, e.g. [1.0, 2.0]")
        for w in windows:
            check_number(w, self._key("encoder_windows_s"), lo=0.1, hi=30.0)
        for key, allowed in (("vae", ("taesd", "full")), ("encoder_backend", (None, *BACKENDS)), ("engine", (None, *ENGINES))):
            if getattr(self, key) not in allowed:
                choices = ", ".join(a for a in allowed[:-1] if a) + f" or {allowed[-1]}"
                raise PhospheneError(f"{self.said(key)}: choose {choices}")
        if self.hop_s > self.window_s:
            raise PhospheneError(
                f"{self.said('hop_s')}: the hop must not be longer than the encoder window ({self._named('window_s', 'hop_s')}); "
                f"give {self._name('hop_s')} up to {self.window_s:g} s or a longer {self._name('window_s', 'hop_s')}"
            )
        if self.encoder_batch > self.encoder_max_batch:
            raise PhospheneError(
                f"{self.said('encoder_batch')}: more than encoder_max_batch ({self._named('encoder_max_batch', 'encoder_batch')}); "
                "give 1 (the live loop encodes the newest window only)"
            )
        if int(self.steps * self.strength) < 1:
            raise PhospheneError(
                f"{self.said('steps')} x {self._named('strength', 'steps')} gives int({self.steps * self.strength:g}) = 0 UNet calls: "
                f"raise {self._name('strength', 'steps')} to at least {1.0 / self.steps:g} or {self._name('steps', 'strength')} to at least "
                f"{math.ceil(1 / self.strength - 1e-9)}"
            )
        if not min(windows) <= self.window_s <= max(windows):
            raise PhospheneError(
                f"{self.said('window_s')}: must lie within encoder_windows_s ({self._named('encoder_windows_s', 'window_s')}); "
                f"give {self._name('window_s')} from {min(windows):g} to {max(windows):g} s or add it to encoder_windows_s"
            )
        return self

    def _key(self, key: str) -> str:
        """`--hop`, or `my-rig.toml: hop_s`: what check_number names the value by."""
        where = self.where(key)
        return flag(key) if where.startswith("-") else f"{where}: {key}"

    def _name(self, key: str, beside: str | None = None) -> str:
        """The key as the fix names it: its flag when it (or the value `beside` it) came from the
        command line and `run` has a flag for it, else the file's key."""
        on_line = self.where(key).startswith("-") or (beside is not None and self.where(beside).startswith("-"))
        return flag(key) if on_line and key in FLAGS else key

    @property
    def encoder_samples(self) -> tuple[int, int, int]:
        """(min, opt, max) window lengths in samples: the TRT profile's sample axis."""
        return (
            round(min(self.encoder_windows_s) * SAMPLE_RATE),
            round(self.window_s * SAMPLE_RATE),
            round(max(self.encoder_windows_s) * SAMPLE_RATE),
        )

    @property
    def run_engine(self) -> str:
        """The engine `run --profile` draws with when no --engine is given."""
        return self.engine or DEFAULT_ENGINE


def flag(key: str) -> str:
    """The `run` flag of a field: --window for window_s, --display-fps for display_fps."""
    return FLAGS.get(key, f"--{key.removesuffix('_s').replace('_', '-')}")


SETTINGS = tuple(f.name for f in fields(LatencyProfile) if f.name not in ("name", "origins"))  # the keys a file may set


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def _label(given: str, path: Path) -> str:
    """A shipped preset by its name, a file of yours by the path you gave."""
    return f"profile '{path.stem}'" if path.parent.resolve() == PROFILE_DIR.resolve() else given


def load_profile(name_or_path: str, *, _seen: tuple = (), _named_by: str | None = None) -> LatencyProfile:
    """A preset by name (live/core/profiles/NAME.toml) or a path to a .toml file with the same keys;
    a file of your own starts from its `base` (default: balanced) and overrides what it names.
    `_named_by`: the file whose `base = ...` names this one (its errors say so)."""
    path = Path(name_or_path).expanduser()
    if path.suffix != ".toml":
        path = PROFILE_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            choices = f"choose one of {', '.join(profile_names())} or give a .toml file"
            if _named_by:
                raise PhospheneError(f"{_named_by}: base = {name_or_path!r}: no such preset; {choices}")
            raise PhospheneError(f"latency profile '{name_or_path}': no such preset; {choices}")
    label = _label(str(name_or_path), path)
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as e:
        where = f"{_named_by}: base = {name_or_path!r}" if _named_by else label
        raise PhospheneError(f"{where}: cannot read it ({e.strerror}); give an existing profile file") from None
    except UnicodeDecodeError:
        raise PhospheneError(f"{label}: not a text file; a profile is TOML (key = value lines)") from None
    except tomllib.TOMLDecodeError as e:
        raise PhospheneError(f"{label}: not valid TOML ({e})") from None
    preset = path.parent.resolve() == PROFILE_DIR.resolve()
    has_base = "base" in raw
    base_name = raw.pop("base", None if preset else DEFAULT_PROFILE)
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise PhospheneError(f"{label}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join([*SETTINGS, 'base'])}")
    values = {key: _read(label, key, value) for key, value in raw.items()}
    origins = ((key, label) for key in values)
    if base_name is None:
        return LatencyProfile(name=path.stem, **values, origins=(("*", label), *origins)).validate()
    if not isinstance(base_name, str):
        raise PhospheneError(f"{label}: base = {base_name!r}: give the name of a preset ({', '.join(profile_names())}) or a .toml file")
    if base_name in _seen or str(path) in _seen:
        raise PhospheneError(f"{label}: base = {base_name!r} leads back to itself; name a preset ({', '.join(profile_names())}) or another file")
    base_path = Path(base_name).expanduser()
    if base_path.suffix == ".toml" and not base_path.is_absolute():
        base_path = path.parent / base_path  # a base file is found beside the file that names it
    base = load_profile(str(base_path) if base_path.suffix == ".toml" else base_name, _seen=(*_seen, str(path)), _named_by=label)
    profile = replace(base, name=path.stem, **values, origins=(*base.origins, *origins)).validate()
    if not has_base:  # said once it loads: a refusal stays one line
        log.info('latency profile %s starts from %s (set base = "NAME" to choose another)', label, base_name)
    return profile


def _read(label: str, key: str, value):
    """One key's value as the dataclass holds it; the types here, the ranges in validate()."""
    default = getattr(LatencyProfile, key)
    if key in ("encoder_backend", "engine", "vae"):
        if not isinstance(value, str):
            choices = {"encoder_backend": BACKENDS, "engine": ENGINES, "vae": ("taesd", "full")}[key]
            raise PhospheneError(f"{shown(f'{label}: {key}', value)}: choose {', '.join(choices)} (in quotes)")
        return value
    if key == "size":
        try:
            return value if isinstance(value, int) and not isinstance(value, bool) else parse_size(value)
        except PhospheneError:
            raise PhospheneError(f'{shown(f"{label}: size", value)}: give N (square), "WxH" or [w, h], e.g. 512 or "1280x720"') from None
    if isinstance(default, tuple):
        if not isinstance(value, list) or not value:
            raise PhospheneError(f"{shown(f'{label}: {key}', value)}: give a list of numbers, e.g. {list(default)}")
        return tuple(check_number(v, f"{label}: {key}", lo=0.1, hi=30.0) for v in value)
    lo, hi, lo_open, hi_open, integer = NUMBERS[key]
    return check_number(value, f"{label}: {key}", lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open, integer=integer)


def with_overrides(profile: LatencyProfile, **overrides) -> LatencyProfile:
    """The profile with the fields given on the command line (None: not given) replaced, re-checked;
    a value refused is named by its flag (FLAGS), the profile's own by the profile."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return profile
    origins = (*profile.origins, *((k, flag(k)) for k in given))
    return replace(profile, **given, origins=origins).validate()
