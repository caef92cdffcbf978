"""MIDI in: `--midi NAME|INDEX` (`python -m live midi` lists the ports) with mido + python-rtmidi,
on ALSA (desktops) or JACK (`--midi-api jack`; `auto` takes ALSA where its sequencer exists).

    CC n   -> a parameter: absolute (0..127 across its range) or a relative encoder (1..63 up, 65..127 down)
    note n -> an action (note on, velocity > 0), or a scene by name: go to it, or cue it
    clock  -> 24 ticks per quarter note: each quarter is a tap, timed by a line through the last four
              beats' ticks, so the beat clock follows the DJ's clock (Start restarts the count,
              Stop pauses it, Continue resumes it where Song Position put it); `--tempo-source`
              chooses whether it, the taps, Link or the audio drive

The mapping comes from `--midi-map FILE.toml` or the default below:

    [cc]
    1 = "strength"
    21 = { param = "zoom_bass", mode = "relative" }
    [note]
    36 = "blackout"
    48 = { scene = "tunnel" }     # go: on the session's --transition
    49 = { cue = "kaleido" }      # cue: it fires on the next phrase (or at once on scene_go)

A controller unplugged mid-set is shown on the HUD and reopened by name when it returns.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import tomllib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from live.control.surface import ACTIONS, PARAMS, Control, Inbox
from live.core.errors import PhospheneError

log = logging.getLogger("phosphene")

DEFAULT_CC = {
    1: "strength",
    2: "audio_weight",
    3: "zoom_bass",
    4: "rotate_mid",
    5: "structure_onset",
    6: "flash",
    7: "saturation",
    8: "decay",
}
DEFAULT_NOTES = {
    36: "next_prompt",
    37: "previous_prompt",
    38: "blackout",
    39: "freeze",
    40: "tap",
    41: "release_tap",
    42: "half_beat",
    43: "hud",
}
SCENE_KEYS = {"go": "scene", "cue": "cue"}  # how a note reaches a scene -> its key in the map: { scene = NAME } / { cue = NAME }
SCENE_HOW = {key: how for how, key in SCENE_KEYS.items()}
CLOCKS_PER_BEAT = 24
POLL_S = 1.0  # how often a lost controller is looked for
LEARN_DEFAULT_PATH = "phosphene-midi.toml"  # where MIDI learn saves without --midi-map (the working folder)


@dataclass
class MidiMap:
    cc: dict[int, tuple[str, str]] = field(default_factory=lambda: {n: (p, "absolute") for n, p in DEFAULT_CC.items()})
    notes: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_NOTES))
    scenes: dict[int, tuple[str, str]] = field(default_factory=dict)  # note -> ("go" | "cue", scene name)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MidiMap:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text())
        except OSError as e:
            raise PhospheneError(f"--midi-map {path}: cannot read it ({e.strerror})") from None
        except tomllib.TOMLDecodeError as e:
            raise PhospheneError(f"--midi-map {path}: not valid TOML ({e})") from None
        if unknown := set(raw) - {"cc", "note"}:
            raise PhospheneError(f"--midi-map {path}: unknown table(s) {', '.join(sorted(unknown))}; the tables are [cc] and [note]")
        cc, notes, scenes = {}, {}, {}
        for key, target in raw.get("cc", {}).items():
            number = _number(path, "cc", key)
            param, mode = (target, "absolute") if isinstance(target, str) else (target.get("param"), target.get("mode", "absolute"))
            if param not in PARAMS or mode not in ("absolute", "relative"):
                raise PhospheneError(
                    f"--midi-map {path}: cc {key} = {target!r}: give a parameter ({', '.join(PARAMS)}) and mode absolute or relative"
                )
            cc[number] = (param, mode)
        for key, target in raw.get("note", {}).items():
            number = _number(path, "note", key)
            if isinstance(target, dict) and len(target) == 1 and set(target) <= set(SCENE_HOW):
                ((key_name, name),) = target.items()
                if not isinstance(name, str) or not name:
                    raise PhospheneError(f"--midi-map {path}: note {key} = {target!r}: a scene's name is a string")
                scenes[number] = (SCENE_HOW[key_name], name)
            elif isinstance(target, str) and target in ACTIONS:
                notes[number] = target
            else:
                raise PhospheneError(
                    f"--midi-map {path}: note {key} = {target!r}: choose an action ({', '.join(ACTIONS)}),"
                    ' or { scene = "NAME" } / { cue = "NAME" }'
                )
        return cls(cc, notes, scenes)

    def check_scenes(self, names, where: str) -> None:
        """Refuse, in one line, a note bound to a scene that is not among `names`."""
        for number, (how, name) in sorted(self.scenes.items()):
            if name not in names:
                raise PhospheneError(
                    f"{where}: note {number} = {{ {SCENE_KEYS[how]} = {name!r} }}: no such scene (there are: {', '.join(names)})"
                )

    def save(self, path: str | os.PathLike) -> None:
        """Write the map as `load` reads it, atomically: a set never finds half a file."""
        import tomli_w

        path = Path(path)
        cc = {str(n): (p if mode == "absolute" else {"param": p, "mode": mode}) for n, (p, mode) in sorted(self.cc.items())}
        notes = self.notes | {n: {SCENE_KEYS[how]: name} for n, (how, name) in self.scenes.items()}
        text = tomli_w.dumps({"cc": cc, "note": {str(n): a for n, a in sorted(notes.items())}})
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("# Phosphene MIDI map (python -m live run --midi-map THIS_FILE); written by MIDI learn\n" + text)
        os.replace(tmp, path)


def _number(path: Path, table: str, key: str) -> int:
    if not key.isdigit() or not 0 <= int(key) <= 127:
        raise PhospheneError(f"--midi-map {path}: [{table}] {key}: numbers are 0..127")
    return int(key)


def pick_api(api: str) -> str:
    """auto: ALSA where its sequencer exists (desktops), else JACK (containers, JACK rigs)."""
    if api == "auto":
        return "alsa" if os.path.exists("/dev/snd/seq") else "jack"
    if api not in ("alsa", "jack"):
        raise PhospheneError(f"--midi-api {api}: choose auto, alsa or jack")
    return api


_HANDLERS: list = []  # the C callbacks handed to libjack and libasound, kept alive as long as the process


def quiet_native_errors() -> None:
    """libjack and libasound print their own lines on stderr when there is no server to talk to
    ("Cannot connect to server socket ...", five of them before our one line; "ALSA lib seq_hw.c ...
    open /dev/snd/seq failed"). Both let a program take them instead (jack_set_error_function,
    jack_set_info_function, snd_lib_error_set_handler): they go to the log at debug level (-v).
    Each copy loaded is told (python-rtmidi's wheel carries its own libjack). Once; Linux only."""
    if _HANDLERS:
        return
    import ctypes

    import rtmidi  # noqa: F401  (loads the libraries to be told)

    def to_log(text: bytes | None, library: str) -> None:
        log.debug("%s: %s", library, (text or b"").decode(errors="replace").strip())

    jack = ctypes.CFUNCTYPE(None, ctypes.c_char_p)(lambda text: to_log(text, "libjack"))
    # snd_lib_error_handler_t(file, line, function, err, fmt, ...): the format is logged unexpanded
    alsa = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)(
        lambda file, line, function, err, fmt: to_log(fmt, "ALSA lib")
    )
    _HANDLERS.extend([jack, alsa])
    try:
        with open("/proc/self/maps") as maps:
            loaded = {line.split()[-1] for line in maps if "/lib" in line}
    except OSError:  # not Linux: nothing to tell
        return
    for path in sorted(loaded):
        name = Path(path).name
        try:
            if name.startswith("libjack") and not name.startswith(("libjackserver", "libjacknet")):
                library = ctypes.CDLL(path)
                library.jack_set_error_function(jack)
                library.jack_set_info_function(jack)
            elif name.startswith("libasound.so"):
                ctypes.CDLL(path).snd_lib_error_set_handler(alsa)
        except (OSError, AttributeError):  # a library without these symbols: it keeps its own way
            continue


