"""The beat tracker where the music is hard (issue 19): a tempo ramp and tempo steps followed, 3/4 and
6/8, and the mean over the whole hard corpus (live/lab/hard_corpus.py: synthetic pieces written at
exact beats, rendered with fluidsynth through three soundfonts and seven GM kits). Each piece is
rendered once per session into a shared folder (a few seconds each)."""

import numpy as np
import pytest

from live.analysis.clock import Analyzer
from live.core.defaults import SAMPLE_RATE
from live.lab import beat_eval, hard_corpus


@pytest.fixture(scope="session")
def hard_renders(tmp_path_factory):
    pytest.importorskip("mido")
    if (why := hard_corpus.missing()) is not None:
        pytest.skip(why)
    return tmp_path_factory.mktemp("hard_corpus")


def piece(name: str) -> hard_corpus.Piece:
    return next(p for p in hard_corpus.PIECES if p.name == name)


def render(name: str, folder):
    p = piece(name)
    wav, beats = hard_corpus.render(p, folder)
    return p, wav, beats


def tempo_trace(wav) -> np.ndarray:
    """(t, the tracker's tempo at t) every 0.1 s of the file, as live: causal, in 0.1 s blocks."""
    from live.audio.decode import open_segment, stream

    analyzer, out, t = Analyzer(SAMPLE_RATE), [], 0.0
    for block in stream(open_segment(wav), sr=SAMPLE_RATE, channels=1, block_s=0.1):
        analyzer.push(block)
        t += len(block) / SAMPLE_RATE
        out.append((t, analyzer.beats.state(t).tempo_bpm))
    return np.array(out)


def tempo_error_after(name: str, folder, beats_after: int) -> tuple[np.ndarray, float]:
    """|tracked - true tempo| (BPM) from `beats_after` beats after the tempo first changes to 1 s
    before the music ends, and the drum onsets' drift between the halves (s)."""
    p, wav, _ = render(name, folder)
    times, bpms = hard_corpus.beat_times(p), p.beat_bpms()
    first_change = int(np.flatnonzero(np.abs(np.diff(bpms)) > 1e-9)[0]) + 1
    trace = tempo_trace(wav)
    true = bpms[np.clip(np.searchsorted(times, trace[:, 0], side="right") - 1, 0, len(bpms) - 1)]
    scored = (trace[:, 0] >= times[first_change + beats_after]) & (trace[:, 0] < times[-1] - 1.0)
    first_half, second_half = hard_corpus.alignment(wav, times[:-1])
    return np.abs(trace[scored, 1] - true[scored]), abs(first_half - second_half)


def test_reference_beats_are_exact_by_construction():
    """The beats are the tempo map's, not pretty_midi's: a ramp's beat intervals follow its BPM, a
    step changes them at once, and the render copy holds one tempo event only."""
    mido = pytest.importorskip("mido")
    p = piece("step98-126")
    np.testing.assert_allclose(np.diff(hard_corpus.beat_times(p))[[0, 23, 24, -1]], [60 / 98, 60 / 98, 60 / 126, 60 / 126])
    ramp = piece("ramp120-128").beat_bpms()
    assert ramp[15] == 120 and ramp[16 + 16] == 124 and ramp[-1] == 128
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        musical, flat = hard_corpus.write_midis(p, Path(folder), kit=0, seed=0)
        tempos = [m for m in mido.MidiFile(flat).tracks[0] if m.type == "set_tempo"]
        assert len(tempos) == 1 and len([m for m in mido.MidiFile(musical).tracks[0] if m.type == "set_tempo"]) == 72


def test_follows_a_tempo_ramp_within_1_bpm_after_four_beats(hard_renders):
    """120 -> 128 BPM over 32 beats: from four beats into the ramp on, within 1 BPM (measured: at most
    0.76; 0.91 with the grooves-only network shipped before; before issue 19's tracker 2.3, 55% of the
    time within)."""
    pytest.importorskip("librosa")
    error, drift = tempo_error_after("ramp120-128", hard_renders, 4)
    assert drift < 0.003  # the render does not drift: drum onsets sit as far from the beats in both halves
    assert len(error) > 200 and error.max() < 1.0, error.max()


