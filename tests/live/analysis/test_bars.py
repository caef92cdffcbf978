"""The bar tracker (live/analysis/bars.py) on real rendered music with known bar lines: an mma rock
groove (4/4) and a waltz (3/4, a style the cue weights were not fitted on), rendered with fluidsynth
(live/lab/midi_corpus.py, live/lab/bar_eval.py); streaming in any block size gives the same bars and
the past does not depend on the future; "this is the one" holds the count; the Drive carries the
bar; `python -m live beats FILE --bars`. The whole grooves corpus is scored in test_beats.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from live.analysis.clock import Analyzer, FeatureClock, bar_times
from live.core.defaults import SAMPLE_RATE
from live.lab import bar_eval, midi_corpus

ROOT = Path(__file__).resolve().parents[3]
SECONDS = 20.0


@pytest.fixture(scope="module")
def grooves(tmp_path_factory):
    """{name: (16 kHz samples, reference downbeats, wav)} for a 4/4 groove and a 3/4 waltz."""
    pytest.importorskip("pretty_midi")
    pytest.importorskip("mir_eval")
    if (why := midi_corpus.missing("grooves")) is not None:
        pytest.skip(why)
    from live.audio.decode import open_segment, stream

    folder = tmp_path_factory.mktemp("bar_grooves")
    out = {}
    for name, midi in bar_eval.corpus("grooves", ["BasicRock"], folder, SECONDS) + bar_eval.corpus("waltzes", ["Waltz"], folder, SECONDS):
        wav, _ = midi_corpus.render_song(midi, folder, SECONDS)
        x = np.concatenate(list(stream(open_segment(wav), sr=SAMPLE_RATE, channels=1)))[:, 0]
        out[name] = (x, bar_eval.reference_downbeats(midi, SECONDS), wav)
    return out


def test_downbeats_and_metre_of_a_groove_and_a_waltz(grooves):
    """Measured (TimGM6mb): BasicRock causal F 1.00, offline 1.00; Waltz 1.00, 1.00; metres 4 and 3."""
    for name, metre in (("BasicRock", 4), ("Waltz", 3)):
        x, reference, _ = grooves[name]
        live, offline = bar_times(x, SAMPLE_RATE, causal=True), bar_times(x, SAMPLE_RATE)
        inside = [t for t in live.downbeats_s if t < SECONDS]  # the render rings on past the MIDI's last bar
        assert bar_eval.f_measure(reference, inside) >= 0.9, name
        assert bar_eval.f_measure(reference, [t for t in offline.downbeats_s if t < SECONDS]) >= 0.9, name
        settled = [m for t, m in zip(live.beats_s, live.beats_per_bar, strict=True) if 8.0 < t < SECONDS]  # not the ring-out
        assert settled and all(m == metre for m in settled), (name, settled)
        assert offline.beats_s == live.beats_s  # the same beats, placed with hindsight
        assert live.phrases_s(4) == live.downbeats_s[::4]


def test_any_block_size_gives_the_same_bars_and_the_past_ignores_the_future(grooves):
    x = grooves["BasicRock"][0][: 12 * SAMPLE_RATE]
    cut = 8 * SAMPLE_RATE
    other = x.copy()
    other[cut:] = np.random.default_rng(3).standard_normal(len(x) - cut) * 0.3

    def places(signal, block):
        a = Analyzer(SAMPLE_RATE)
        for i in range(0, len(signal), block):
            a.push(signal[i : i + block])
        return [(round(p.time_s, 6), p.beat_in_bar, p.beats_per_bar, p.bar, round(p.confidence, 4)) for p in a.bars.history]

    whole = places(x, len(x))
    assert len(whole) > 10 and {p[1] for p in whole} == {0, 1, 2, 3}
    assert places(x, 160) == whole
    assert places(x, 777) == whole
    changed = places(other, SAMPLE_RATE)
    before = [p for p in whole if p[0] < cut / SAMPLE_RATE - 0.05]
    assert changed[: len(before)] == before


def test_this_is_the_one_holds_the_count_until_released(grooves):
    x = grooves["BasicRock"][0]
    a = Analyzer(SAMPLE_RATE)
    a.push(x[: 10 * SAMPLE_RATE])
    bars = a.bars
    model = bars.places[-1].beat_in_bar
    bars.set_downbeat(ahead=False)  # the newest beat is the one
    assert bars.places[-1].beat_in_bar == 0 and bars.places[-1].confidence == 1.0
    n = len(bars.history)
    a.push(x[10 * SAMPLE_RATE : 16 * SAMPLE_RATE])
    held = [p.beat_in_bar for p in bars.history[n:]]
    assert len(held) >= 8 and held == [(k + 1) % 4 for k in range(len(held))]  # counted on from the one
    beat = a.beats.state(16.0)
    assert a.bar_state(16.0, beat).set_by_hand and a.bar_state(16.0, beat).confidence == 1.0
    bars.set_downbeat(ahead=True)  # the beat due next is the one: the newest is the bar's last
    assert bars.places[-1].beat_in_bar == 3
    bars.release()
    a.push(x[16 * SAMPLE_RATE :])
    assert not a.bar_state(SECONDS, a.beats.state(SECONDS)).set_by_hand
    assert model in range(4)


def test_the_drive_carries_the_bar(grooves):
    """FeatureClock at 24 fps over the waltz: a bar of three beats, its phase rising across it."""
    x = grooves["Waltz"][0]
    clock = FeatureClock(SAMPLE_RATE)
    hop = SAMPLE_RATE // 24
    drives = [clock.advance(x[i : i + hop], (i + hop) / SAMPLE_RATE) for i in range(0, len(x) - hop + 1, hop)]
    late = [d for d in drives if 10.0 < d.time_s < SECONDS]  # the music: the render rings on past its last bar
    assert all(d.beats_per_bar == 3 and 0 <= d.beat_in_bar < 3 and 0.0 <= d.bar_phase <= 1.0 for d in late)
    assert all(abs(d.bar_phase - (d.beat_in_bar + d.beat_phase) / 3) < 1e-6 for d in late)
    assert late[-1].bar - late[0].bar >= 3 and late[-1].downbeat_confidence > 0.5
    assert {d.beat_in_bar for d in late} == {0, 1, 2}


def test_beats_bars_command(grooves):
    wav = grooves["BasicRock"][2]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def beats(*args):
        cmd = [sys.executable, "-m", "live", "beats", str(wav), "--bars", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)

    r = beats("--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"tempo", "bars", "beats_per_bar", "phrases"} and abs(out["tempo"] - 120.0) < 2.0
    assert len(out["bars"]) >= 8 and set(out["beats_per_bar"]) == {4}
    music = [t for t in out["bars"] if t < SECONDS]  # the render rings on past the MIDI's last bar
    assert np.allclose(np.diff(music), 2.0, atol=0.05), music  # 4/4 at 120 BPM: a bar every 2 s, from the first
    assert out["phrases"]["4"] == out["bars"][::4] and out["phrases"]["16"] == out["bars"][::16]
    text = beats().stdout.splitlines()
    assert text[0].startswith("tempo: 120") and "4/4" in text[0]
    assert text[2].split()[0] == "1" and text[2].endswith("16-bar 8-bar 4-bar") and text[6].endswith("4-bar")