def backend(api: str):
    import mido

    quiet_native_errors()
    return mido.Backend({"alsa": "mido.backends.rtmidi/LINUX_ALSA", "jack": "mido.backends.rtmidi/UNIX_JACK"}[pick_api(api)])


def input_names(api: str = "auto") -> list[str]:
    try:
        return backend(api).get_input_names()
    except Exception as e:  # rtmidi raises its own errors when the API has no server (no JACK running, no ALSA sequencer)
        log.debug("rtmidi: %s", e)
        raise PhospheneError(no_server(api)) from None


def no_server(api: str) -> str:
    """Why a MIDI system has no ports to list or open, and what to do, in one line."""
    chosen = pick_api(api)
    flag = f"--midi-api {api}" + (f" (chose {chosen}: this machine has no ALSA sequencer)" if api == "auto" else "")
    if chosen == "jack":
        return f"MIDI, {flag}: no JACK server is running; start one (jackd, or PipeWire's JACK) or use --midi-api alsa on a desktop"
    return f"MIDI, {flag}: no ALSA sequencer here (/dev/snd/seq is missing: sudo modprobe snd-seq), or use --midi-api jack with a JACK server running"


def base_name(port: str) -> str:
    """A port's name without what changes when a controller is plugged in again: ALSA's client:port
    numbers ("nanoKONTROL2 MIDI 1 28:0") and JACK's client suffix ("phosphene-test-01:ctl")."""
    port = re.sub(r"\s+\d+:\d+$", "", port)
    client, sep, rest = port.partition(":")
    return re.sub(r"-\d\d$", "", client) + sep + rest