@pytest.mark.parametrize("name", ["step98-126", "step138-112"])
def test_follows_a_tempo_step_within_eight_beats(hard_renders, name):
    """A step up (98 -> 126) and down (138 -> 112): eight beats after it, within 1 BPM and staying
    there (measured: at most 0.74 and 0.43; before issue 19's tracker, 37-42 BPM off for seconds)."""
    pytest.importorskip("librosa")
    error, drift = tempo_error_after(name, hard_renders, 8)
    assert drift < 0.003
    assert len(error) > 100 and error.max() < 1.0, error.max()


@pytest.mark.parametrize("name", ["step98-126", "step138-112", "step100-80"])
def test_the_beats_are_back_on_the_music_six_beats_after_a_step(hard_renders, name):
    """From the sixth beat after a tempo step, ten beats in a row within 70 ms of the music's. The
    tempo follows a step within a few beats; the phase used to lag, as the cumulative score kept its
    peaks at the old period (BeatConfig.relock_octaves re-runs it at the new one). Measured: back on
    from beat 4-5; without the re-run 100 -> 80 BPM missed beats 1-7."""
    from live.app.beats import track_file

    p, wav, _ = render(name, hard_renders)
    times, bpms = hard_corpus.beat_times(p), p.beat_bpms()
    step = int(np.flatnonzero(np.abs(np.diff(bpms)) > 1e-9)[0]) + 1
    beats = np.array(track_file(wav)[1])
    misses = [round(float(np.min(np.abs(beats - t))), 3) for t in times[step + 6 : step + 16]]
    assert max(misses) < 0.07, misses


def test_a_drumless_breakdown_keeps_the_tempo(hard_renders):
    """House at 124 BPM, 8 bars of held chords with no drums, then the drums again. The chords recur
    every bar, which fits 93 BPM (three beats a bar) as well as 124: the tempo's evidence is held at
    low periodicity (BeatConfig.hold_below) so the tracker keeps 124 through the breakdown. Measured:
    within 1.4 BPM, F 0.89 (0.96 with the grooves-only network shipped before: the phase drifts by up to
    a quarter of a beat over the held chords now); without the hold the tempo wanders to 85-97 BPM
    there and F is 0.77."""
    pytest.importorskip("mir_eval")
    p, wav, beats = render("breakdown124", hard_renders)
    trace = tempo_trace(wav)
    times = hard_corpus.beat_times(p)
    inside = (trace[:, 0] > times[5 * 4]) & (trace[:, 0] < times[13 * 4])  # the 8 drumless bars after 5 of drums
    off = np.abs(trace[inside, 1] - 124)
    assert inside.sum() > 100 and off.max() < 3, off.max()
    rows = beat_eval.evaluate_renders([("breakdown124", wav, beats)], [0.0], beat_eval.HARD_SECONDS, librosa=False, progress=False)
    assert rows[0].ours.f_measure >= 0.85, rows[0]


@pytest.mark.parametrize("name, f_min", [("waltz90", 0.9), ("sixeight100", 0.9)])
def test_triple_and_compound_metres(hard_renders, name, f_min):
    """A 3/4 waltz at 90 BPM and a 6/8 piece at 100 dotted quarters a minute: the beat found, on the
    beat (measured F 0.99 each; 0.95 with the grooves-only network)."""
    pytest.importorskip("mir_eval")
    _, wav, beats = render(name, hard_renders)
    rows = beat_eval.evaluate_renders([(name, wav, beats)], [0.0], beat_eval.HARD_SECONDS, librosa=False, progress=False)
    assert rows[0].ours.f_measure >= f_min, rows[0]
    assert abs(rows[0].ours_bpm - rows[0].reference_bpm) < 2  # the tempo of the beat, not of the bar or the eighths


