"""The director: which scene is on, which is cued, and the transition under way, frame by frame, on
the music's beats and bars (live/app/barclock.py). The offline render and the live loop both step it:
offline on the file's own bars (`follow_file`: the bars `python -m live beats FILE --bars` prints,
so a timeline's `bar 17` is that table's bar 17), live on the causal bar clock.

    director = Director(library, "classic", transition=parse_transition("crossfade 4 beats"))
    director.request("scene_next")             # any thread: keys, MIDI, OSC (the control surface's actions)
    state = director.step(drive)               # once per frame, on the frame's thread
    if state.begin: engine.begin(scene.look, scene.structure, kind)   # a switch starts this frame
    engine.progress(state.progress)

Transitions: `KIND [N beats|bars] [on now|beat|bar|phrase [N]]`, e.g. "cut", "crossfade 4 beats",
"dissolve 2 bars on phrase 8". `on` says when a "go" takes effect: at once, on the next beat, the
next bar line, or the next phrase start (a phrase is N bars, 8 unless said; phrases start at bars
1, N + 1, 2N + 1, ...). A cue waits for the next phrase; auto-advance switches every N bars (at the
bar lines of bars N + 1, 2N + 1, ...: bar lines crossed, one at a time).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from live.app.barclock import BarClock, BarPosition, FileBarClock
from live.app.timeline import load_timeline
from live.app.transition import DEFAULT_TRANSITION, Transition, parse_transition


def due(rule: str, phrase_bars: int, armed: BarPosition, pos: BarPosition) -> bool:
    """Has the boundary a go waits for (rule: now | beat | bar | phrase) come since it was armed?"""
    if rule == "now":
        return True
    if rule == "beat":
        return pos.beat > armed.beat
    started_bar = pos.bar > armed.bar and pos.beat_in_bar == 0
    if rule == "bar":
        return started_bar
    return started_bar and (pos.bar - 1) % phrase_bars == 0


def beats_until(rule: str, phrase_bars: int, pos: BarPosition) -> float:
    """Beats from now to the boundary `rule` waits for (for the HUD)."""
    frac = pos.beat_pos - math.floor(pos.beat_pos)
    if rule == "now":
        return 0.0
    if rule == "beat":
        return 1.0 - frac
    to_bar = pos.beats_per_bar - pos.beat_in_bar - frac if pos.bar else 1.0 - frac  # before bar 1: the first beat
    if rule == "bar" or not pos.bar:
        return to_bar
    bars_more = (phrase_bars - pos.bar % phrase_bars) % phrase_bars  # whole bars after the next bar line
    return to_bar + bars_more * pos.beats_per_bar


@dataclass
class Pending:
    """A switch waiting for its boundary."""

    scene: str
    transition: Transition
    armed: BarPosition
    rule: str  # now | beat | bar | phrase, or "at bar" (a timeline's bar N)
    prompt: str | None = None
    at_bar: int = 0
    cue_line: int = 0  # the timeline line it came from (0: none)
    travel: tuple[float, str] | None = None  # a cue's prompt span (N, beats | bars); None: the transition's


@dataclass
class FrameState:
    scene: str  # the scene this frame belongs to (the incoming one from the frame a switch starts)
    begin: tuple | None = None  # (scene name, Transition) when a switch starts this frame
    progress: float = 1.0  # through the transition under way (1: none)
    prompt: tuple[str | None, str | None, float] = (None, None, 1.0)  # diffusion: travel from, to, how far
    position: BarPosition | None = None


@dataclass
class Active:
    source: str
    target: str
    transition: Transition
    start_pos: float  # the beat clock when it began
    span_beats: float
    prompt_from: str | None = None
    prompt_to: str | None = None
    prompt_span_beats: float | None = None  # the prompt's travel, when a cue gives it its own span


@dataclass
class Director:
    library: dict
    current: str
    transition: Transition = field(default_factory=Transition)
    auto_bars: int | None = None  # switch every N bars by itself
    shuffle: bool = False
    seed: int = 0
    cues: list = field(default_factory=list)  # a timeline's Cue list: a cue list live, the script of a render
    follow_cues: bool = True  # cues fire by themselves at their time or bar (False: only on scene_next)
    bars: object = None  # offline: the file's bars (live.analysis.bars.Bars; follow_file); None: the live, causal clock

    def __post_init__(self):
        self.order = list(self.library)
        self.clock = BarClock()
        if self.bars is not None:
            self.follow_file(self.bars)
        self.cued: str | None = None
        self.pending: Pending | None = None
        self.active: Active | None = None
        self.requests: list[tuple[str, str | None]] = []  # appended by other threads, popped here
        self.rng = random.Random(self.seed)
        self.next_cue = 0
        if self.cues and self.cues[0].at_s == 0.0:  # a timeline that starts at 0:00 starts with its scene, not at the first bar
            self.current = self.cues[0].scene or self.current
            self.next_cue = 1
        self.prompt = (self.cues[0].prompt if self.next_cue else None) or self._prompt_of(self.current)
        self.last_bar = 0  # the bar of the frame before (auto-advance counts the bar lines crossed)
        self.status = f"scene {self.current}"  # for the HUD, swapped whole
        self.changes: list[tuple[int, str]] = []  # (frame, scene) at each switch, for the stats
        self.frame = 0
        self.position: BarPosition | None = None

    def follow_file(self, bars) -> None:
        """Offline: bars, beats, cues and transitions on the file's own bars (a Bars of the rendered
        segment, times from its start: live.app.beats.bars_of_file, what `beats --bars` prints)
        instead of the causal clock. A file with no beats keeps the causal clock."""
        self.bars = bars
        if bars.beats_s:
            self.clock = FileBarClock(bars)

    # --- asked for ------------------------------------------------------------------------

    def request(self, action: str, name: str | None = None) -> None:
        """scene_next | scene_previous | scene_cue | scene_go, or ("go", NAME) / ("cue", NAME) for a scene
        by name (OSC /phosphene/scene, /phosphene/scene/cue): safe from any thread."""
        self.requests.append((action, name))

    def _neighbour(self, name: str, step: int) -> str:
        if self.shuffle and step > 0:
            choices = [n for n in self.order if n != name] or [name]
            return self.rng.choice(choices)
        return self.order[(self.order.index(name) + step) % len(self.order)] if name in self.order else self.order[0]

    def _prompt_of(self, name: str) -> str | None:
        scene = self.library.get(name)
        return scene.prompts[0] if scene is not None and scene.prompts else None

    def _arm(self, scene: str, transition: Transition, pos: BarPosition, rule: str | None = None, **extra) -> None:
        self.pending = Pending(scene, transition, pos, rule or transition.on, **extra)

    def _handle(self, action: str, name: str | None, pos: BarPosition) -> None:
        if action == "go" and name:
            self._arm(name, self.transition, pos)
        elif action == "cue" and name:  # as scene_cue, with the scene named: it fires on the next phrase (or on scene_go)
            self.cued = name
            self._arm(name, self.transition, pos, rule="phrase")
        elif action == "scene_next" and self.cues:
            self._arm_cue(pos, rule=self.transition.on)
        elif action in ("scene_next", "scene_previous"):
            base = self.pending.scene if self.pending else self.current
            self._arm(self._neighbour(base, 1 if action == "scene_next" else -1), self.transition, pos)
        elif action == "scene_cue":
            self.cued = self._neighbour(self.cued or self.current, 1)
            self._arm(self.cued, self.transition, pos, rule="phrase")
        elif action == "scene_go":
            target = self.cued or self._neighbour(self.current, 1)
            self._arm(target, self.transition, pos, rule="beat")

    def _arm_cue(self, pos: BarPosition, rule: str | None = None) -> None:
        if self.next_cue >= len(self.cues):
            return
        cue = self.cues[self.next_cue]
        self.next_cue += 1
        scene = cue.scene or (self.pending.scene if self.pending else self.current)
        r = rule or (cue.transition.on if cue.at_bar is None else "at bar")
        self._arm(scene, cue.transition, pos, rule=r, prompt=cue.prompt, at_bar=cue.at_bar or 0, cue_line=cue.line, travel=cue.travel)

    # --- once per frame ---------------------------------------------------------------------

    def step(self, drive) -> FrameState:
        pos = self.clock.advance(drive)
        self.position = pos
        while self.requests:
            self._handle(*self.requests.pop(0), pos)
        if self.follow_cues and self.cues and self.next_cue < len(self.cues) and self.pending is None:
            cue = self.cues[self.next_cue]
            if (cue.at_bar is not None and pos.bar >= cue.at_bar) or (cue.at_s is not None and drive.time_s >= cue.at_s - 1e-9):
                self._arm_cue(pos)
        if self.auto_bars and pos.bar > self.last_bar:  # a bar line crossed: every N bars, at bars N + 1, 2N + 1, ...
            if self.pending is None and pos.bar > 1 and (pos.bar - 1) % self.auto_bars == 0:
                self._arm(self._neighbour(self.current, 1), self.transition, pos, rule="now")
        self.last_bar = pos.bar
        state = FrameState(self.current, position=pos)
        p = self.pending
        if p is not None and (
            p.rule == "at bar" and pos.bar >= p.at_bar or p.rule != "at bar" and due(p.rule, p.transition.phrase_bars, p.armed, pos)
        ):
            self.pending = None
            if p.scene == self.cued:
                self.cued = None
            prompt_to = p.prompt or self._prompt_of(p.scene) or self.prompt
            span = p.transition.span_beats(pos.beats_per_bar)
            travel = p.travel[0] * (pos.beats_per_bar if p.travel[1] == "bars" else 1) if p.travel else None
            self.active = Active(self.current, p.scene, p.transition, pos.beat_pos, span, self.prompt, prompt_to, travel)
            self.current, self.prompt = p.scene, prompt_to
            self.changes.append((self.frame, p.scene))
            state = FrameState(p.scene, begin=(p.scene, p.transition), position=pos)
        a = self.active
        if a is not None:

            def through(span: float) -> float:
                return 1.0 if span <= 0 else min(1.0, max(0.0, (pos.beat_pos - a.start_pos) / span))

            t = through(a.span_beats)  # the pictures' crossfade or dissolve
            t_prompt = t if a.prompt_span_beats is None else through(a.prompt_span_beats)  # the prompt's travel
            state.progress, state.prompt = t, (a.prompt_from, a.prompt_to, t_prompt)
            if t >= 1.0 and t_prompt >= 1.0:
                self.active = None
        else:
            state.prompt = (self.prompt, self.prompt, 1.0)
        self.status = self._status(pos)
        self.frame += 1
        return state

    def _status(self, pos: BarPosition) -> str:
        text = f"scene {self.current}   bar {pos.bar}.{pos.beat_in_bar + 1}"
        if self.active is not None:
            text += f"   ({self.active.transition.kind} from {self.active.source})"
        p = self.pending
        if p is not None:
            if p.rule == "at bar":
                beats = max(0.0, (p.at_bar - max(pos.bar, 1)) * pos.beats_per_bar - pos.beat_in_bar)
            else:
                beats = beats_until(p.rule, p.transition.phrase_bars, pos)
            text += f"   next {p.scene} in {beats:.1f} beats ({p.transition.kind})"
        elif self.cued:
            text += f"   cued {self.cued}"
        return text


def scene_director(args, *, seed: int = 0, duration_s: float | None = None, input_path=None, start_s: float = 0.0) -> Director | None:
    """The director a command's scene flags ask for (--scene, --scenes, --timeline, --transition,
    --auto-advance, --shuffle), checked before any output exists.

    Live (no `input_path`): always a director. A plain run (no scene flag) plays the classic scene,
    which is the look a run always had (the command's --prompt, or the audio alone, until a switch),
    so the scene keys, OSC and MIDI scene actions switch scenes, with --transition.

    Offline (`input_path`: a render's music file): None when no scene flag was given (the classic
    look alone: nothing would switch); --transition and --shuffle, which only auto-advance uses in a
    render, are refused without --auto-advance. The director follows the file's own bars
    (live.app.beats.bars_of_file, what `beats --bars` prints; computed here, once), and a timeline's
    `bar N` cues are checked against them."""
    from live.app.scenes import DEFAULT_SCENE, load_library, pick
    from live.core.errors import PhospheneError

    offline = input_path is not None
    auto = getattr(args, "auto_advance", None)
    if auto is not None and auto < 1:  # before anything else: 0 must not read as "no scenes"
        raise PhospheneError(f"--auto-advance {auto}: give a number of bars, 1 or more")
    names = ("scene", "scenes", "timeline", "auto_advance")
    plain = not any(getattr(args, n, None) for n in names) and not getattr(args, "shuffle", False)
    given_transition = getattr(args, "transition", None)
    try:
        transition = parse_transition(given_transition or DEFAULT_TRANSITION)
    except ValueError as e:
        raise PhospheneError(f"--transition: {e}") from None
    if transition == parse_transition(DEFAULT_TRANSITION):
        given_transition = None  # the default (the parser states it): not a transition asked for
    if offline and auto is None:
        for flag, given in ((f"--transition {given_transition!r}", given_transition), ("--shuffle", getattr(args, "shuffle", False))):
            if given:
                raise PhospheneError(
                    f"{flag}: a render switches scenes only by --auto-advance N, which uses it, or by a --timeline's cues, "
                    "each with its own transition = ...; add --auto-advance N or leave it out"
                )
    if offline and plain:
        return None
    library = load_library(getattr(args, "scenes", None))
    start = pick(library, args.scene).name if getattr(args, "scene", None) else DEFAULT_SCENE
    bars = None
    if offline:
        from live.app.beats import bars_of_file

        bars = bars_of_file(input_path, start_s=start_s, duration_s=duration_s)
    timeline = getattr(args, "timeline", None)
    cues = load_timeline(timeline, library, duration_s=duration_s, downbeats=(lambda: bars.downbeats_s) if offline else None) if timeline else []
    shuffle = getattr(args, "shuffle", False)
    director = Director(library, start, transition=transition, auto_bars=auto, shuffle=shuffle, seed=seed, cues=cues, bars=bars)
    if plain:  # the classic look as a run always had it: the command's prompt (or the audio alone), not the scene file's
        director.prompt = None
    return director