def find_port(spec: str, names: list[str]) -> str:
    if spec.isdigit() and int(spec) < len(names):
        return names[int(spec)]
    matches = [n for n in names if n == spec] or [n for n in names if spec.lower() in n.lower()]
    if len(matches) != 1:
        listed = ", ".join(f"{i}: {n}" for i, n in enumerate(names)) or "none"
        what = "matches several ports" if matches else "is not a MIDI input here"
        raise PhospheneError(f"--midi {spec} {what} (inputs: {listed}); see `python -m live midi`")
    return matches[0]


class MidiInput:
    """One controller, mapped into the inbox; reopened by name when it comes back."""

    def __init__(self, inbox: Inbox, spec: str, *, api: str = "auto", mapping: MidiMap | None = None):
        self.inbox, self.api, self.mapping = inbox, pick_api(api), mapping or MidiMap()
        self.learn: Learn | None = None  # set by Learn(self, ...)
        try:
            names = input_names(api)
        except PhospheneError as e:
            raise PhospheneError(f"--midi {spec}: {e}") from None
        self.name = find_port(spec, names)  # fails at start-up, in one line
        self.values = {param: None for param, _ in self.mapping.cc.values()}  # for relative encoders
        self.lost, self.reconnects = False, 0
        self.clocks, self.running = 0, True  # MIDI clock: ticks since the last beat; Stop pauses
        self._ticks: deque[float] = deque(maxlen=4 * CLOCKS_PER_BEAT)  # arrival times of the last four beats' ticks
        self._port = self._open()
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watch_port, name="phosphene-midi-watch", daemon=True)
        self._watch.start()

    def _open(self):
        try:
            port = backend(self.api).open_input(self.name)
        except Exception as e:
            raise PhospheneError(f"--midi {self.name}: cannot open it ({e})") from None
        port._rt.ignore_types(sysex=True, timing=False, active_sense=True)  # rtmidi drops clock unless told not to
        port._rt.set_callback(self._on_raw)
        log.info("MIDI: %s (%s)", self.name, self.api)
        return port

    def _on_raw(self, event, _data=None) -> None:
        """rtmidi's thread: (bytes, delta) -> mapped and handed over; never raises."""
        import mido

        try:
            self._map(mido.Message.from_bytes(event[0]))
        except Exception as e:  # a malformed message, a map mistake: counted
            self.inbox.ignore("midi", type(e).__name__)

    def _map(self, message) -> None:
        kind = message.type
        if self.learn is not None and self.learn.armed and kind in ("control_change", "note_on"):
            if kind == "control_change":
                self.learn.offer_midi("cc", message.control)
            elif message.velocity > 0:
                self.learn.offer_midi("note", message.note)
            return  # while learning, a control binds; it does not also play
        if kind == "control_change":
            target = self.mapping.cc.get(message.control)
            if target is None:
                self.inbox.ignore("midi", "unmapped")
                return
            param, mode = target
            spec = PARAMS[param]
            if mode == "absolute":
                value = spec.from_unit(message.value / 127)
            else:  # two's complement steps: 1..63 up, 65..127 down, each 1/127 of the range
                steps = message.value if message.value < 64 else message.value - 128
                current = self.values.get(param)
                current = spec.from_unit(0.5) if current is None else current
                value = min(spec.hi, max(spec.lo, current + steps * (spec.hi - spec.lo) / 127))
            self.values[param] = value
            self.inbox.put(Control("param", param, value, "midi"))
        elif kind == "note_on" and message.velocity > 0:
            action = self.mapping.notes.get(message.note)
            if action is None and message.note in self.mapping.scenes:
                how, name = self.mapping.scenes[message.note]
                self.inbox.put(Control("scene", how, name, "midi"))
                return
            if action is None:
                self.inbox.ignore("midi", "unmapped")
                return
            self.inbox.put(Control("action", action, None, "midi"))
        elif kind == "clock":
            if self.running:
                self._ticks.append(time.monotonic())
                self.clocks += 1
                if self.clocks >= CLOCKS_PER_BEAT:
                    self.clocks = 0
                    self.inbox.put(Control("action", "tap", self.beat_time(), "midi clock"))
        elif kind == "start":  # from the top: the next tick starts a beat
            self.running, self.clocks = True, 0
            self._ticks.clear()
        elif kind == "continue":  # from where Stop left it, or where Song Position put it
            self.running = True
            self._ticks.clear()
        elif kind == "stop":
            self.running = False
        elif kind == "songpos":  # Song Position Pointer, in sixteenths (6 ticks each): where in the beat to resume
            self.clocks = (message.pos * 6) % CLOCKS_PER_BEAT
            self._ticks.clear()

    def beat_time(self) -> float:
        """The time of the tick that just arrived, from a straight line through the last four beats'
        ticks: a busy machine hands several ticks over at once, and their arrival times alone would
        make a tempo of thousands of BPM (rtmidi's own stamps are no better on JACK's dummy driver)."""
        ticks = self._ticks
        n = len(ticks)
        if n < CLOCKS_PER_BEAT:
            return ticks[-1]
        mean_i, mean_t = (n - 1) / 2, sum(ticks) / n
        slope = sum((i - mean_i) * (t - mean_t) for i, t in enumerate(ticks)) / sum((i - mean_i) ** 2 for i in range(n))
        return mean_t + slope * (n - 1 - mean_i)

    def _watch_port(self) -> None:
        import rtmidi

        quiet_native_errors()
        # one client for looking, kept open: opening a JACK client per look costs a good part of a second
        lister = rtmidi.MidiIn({"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK}[self.api], name="phosphene-watch")
        while not self._stop.wait(POLL_S):
            try:
                again = [port for port in lister.get_ports() if base_name(port) == base_name(self.name)]
            except Exception:
                again = []
            present = self.name in again or (self.lost and bool(again))
            if self.lost and again and self.name not in again:
                self.name = again[0]  # the same controller under its new numbers
            if not present and not self.lost:
                self.lost = True
                log.warning("MIDI: %s is gone; reconnecting when it returns", self.name)
                self._close_port()
            elif present and self.lost:
                try:
                    self._port = self._open()
                except PhospheneError:
                    continue
                self.lost, self.reconnects = False, self.reconnects + 1

    def _close_port(self) -> None:
        try:
            if self._port is not None:
                self._port.close()
        except Exception:
            pass
        self._port = None

    def stop(self) -> None:
        self._stop.set()
        self._close_port()


class Learn:
    """MIDI learn. The `learn` action (L key, /phosphene/action/learn) arms it; then the next
    parameter or action touched from the keys or OSC (or picked with `learn_next` / `learn_previous`,
    the . and , keys, shown on the HUD) and the next control moved on the controller are bound, in
    either order: a CC to a parameter (absolute), a note to an action. The map is saved at once,
    atomically, to `path` (the --midi-map file, or phosphene-midi.toml in the working folder), and
    learn disarms. Learning again on a bound CC or note rebinds it."""

    TARGETS = [("param", name) for name in PARAMS] + [("action", name) for name in ACTIONS if not name.startswith("learn")]

    def __init__(self, midi: MidiInput, path: str | os.PathLike):
        self.midi, self.path = midi, Path(path)
        self.armed = False
        self.target: tuple[str, str] | None = None  # ("param" | "action", name)
        self.control: tuple[str, int] | None = None  # ("cc" | "note", number)
        self.message = ""  # what the HUD says: what is wanted, what was bound, what went wrong
        self.bound = 0
        self._lock = threading.Lock()
        midi.learn = self

    def toggle(self) -> None:
        with self._lock:
            self.armed, self.target, self.control = not self.armed, None, None
            self.message = "" if not self.armed else "touch a parameter or action (. , to pick), move a control"

    def step(self, delta: int) -> None:
        """Pick the target from the list (the . and , keys), for parameters no key reaches."""
        with self._lock:
            if not self.armed:
                return
            i = self.TARGETS.index(self.target) if self.target in self.TARGETS else (-1 if delta > 0 else 0)
            self.target = self.TARGETS[(i + delta) % len(self.TARGETS)]
            self._maybe_bind()

    def offer_target(self, kind: str, name: str) -> None:
        """A parameter or action touched from the keys or OSC (the frame loop's thread)."""
        with self._lock:
            if self.armed and (kind, name) in self.TARGETS:
                self.target = (kind, name)
                self._maybe_bind()

    def offer_midi(self, kind: str, number: int) -> None:
        """A control moved on the controller (the MIDI thread)."""
        with self._lock:
            if self.armed:
                self.control = (kind, number)
                self._maybe_bind()

    def _maybe_bind(self) -> None:
        if self.target is None or self.control is None:
            return
        (target_kind, name), (kind, number) = self.target, self.control
        if (kind == "cc") != (target_kind == "param"):
            want = "a knob or fader (CC)" if target_kind == "param" else "a pad or key (note)"
            self.message, self.control = f"{name} is a{'' if target_kind == 'param' else 'n'} {target_kind}: move {want}", None
            return
        mapping = self.midi.mapping
        cc, notes, scenes = dict(mapping.cc), dict(mapping.notes), dict(mapping.scenes)
        if kind == "cc":
            cc[number] = (name, "absolute")
            self.midi.values.setdefault(name, None)
        else:
            notes[number] = name
            scenes.pop(number, None)  # a note does one thing
        learned = MidiMap(cc, notes, scenes)
        try:
            learned.save(self.path)
        except OSError as e:  # an unwritable folder: the binding holds for this set, the HUD says why
            self.message = f"bound {kind} {number} -> {name}, NOT saved ({e.strerror}: {self.path})"
        else:
            self.message = f"bound {kind} {number} -> {name}, saved to {self.path}"
        log.info("MIDI learn: %s", self.message)
        self.midi.mapping = learned
        self.armed, self.target, self.control, self.bound = False, None, None, self.bound + 1

    def status(self) -> str:
        with self._lock:
            if self.armed:
                target = f"{self.target[1]}" if self.target else "?"
                control = f"{self.control[0]} {self.control[1]}" if self.control else "?"
                return f"LEARN {control} -> {target}: {self.message}"
            return f"learn: {self.message}" if self.message else ""
