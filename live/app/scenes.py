"""Scenes: named looks in TOML files (`scenes/*.toml`, or a folder of your own with `--scenes DIR`).

A scene says which structure generator draws and with what parameters, how the feedback warp moves,
the colour grade, which feature drives what, and for the diffusion engine its prompt(s), strength
and audio weight. Every key is optional; what a file leaves out is the classic look (`ShaderLook`,
`Structure` defaults), so `scenes/classic.toml` is the look Phosphene always had.

    description = "rings of a tube rushing at you on the bass"
    [structure]   generator, scale, speed, detail, count, hue, palette = [r, g, b], drive = FEATURE
    [warp]        zoom, zoom_bass, rotate, rotate_mid, drift, pulse, structure_mix, structure_onset, decay
    [grade]       flash, beat_decay, saturation, contrast, tint = [r, g, b], vignette
    [route]       zoom, rotate, renewal, pulse, flash = FEATURE   (bass, low_mid, mid, high, level, peak, onset, beat, none)
    [diffusion]   prompt = "..." or prompts = [...], strength, audio_weight, image_scale (--condition image|both)

    library = load_library(user_dir)          # name -> Scene; a user folder's scene wins over a shipped one
    scene = pick(library, "tunnel")           # or a PhospheneError naming the scenes there are

A key that is not above, or a value outside its range, is refused in one line naming the file,
the key and the allowed range.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from live.control.surface import PARAMS
from live.core.errors import PhospheneError
from live.core.numbers import check_number
from live.draw.shaders import FEATURES, ShaderLook, Structure, generators

SCENE_DIR = Path(__file__).resolve().parents[2] / "scenes"  # live/app/scenes.py -> the checkout's scenes/
DEFAULT_SCENE = "classic"  # today's look: ShaderLook() and Structure() as they are


@dataclass(frozen=True)
class Scene:
    name: str  # the file's stem
    description: str = ""
    look: ShaderLook = ShaderLook()
    structure: Structure = Structure()
    prompts: tuple[str, ...] = ()  # diffusion: mixed with the audio; the first is the scene's prompt
    strength: float | None = None  # diffusion: None keeps the command's --strength
    audio_weight: float | None = None  # diffusion, with a prompt: None keeps the command's
    image_scale: float | None = None  # diffusion, --condition image|both: the IP-Adapter scale, travelling over the transition in as the strength does; None keeps the command's
    path: Path | None = None


def _range(name: str, lo: float | None = None, hi: float | None = None) -> tuple[float, float]:
    """A key's allowed range: the control surface's for the parameters it has (one place), else lo..hi."""
    if name in PARAMS:
        return PARAMS[name].lo, PARAMS[name].hi
    return lo, hi


# table -> key -> (allowed range, or None for a feature name / a string), and where the value goes
NUMBERS = {
    "structure": {
        "scale": (0.1, 8.0),
        "speed": (0.0, 8.0),
        "detail": (0.0, 1.0),
        "count": (1.0, 32.0),
        "hue": (0.0, 1.0),
    },
    "warp": {
        k: _range(k) for k in ("zoom", "zoom_bass", "rotate", "rotate_mid", "drift", "pulse", "structure_mix", "structure_onset", "decay")
    },
    "grade": {
        "flash": _range("flash"),
        "beat_decay": (0.5, 20.0),
        "saturation": _range("saturation"),
        "contrast": _range("contrast"),
        "vignette": _range("vignette"),
    },
    "diffusion": {"strength": _range("strength"), "audio_weight": _range("audio_weight"), "image_scale": (0.0, 2.0)},
}
TRIPLES = {("structure", "palette"): (0.0, 1.0), ("grade", "tint"): (0.0, 2.0)}
ROUTES = {"zoom": "zoom_by", "rotate": "rotate_by", "renewal": "renew_by", "pulse": "pulse_by", "flash": "flash_by"}
TABLES = ("structure", "warp", "grade", "route", "diffusion")


def _known(table: str) -> list[str]:
    if table == "route":
        return list(ROUTES)
    extra = {"structure": ["generator", "palette", "drive"], "grade": ["tint"], "diffusion": ["prompt", "prompts"]}.get(table, [])
    return [*NUMBERS.get(table, {}), *extra]


def _number(where: str, value, lo: float, hi: float) -> float:
    """A finite number in [lo, hi] (TOML's nan and inf refused), named by file and key (live/core/numbers.py)."""
    return check_number(value, where, lo=lo, hi=hi)


def _feature(where: str, value) -> str:
    if value not in FEATURES:
        raise PhospheneError(f"{where} = {value!r}: allowed {', '.join(FEATURES)}")
    return value


def parse_scene(path: Path, data: dict, shader_dir: Path | None = None) -> Scene:
    """A scene from a TOML file's table; every refusal is one line naming the file and the key."""
    look, structure = {}, {}
    scene = {"name": path.stem, "path": path}
    known_generators = generators(shader_dir) if shader_dir else generators()
    for key, value in data.items():
        if key == "description":
            if not isinstance(value, str):
                raise PhospheneError(f"{path}: description = {value!r}: give a line of text")
            scene["description"] = value
            continue
        if key not in TABLES or not isinstance(value, dict):
            raise PhospheneError(f"{path}: unknown key {key!r} (allowed: description, {', '.join(f'[{t}]' for t in TABLES)})")
        for name, v in value.items():
            where = f"{path}: [{key}] {name}"
            if name not in _known(key):
                raise PhospheneError(f"{path}: unknown key [{key}] {name} (allowed in [{key}]: {', '.join(_known(key))})")
            if (key, name) in TRIPLES:
                lo, hi = TRIPLES[(key, name)]
                if not isinstance(v, list) or len(v) != 3:
                    raise PhospheneError(f"{where} = {v!r}: give three numbers [r, g, b], each from {lo:g} to {hi:g}")
                triple = tuple(_number(where, x, lo, hi) for x in v)
                (structure if key == "structure" else look)[name] = triple
            elif key == "route":
                look[ROUTES[name]] = _feature(where, v)
            elif key == "structure" and name == "drive":
                structure["drive_by"] = _feature(where, v)
            elif key == "structure" and name == "generator":
                if v not in known_generators:
                    raise PhospheneError(f"{where} = {v!r}: allowed {', '.join(known_generators)} (shaders/structure_NAME.glsl)")
                structure["generator"] = v
            elif key == "diffusion" and name in ("prompt", "prompts"):
                texts = [v] if name == "prompt" else v
                if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
                    raise PhospheneError(f"{where} = {v!r}: give {'a line of text' if name == 'prompt' else 'a list of prompts'}")
                scene["prompts"] = tuple(t.strip() for t in texts)
            elif key == "diffusion":
                scene[name] = _number(where, v, *NUMBERS[key][name])
            elif key == "structure":
                structure[name] = _number(where, v, *NUMBERS[key][name])
            else:
                look[name] = _number(where, v, *NUMBERS[key][name])
    return Scene(look=replace(ShaderLook(), **look), structure=replace(Structure(), **structure), **scene)


def load_scene(path: str | Path, shader_dir: Path | None = None) -> Scene:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise PhospheneError(f"{path}: not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PhospheneError(f"{path}: cannot read it ({e})") from None
    return parse_scene(path, data, shader_dir)


def load_library(user_dir: str | Path | None = None, *, scene_dir: Path = SCENE_DIR) -> dict[str, Scene]:
    """Every scene: the shipped ones (scenes/), then a user folder's (which win by name). The classic
    scene exists even without a file."""
    library = {DEFAULT_SCENE: Scene(DEFAULT_SCENE, "the look Phosphene always had: domain-warped noise and rings on the bass")}
    folders = [scene_dir]
    if user_dir is not None:
        user = Path(user_dir)
        if not user.is_dir():
            if user.exists():
                raise PhospheneError(f"--scenes {user} is a file: give a folder of NAME.toml scene files (such as {user.parent})")
            raise PhospheneError(f"--scenes {user}: no such folder (a folder of NAME.toml scene files)")
        folders.append(user)
    for folder in folders:
        for path in sorted(folder.glob("*.toml")):
            library[path.stem] = load_scene(path)
    return library


def pick(library: dict[str, Scene], name: str, *, flag: str = "--scene") -> Scene:
    if name not in library:
        raise PhospheneError(f"{flag} {name}: no such scene (there are: {', '.join(library)}; `python -m live scenes` lists them)")
    return library[name]


def describe(library: dict[str, Scene]) -> str:
    """The table `python -m live scenes` prints: name, generator, description."""
    width = max(len(n) for n in library)
    return "\n".join(f"{name:<{width}}  {s.structure.generator:<9}  {s.description}" for name, s in library.items())
