"""The held-out beat corpus (live/lab/heldout_corpus.py) and `bench beats --split`: the dev and test
splits share no music source and no sound source, the test split's sounds are none the beat network
learned from, the excerpts are the same on every call, a rendered excerpt's reference beats sit on its
onsets, and the bench prints both splits side by side with the off-beat locks counted."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from live.lab import beat_eval, hard_corpus, heldout_corpus, midi_corpus

ROOT = Path(__file__).resolve().parents[3]


def test_splits_share_no_music_and_no_sound_source():
    dev, test = heldout_corpus.SOURCES["dev"], heldout_corpus.SOURCES["test"]
    assert not {s.composer for s in dev} & {s.composer for s in test}
    assert not {s.bank for s in heldout_corpus.SYNTHS["dev"]} & {s.bank for s in heldout_corpus.SYNTHS["test"]}
    assert not set(heldout_corpus.GROOVES["dev"]) & set(heldout_corpus.GROOVES["test"])
    # the test split's sounds are new to the beat network (it learned from these soundfonts)
    trained = {*hard_corpus.SOUNDFONTS, *midi_corpus.SOUNDFONTS}
    assert not {s.bank for s in heldout_corpus.SYNTHS["test"]} & trained
    for split in heldout_corpus.SPLITS:
        chosen = heldout_corpus.excerpts(split)
        assert {e.source for e in chosen} <= {s.name for s in heldout_corpus.SOURCES[split]}
        assert {e.synth for e in chosen} == set(heldout_corpus.SYNTHS[split])
        assert {e.groove for e in chosen} - {None} == set(heldout_corpus.GROOVES[split])
        assert {e.metre for e in chosen} == {"2/4", "3/4", "4/4", "6/8"}


def test_excerpts_are_the_same_on_every_call():
    assert heldout_corpus.excerpts("test") == heldout_corpus.excerpts("test")
    assert heldout_corpus.excerpts("dev") != heldout_corpus.excerpts("test")


def test_tempo_map_seconds():
    tempo = ((4, 120.0, 120.0), (4, 120.0, 60.0), (4, 60.0, 60.0))
    times = heldout_corpus.beat_times(tempo)
    assert np.allclose(times[:5], [0, 0.5, 1.0, 1.5, 2.0]) and np.isclose(times[-1] - times[-2], 1.0)
    assert np.isclose(heldout_corpus.seconds_of(tempo, np.array([1.5]))[0], 0.75)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    if (why := heldout_corpus.missing()) is not None:
        pytest.skip(why)
    return tmp_path_factory.mktemp("heldout")


def test_a_rendered_excerpt_has_its_beats_on_its_onsets(folder):
    """test00 is played by TiMidity++ through freepats (the second synth engine): the reference
    beats must sit on the audio's onsets there as well, from start to end (no drift)."""
    excerpt = heldout_corpus.excerpts("test")[0]
    assert excerpt.synth.engine == "timidity"
    wav, beats, meta = heldout_corpus.render(excerpt, folder, 0)
    assert meta["split"] == "test" and meta["source"] in {s.composer for s in heldout_corpus.SOURCES["test"]}
    assert beats[-1] < heldout_corpus.EXCERPT_S and np.all(np.diff(beats) > 0)
    first, second = hard_corpus.alignment(wav, beats)
    assert abs(first) < 0.03 and abs(second) < 0.03 and abs(second - first) < 0.01, (first, second)
    again = heldout_corpus.render(excerpt, folder, 0)  # cached: the same file and beats
    assert again[0] == wav and np.array_equal(again[1], beats)


def test_bench_split_prints_both_splits_side_by_side(folder):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "live", "bench", "beats", "--split", "both", "--songs", "dev00", "test00", "--no-librosa",
           "--keep", str(folder)]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.startswith("--- dev split") for line in lines) and any(line.startswith("--- test split") for line in lines)
    head = next(line for line in lines if line.startswith("| tracker"))
    assert head == "| tracker | causal? | dev F | dev AMLt | dev off-beat | test F | test AMLt | test off-beat | s per min | x ours |"
    ours = next(line for line in lines if line.startswith("| ours")).split(" | ")
    assert 0.0 <= float(ours[2]) <= 1.0 and ours[4].endswith("of 1") and ours[-1] == "1.0 |"


def test_an_unknown_excerpt_is_one_line():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "live", "bench", "beats", "--split", "test", "--songs", "nope", "--no-librosa"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert "no excerpt nope in --split test: choose among dev" not in r.stderr and "test00" in r.stderr


def test_offbeat_locks_and_the_split_table():
    s = beat_eval.Score
    locked, right, lost = s(0.0, 0.98, 0.5), s(0.95, 0.97, 0.01), s(0.2, 0.1, None)
    assert beat_eval.offbeat_locks([locked, right, lost, s(0.6, 0.9, -0.45), s(0.0, 0.6, -0.33), s(0.1, 0.0, 0.2)]) == 2

    def row(score, peer):
        return beat_eval.Row("x", 0.0, 120.0, 120.0, score, None, audio_s=30.0, seconds={"ours": 0.5, "madmom online": 5.0},
                             peers={"madmom online": peer})  # fmt: skip

    table = beat_eval.format_split_table({"dev": [row(right, right)], "test": [row(locked, right), row(right, right)]})
    ours, madmom = (line.split(" | ") for line in table.splitlines()[2:4])
    assert ours[2:8] == ["0.950", "0.970", "0 of 1", "0.475", "0.975", "1 of 2"]
    assert madmom[0] == "| madmom online" and madmom[7] == "0 of 2" and madmom[-1] == "10.0 |"
