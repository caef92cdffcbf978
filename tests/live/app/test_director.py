"""Transitions and quantised switches: the transition text, a crossfade at its midpoint, and a switch
that lands on a bar line of a click track in a real render."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from live.analysis.bars import Bars
from live.analysis.clock import Drive
from live.app.barclock import FileBarClock
from live.app.director import Director
from live.app.scenes import Scene, load_library
from live.app.transition import parse_transition
from live.draw.shaders import ShaderLook, Structure
from tests.live.app.known_bars import SR, groove

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "demo" / "phosphene-demo.mp3"


def test_transition_texts():
    t = parse_transition("crossfade 4 beats")
    assert (t.kind, t.span, t.unit, t.on) == ("crossfade", 4.0, "beats", "bar") and t.span_beats(4) == 4
    t = parse_transition("Dissolve  2 bars on phrase 16")
    assert (t.kind, t.span_beats(3), t.on, t.phrase_bars) == ("dissolve", 6.0, "phrase", 16)
    assert parse_transition("cut on now").span_beats(4) == 0 and parse_transition("cut").on == "bar"
    for bad, needle in [
        ("fade 4 beats", "give KIND"),
        ("cut 2 beats", "a cut has no length"),
        ("crossfade 4 beats on bar 8", "only 'on phrase' takes"),
        ("crossfade 2 bars on phrase 5", "a phrase is 4, 8, 16 bars"),
        ("crossfade 0 beats", "1 to 64"),
    ]:
        with pytest.raises(ValueError, match=needle):
            parse_transition(bad)


def beats(n_frames: int, fps: float, bpm: float = 120.0):
    """Drives of a steady beat: phase 0 on each beat, confident, from t = 0."""
    for k in range(n_frames):
        t = k / fps
        yield Drive(time_s=t, beat_phase=(t * bpm / 60.0) % 1.0, tempo_bpm=bpm, confidence=1.0)


def test_go_waits_for_its_boundary_and_the_crossfade_is_half_way_at_its_middle():
    """120 BPM at 24 fps: 12 frames a beat. A go armed mid-bar fires on the next bar line; a
    4-beat crossfade is at 0.5 two beats later; a cue waits for the next phrase start."""
    library = {"a": Scene("a"), "b": Scene("b"), "c": Scene("c")}
    director = Director(library, "a", transition=parse_transition("crossfade 4 beats on bar"))
    states, positions = [], []
    for k, drive in enumerate(beats(24 * 40, 24.0)):
        if k == 30:  # bar 1 started at beat 1 (frame 12); frame 30 is in its second beat
            director.request("scene_next")
        if k == 200:
            director.request("scene_cue")
        states.append(director.step(drive))
        positions.append(director.position)
    begin = [k for k, s in enumerate(states) if s.begin]
    bar_lines = [k for k in range(1, len(positions)) if positions[k].bar != positions[k - 1].bar]
    first = begin[0]
    assert first in bar_lines and first > 30 and positions[first].bar == 2  # the next bar line, not sooner
    assert states[first].scene == "b" and states[first].begin[1].kind == "crossfade"
    assert states[first + 24].progress == pytest.approx(0.5, abs=1 / 12)  # two beats into four
    assert states[first + 48].progress == 1.0 and director.active is None
    cue_fired = begin[1]
    assert positions[cue_fired].bar == 9 and positions[cue_fired].beat_in_bar == 0  # phrases of 8 bars start at 1, 9, 17
    assert states[cue_fired].scene == "c" and director.cued is None


def test_auto_advance_every_two_bars_in_order_and_shuffled():
    library = {n: Scene(n) for n in "abcd"}
    ordered = Director(library, "a", transition=parse_transition("cut"), auto_bars=2)
    seen = [ordered.step(d).scene for d in beats(24 * 20, 24.0)]
    changes = [s for k, s in enumerate(seen) if k and s != seen[k - 1]]
    assert changes[:4] == ["b", "c", "d", "a"]
    runs = [Director(library, "a", transition=parse_transition("cut"), auto_bars=1, shuffle=True, seed=s) for s in (1, 1, 2)]
    paths = [[r.step(d).scene for d in beats(24 * 20, 24.0)] for r in runs]
    assert paths[0] == paths[1] and paths[0] != paths[2]  # shuffled, and the same for the same seed


def test_crossfade_in_the_engine_is_the_mean_of_the_two_scenes_at_its_middle(ctx):
    from live.draw.shaders import ShaderEngine

    def run(structure, mix=None):
        engine = ShaderEngine(48, 48, ctx=ctx)
        drive = Drive(time_s=1.0, level=0.8, bands=(0.6,) * 6)
        if mix is None:
            engine.begin(ShaderLook(), structure, "cut")
            return engine.frame(drive).astype(float)
        engine.begin(ShaderLook(), structure, "crossfade")
        engine.progress(mix)
        return engine.frame(drive).astype(float)

    a = run(Structure())
    b = run(Structure(generator="plasma"))
    half = run(Structure(generator="plasma"), mix=0.5)  # from classic (a, renewed by the cut) to plasma
    assert np.abs(a - b).mean() > 20
    # the outgoing layer here is a fresh classic layer (not renewed), so compare with its own picture
    engine = ShaderEngine(48, 48, ctx=ctx)
    outgoing = engine.frame(Drive(time_s=1.0, level=0.8, bands=(0.6,) * 6)).astype(float)
    assert np.abs(half - (outgoing + b) / 2).max() <= 1.5


def cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "live", *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def file_bars(wav) -> list[float]:
    """The bar lines `python -m live beats FILE --bars` prints: what a timeline's bar N means."""
    r = cli("beats", wav, "--bars", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["bars"]


def render_changes(wav, tmp_path, *flags, fps=24) -> list[tuple[int, str]]:
    stats = tmp_path / "stats.json"
    r = cli("render", wav, "-o", tmp_path / "out.mp4", "--engine", "shader", "--size", "32", "--fps", fps, "-q", "--stats-json", stats, *flags)
    assert r.returncode == 0, r.stderr
    return [tuple(c) for c in json.loads(stats.read_text())["scene_changes"]]


GROOVES = [(128.0, 4, 0.1), (90.0, 3, 0.3)]  # BPM, beats per bar, the first bar line (s): known bars


@pytest.mark.parametrize("bpm, metre, first_s", GROOVES)
def test_a_renders_cues_land_on_the_files_bars(audio_writer, tmp_path, bpm, metre, first_s):
    """A groove with known bars: `beats --bars` finds them, and a render's `bar N` cues and a time cue
    quantised to the next bar line change scene on the frame of those bars (within one frame),
    not on the causal clock's (the old code cut at the live clock's bar 4, a bar or more off)."""
    fps = 24
    x, truth = groove(bpm, 24.0, beats_per_bar=metre, first_s=first_s)
    wav = audio_writer(tmp_path / "groove.wav", x, SR, "pcm_s16le")
    bars = file_bars(wav)
    settled = [t for t in bars if t > 6.0]  # the tracker locks on within a few seconds
    assert len(settled) >= 5 and all(np.min(np.abs(truth - t)) < 0.05 for t in settled)  # the known bars
    timeline = tmp_path / "t.toml"
    timeline.write_text(
        '[[cue]]\nat = "bar 4"\nscene = "tunnel"\n'
        '[[cue]]\nat = "0:11.0"\nscene = "cells"\n'  # quantised to the next bar line (the default)
        '[[cue]]\nat = "bar 9"\nscene = "plasma"\ntransition = "crossfade 2 beats"\n'
    )
    changes = render_changes(wav, tmp_path, "--timeline", timeline, fps=fps)
    assert [name for _, name in changes] == ["classic", "tunnel", "cells", "plasma"]
    after_11 = min(t for t in bars if t >= 11.0)
    for (frame, _), t in zip(changes[1:], [bars[3], after_11, bars[8]], strict=True):
        assert abs(frame - t * fps) <= 1, (frame, t * fps, bars)


@pytest.mark.parametrize("every", [1, 2])
def test_auto_advance_offline_switches_on_every_nth_bar_line_of_the_file(audio_writer, tmp_path, every):
    """--auto-advance N: a switch at bars N + 1, 2N + 1, ... of the file (those `beats --bars`
    prints), each within a frame, and nowhere else (the old code switched on the causal clock's
    early guesses: a beat or two apart)."""
    fps = 24
    x, _ = groove(90.0, 24.0, beats_per_bar=3, first_s=0.3)
    wav = audio_writer(tmp_path / "groove.wav", x, SR, "pcm_s16le")
    bars = file_bars(wav)
    changes = render_changes(wav, tmp_path, "--auto-advance", every, "--transition", "cut", fps=fps)
    expected = [t * fps for i, t in enumerate(bars) if i and i % every == 0 and t * fps < 24.0 * fps - 1]
    frames = [frame for frame, _ in changes[1:]]
    assert len(frames) == len(expected) and all(abs(f - e) <= 1 for f, e in zip(frames, expected, strict=True)), (frames, expected)


def test_the_demo_timeline_lands_on_the_bars_beats_prints(tmp_path):
    """demo/timeline.toml: the 0:03 cue on bar 2's line, `bar 5` on bar 5's, 0:11.5 (on now) at 11.5 s."""
    bars = file_bars(DEMO)
    changes = render_changes(DEMO, tmp_path, "--timeline", ROOT / "demo" / "timeline.toml")
    frames = [frame for frame, _ in changes]
    assert [name for _, name in changes] == ["tunnel", "kaleido", "cells", "spectrum"]
    assert abs(frames[1] - bars[1] * 24) <= 1 and abs(frames[2] - bars[4] * 24) <= 1 and frames[3] == round(11.5 * 24)


def tracker_drives(n_beats: int, fps: float = 24.0, bpm: float = 120.0, *, guesses: int = 8, pickup: int = 2):
    """Drives as the live analysis gives them, over known bars: 4/4, the true bar lines on beats
    pickup + 1, pickup + 5, ... (beat 1 first). For the first `guesses` beats the bar tracker is
    unsure and calls every beat a downbeat (confidence 0.3, its bar count rising by one a beat, as on
    the demo's first seconds); from there it has the true count (confidence 0.9). Yields (drive, the
    true beat_in_bar of the frame's beat, the beat)."""
    period = 60.0 / bpm
    first = 0.5
    bar = 0
    for k in range(int((first + n_beats * period) * fps)):
        t = k / fps
        beat = int((t - first) // period) + 1 if t >= first else 0
        phase = ((t - first) / period) % 1.0 if t >= first else (t / first) * 0.99
        true_k = (beat - 1 - pickup) % 4
        if beat == 0:
            yield Drive(time_s=t, beat_phase=phase, tempo_bpm=bpm, confidence=1.0), None, 0
            continue
        unsure = beat <= guesses
        k_said = 0 if unsure else true_k
        bar = beat if unsure else guesses + 1 + (beat - 1 - pickup) // 4 - (guesses - 1 - pickup) // 4
        fields = dict(bar=bar, beat_in_bar=k_said, beats_per_bar=4, downbeat_confidence=0.3 if unsure else 0.9)
        yield Drive(time_s=t, beat_phase=phase, tempo_bpm=bpm, confidence=1.0, **fields), true_k, beat


@pytest.mark.parametrize("every", [1, 2])
def test_auto_advance_live_counts_the_clocks_bar_lines(every):
    """Live, auto-advance counts the bar clock's bar lines: while the tracker is unsure its guesses
    (a downbeat every beat) do not make bars, and once it is sure every switch is on a true bar
    line, N bars (4N beats) after the one before. The old clock took every guess for a bar line."""
    library = {n: Scene(n) for n in "abcdefghijklmnop"}
    director = Director(library, "a", transition=parse_transition("cut"), auto_bars=every)
    switches = []
    for drive, true_k, beat in tracker_drives(80):
        state = director.step(drive)
        if state.begin:
            switches.append((beat, true_k))
    assert len(switches) >= 80 // (4 * every) - 3
    gaps = [b - a for (a, _), (b, _) in zip(switches, switches[1:], strict=False)]
    assert min(gaps) >= 4 * every - 2  # never a beat or two apart, even while the tracker guesses
    locked = [(b, k) for b, k in switches if b > 12]
    assert all(k == 0 for _, k in locked)  # on the true bar lines once the tracker is sure
    assert all(b - a == 4 * every for (a, _), (b, _) in zip(locked, locked[1:], strict=False))


def test_the_file_clock_reads_the_files_bars_with_a_pickup():
    """Bars with a two-beat pickup: bar 0 until the first downbeat, bar lines one at a time, a
    continuous beat clock between the beats (and at the tempo after the last)."""
    bars = Bars(120.0, [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], [2, 3, 0, 1, 2, 3, 0], [4] * 7)
    clock = FileBarClock(bars)
    at = {t: clock.advance(Drive(time_s=t)) for t in (0.25, 0.5, 1.49, 1.5, 2.75, 3.5, 4.0)}
    assert (at[0.25].bar, at[0.25].beat) == (0, 0) and at[0.25].beat_pos == pytest.approx(0.5)
    assert (at[0.5].beat, at[0.5].bar, at[0.5].beat_in_bar) == (1, 0, 2)
    assert (at[1.49].bar, at[1.5].bar, at[1.5].beat_in_bar) == (0, 1, 0)
    assert at[2.75].beat_pos == pytest.approx(5.5) and at[2.75].bar == 1 and at[3.5].bar == 2
    assert at[4.0].beat_pos == pytest.approx(8.0)


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--transition", "cut"], "error: --transition 'cut': a render switches scenes only by --auto-advance N"),
        (["--scene", "cells", "--shuffle"], "error: --shuffle: a render switches scenes only by --auto-advance N"),
        (["--auto-advance", "0"], "error: --auto-advance 0: "),  # the flag's own check, or scene_director's below it
    ],
)
def test_a_render_refuses_scene_flags_it_would_ignore(tmp_path, flags, needle):
    """Nothing silently ignored: in a render --transition and --shuffle act only with --auto-advance
    (a timeline's cues carry their own transitions), and --auto-advance 0 is not "no scenes"."""
    out = tmp_path / "out.mp4"
    r = cli("render", DEMO, "-o", out, "--engine", "shader", "--size", "32", "-q", *flags)
    assert r.returncode == 2 and r.stderr.strip().startswith(needle) and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not list(tmp_path.iterdir())
