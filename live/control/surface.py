"""The action surface: every live control as a named action or a parameter with a range. Keys,
MIDI and OSC all put `Control` records into one `Inbox`; the frame loop drains it between frames
and applies them, so no input thread ever touches the models or the GL context.

    inbox = Inbox()
    inbox.put(Control("param", "strength", 0.8, "osc"))     # any thread
    for control in inbox.drain(): ...                        # the frame loop

Parameters are set as absolute values within their range (a MIDI CC's 0..127 and an OSC float's
0..1 are both scaled into it: `Param.from_unit`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    lo: float
    hi: float
    help: str

    def from_unit(self, u: float) -> float:
        """0..1 (a fader, a CC / 127) -> the parameter's range."""
        return self.lo + min(1.0, max(0.0, u)) * (self.hi - self.lo)

    def contains(self, value: float) -> bool:
        return self.lo <= value <= self.hi


# Diffusion parameters, then the shader look (live.draw.shaders.ShaderLook, same names): per frame at 24 fps.
PARAMS: dict[str, Param] = {
    "strength": Param(0.05, 1.0, "share of each frame repainted (diffusion)"),
    "audio_weight": Param(0.0, 1.0, "1 = audio only, 0 = the prompt only (diffusion, with a prompt)"),
    "zoom": Param(0.0, 0.03, "zoom per frame at rest"),
    "zoom_bass": Param(0.0, 0.12, "extra zoom per frame at full bass"),
    "rotate": Param(-0.02, 0.02, "radians per frame at rest"),
    "rotate_mid": Param(0.0, 0.08, "extra radians per frame at full mid"),
    "drift": Param(0.0, 0.02, "translation per frame"),
    "pulse": Param(0.0, 0.03, "ripple on the beat"),
    "structure_mix": Param(0.0, 0.5, "structure mixed in per frame at rest"),
    "structure_onset": Param(0.0, 1.0, "structure mixed in at a full onset"),
    "decay": Param(0.8, 1.0, "feedback gain per frame"),
    "flash": Param(0.0, 3.0, "stops of exposure on the beat"),
    "saturation": Param(0.0, 2.0, "colour saturation"),
    "contrast": Param(0.5, 2.0, "contrast"),
    "vignette": Param(0.0, 1.0, "vignette"),
}
DIFFUSION_PARAMS = ("strength", "audio_weight")

ACTIONS: dict[str, str] = {
    "next_prompt": "next prompt",
    "previous_prompt": "previous prompt",
    "strength_up": "strength +0.05",
    "strength_down": "strength -0.05",
    "weight_up": "audio weight +0.1",
    "weight_down": "audio weight -0.1",
    "blackout": "blackout on/off",
    "freeze": "freeze frame on/off",
    "tap": "tap tempo",
    "release_tap": "release the tapped tempo",
    "half_beat": "move the beat by half a beat (again: back)",
    "downbeat": "this is the one: the nearest beat starts the bar (the count holds until release_tap)",
    "hud": "HUD on/off",
    "fullscreen": "fullscreen on/off",
    "quit": "quit (the set ends)",
    "scene_next": "next scene, on the next bar (with --timeline: the next cue)",
    "scene_previous": "previous scene, on the next bar",
    "scene_cue": "cue the next scene: it fires on the next phrase (again: the one after)",
    "scene_go": "go: the cued scene (else the next) on the next beat",
    "learn": "MIDI learn on/off: the next parameter touched and the next control moved are bound",
    "learn_next": "MIDI learn: pick the next parameter or action to bind",
    "learn_previous": "MIDI learn: pick the previous parameter or action to bind",
}


@dataclass(frozen=True)
class Control:
    kind: str  # "param" | "action" | "prompt" | "tempo" | "scene"
    name: str  # a PARAMS or ACTIONS key ("" for prompt / tempo; "go" | "cue" for a scene)
    value: float | str | None  # the parameter's value in its range, the prompt text, the BPM, the scene's name
    source: str  # "keys" | "midi" | "osc": shown on the HUD

    def describe(self) -> str:
        if self.kind == "param":
            return f"{self.name} {self.value:.3g}"
        if self.kind == "action":
            return self.name
        if self.kind == "scene":
            return f"scene {self.value}" if self.name == "go" else f"cue scene {self.value}"
        return f"{self.kind} {self.value}"


def validate(kind: str, name: str, value, source: str) -> tuple[Control | None, str]:
    """(control, "") for a good one, (None, reason) otherwise: reasons are counted, never raised."""
    if kind == "param":
        param = PARAMS.get(name)
        if param is None:
            return None, "unknown"
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN
            return None, "type"
        if not param.contains(float(value)):
            return None, "range"
        return Control("param", name, float(value), source), ""
    if kind == "action":
        return (Control("action", name, None, source), "") if name in ACTIONS else (None, "unknown")
    if kind == "prompt":
        return (Control("prompt", "", value, source), "") if isinstance(value, str) and 0 < len(value) <= 500 else (None, "type")
    if kind == "scene":  # a scene by name: whether it exists is the director's to say (the run counts "scene" if not)
        ok = name in ("go", "cue") and isinstance(value, str) and 0 < len(value) <= 100
        return (Control("scene", name, value, source), "") if ok else (None, "type" if name in ("go", "cue") else "unknown")
    if kind == "tempo":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and 30.0 <= value <= 300.0
        return (Control("tempo", "", float(value), source), "") if ok else (None, "range")
    return None, "unknown"


class Inbox:
    """Controls from any thread, drained by the frame loop. Bounded: a flood keeps the newest."""

    def __init__(self, size: int = 4096):
        self._queue: deque[Control] = deque(maxlen=size)
        self._lock = threading.Lock()
        self.received: Counter = Counter()  # per source
        self.ignored: Counter = Counter()  # per "source:reason"
        self.last: tuple[str, str, float] | None = None  # (source, what, monotonic time)

    def put(self, control: Control) -> None:
        with self._lock:
            self._queue.append(control)
            self.received[control.source] += 1
            self.last = (control.source, control.describe(), time.monotonic())

    def ignore(self, source: str, reason: str, count: int = 1) -> None:
        with self._lock:
            self.ignored[f"{source}:{reason}"] += count

    def drain(self) -> list[Control]:
        with self._lock:
            items = list(self._queue)
            self._queue.clear()
        return items

    def summary(self) -> dict:
        with self._lock:
            return {"received": dict(self.received), "ignored": dict(self.ignored), "last": self.last[1] if self.last else None}


def describe_surface() -> str:
    """The table, for `python -m live osc` and `python -m live midi`."""
    lines = ["parameters (value within the range; MIDI CCs and unit faders are scaled into it):"]
    lines += [f"  {name:<16} {p.lo:g} .. {p.hi:g}   {p.help}" for name, p in PARAMS.items()]
    lines += ["actions:"] + [f"  {name:<16} {text}" for name, text in ACTIONS.items()]
    return "\n".join(lines)