def test_hard_corpus_means(hard_renders):
    """The whole hard corpus, each piece whole (first 5 s unscored). Measured: F 0.881, AMLt 0.904
    (madmom's online tracker on the same renders: 0.879, 0.856); with the grooves-only network 0.882 and
    0.902, before the breakdown hold and the step re-run 0.875 and 0.890, before issue 19's tracker
    0.802 and 0.867. Started 3 and 6 s in as well (66 excerpts), 0.877 / 0.905 (grooves-only network
    0.850 / 0.893): `bench beats --corpus hard --starts 0 3 6`."""
    pytest.importorskip("mir_eval")
    rows = beat_eval.evaluate_renders(hard_corpus.renders(hard_renders), [0.0], beat_eval.HARD_SECONDS, librosa=False, progress=False)
    print(beat_eval.format_table(rows))
    assert len(rows) == len(hard_corpus.PIECES)
    assert np.mean([r.ours.f_measure for r in rows]) >= 0.87
    assert np.mean([r.ours.amlt for r in rows]) >= 0.89


def test_an_abc_tunes_upbeat_is_measured_from_its_notes():
    """The tunes corpus's reference beats hang on the first bar line: an upbeat's length, read from
    the ABC (notes, rests, chords, tuplets; chord symbols, decorations and grace notes take no time)."""
    from live.lab.tunes_corpus import pickup_quarters

    def tune(metre: str, unit: str, body: str) -> str:
        return f"X:1\nT:t\nM:{metre}\nL:{unit}\nQ:1/4=120\nK:G\n%%MIDI program 1\n{body}\n"

    assert pickup_quarters(tune("6/8", "1/8", "|:A|DED F2A|")) == (0.5, 0.0)  # a jig's one-eighth upbeat
    assert pickup_quarters(tune("4/4", "1/8", "D2 |\\\nG2 B2 d2 B2|")) == (1.0, 0.0)  # continued on the next line
    assert pickup_quarters(tune("4/4", "1/4", '(e/2d/2)|"A"cA AE|')) == (1.0, 0.0)  # a slur is not a tuplet
    assert pickup_quarters(tune("4/4", "1/8", "|: (3GGG G2 (3GGG G>d|B>GB>d|")) == (0.0, 0.0)  # a whole bar: no upbeat
    assert pickup_quarters(tune("3/8", "1/16", "|: zF2 \\\n| A2 d2 |")) == (0.75, 0.25)  # a rest, then the note
    assert pickup_quarters(tune("C", "1/8", '"G"[GB]2 {a}!trill!B |')) == (1.5, 0.0)  # a chord of two notes is one length


@pytest.fixture(scope="session")
def tune_renders(tmp_path_factory):
    pytest.importorskip("mido")
    from live.lab import tunes_corpus

    if (why := tunes_corpus.missing()) is not None:
        pytest.skip(why)
    return tunes_corpus.renders(tmp_path_factory.mktemp("tunes"))


def test_real_tunes_reference_beats_sit_on_the_notes_and_the_corpus_mean(tune_renders):
    """14 real folk tunes (abcmidi's examples through abc2midi and fluidsynth). The reference beats
    land on the audio's onsets in both halves of every tune (no drift, the upbeat placed), and the
    tracker's mean over them (measured F 0.755, AMLt 0.724, with the grooves-only network 0.790 /
    0.777; madmom online 0.765 / 0.766, offline 0.769 / 0.780 on the same renders; started 0, 3 and 6 s
    in, ours 0.697 / 0.741 and 0.696 / 0.773 with the grooves-only network)."""
    pytest.importorskip("mir_eval")
    assert len(tune_renders) == 14
    for name, wav, beats in tune_renders:
        first, second = hard_corpus.alignment(wav, beats)
        assert 0.0 <= first <= 0.035 and abs(first - second) < 0.005, (name, first, second)  # onset detection's own lag
    rows = beat_eval.evaluate_renders(tune_renders, [0.0], beat_eval.HARD_SECONDS, librosa=False, progress=False)
    print(beat_eval.format_table(rows))
    # one tune flipping to another phase costs 0.05 F and 0.07 AMLt here (a 2/4 tune at double tempo
    # in some settings tried): the bars leave room for one, not for two
    assert np.mean([r.ours.f_measure for r in rows]) >= 0.72
    assert np.mean([r.ours.amlt for r in rows]) >= 0.68
