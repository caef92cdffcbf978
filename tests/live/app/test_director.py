"""Transitions and quantised switches: the transition text, a crossfade at its midpoint, and a switch
that lands on a bar line of a click track in a real render."""

import json

import numpy as np
import pytest

from live.analysis.clock import Drive
from live.app.barclock import BarClock
from live.app.director import Director
from live.app.transition import parse_transition
from live.app.scenes import Scene, load_library
from live.draw.shaders import ShaderLook, Structure


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


def click_track(bpm: float, seconds: float, sr: int = 16_000) -> np.ndarray:
    """Clicks on every beat from t = 0, the first of each four accented."""
    x = np.zeros(int(seconds * sr), np.float32)
    n = int(0.02 * sr)
    click = np.sin(2 * np.pi * 1000 * np.arange(n) / sr) * np.exp(-np.arange(n) / (0.004 * sr))
    for i, t in enumerate(np.arange(0, seconds - 0.05, 60 / bpm)):
        a = int(t * sr)
        x[a : a + n] += (0.9 if i % 4 == 0 else 0.45) * click
    return x[:, None]


def test_a_quantised_switch_lands_on_a_bar_line_of_a_click_track(audio_writer, tmp_path):
    """120 BPM clicks; a cue at 6.0 s quantised to the bar (the default) starts on the first bar line
    after 6 s: within one frame of a click, and on the frame the bar clock starts a bar."""
    from live.analysis.clock import FeatureClock
    from live.app.render import render_shader
    from live.app.stats import write_stats
    from live.app.timeline import load_timeline

    fps, sr = 24, 16_000
    audio = click_track(120.0, 12.0, sr)
    wav = audio_writer(tmp_path / "clicks.wav", audio, sr, "pcm_s16le")
    timeline = tmp_path / "t.toml"
    timeline.write_text('[[cue]]\nat = "0:06.0"\nscene = "tunnel"\n')
    library = load_library()
    director = Director(library, "classic", cues=load_timeline(timeline, library, duration_s=12.0))
    result = render_shader(wav, tmp_path / "out.mp4", fps=fps, size=32, director=director, progress=False)
    write_stats(tmp_path / "stats.json", result)
    changes = json.loads((tmp_path / "stats.json").read_text())["scene_changes"]
    assert changes[0] == [0, "classic"] and changes[1][1] == "tunnel"
    k = changes[1][0]

    clock, bar_clock, bar_lines, last = FeatureClock(sr), BarClock(), [], 0  # the same analysis, frame by frame
    for j in range(12 * fps):
        pos = bar_clock.advance(clock.advance(audio[j * sr // fps : (j + 1) * sr // fps, 0], j / fps))
        if j and pos.bar != last:
            bar_lines.append(j)
        last = pos.bar
    assert k in bar_lines and k / fps >= 6.0 and k / fps < 6.0 + 2.0 + 1 / fps  # the first bar line after 6 s
    assert min(abs(k / fps - c) for c in np.arange(0, 12, 0.5)) <= 1 / fps  # on a click, within one frame
