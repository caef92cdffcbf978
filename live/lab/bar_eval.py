"""How well the bar tracker (live/analysis/bars.py) finds the downbeats: `python -m live bench beats --bars`,
and how its cue weights were fitted.

The corpora are the beat bench's (live/lab/midi_corpus.py: the planetblupi songs, the mma grooves), plus
`waltzes`: mma's 3/4 styles that the bar model's fit leaves out. The MIDI gives the bar lines
(pretty_midi's downbeats, moved onto the notes' grid as the beats are). Each excerpt is tracked
causally with 1 s blocks, as `python -m live beats FILE --bars` runs it, and scored with mir_eval's
F-measure (70 ms), the first 5 s unscored, as the beats are:

    bar F      the causal downbeats (what the Drive shows live)
    offline F  bar_times()' downbeats: the same model smoothed with its backward pass
    metre      the beats per bar it settled on, against the MIDI's

The fit (`fit_weights`): the bar model's five cues at every tracked beat of mma grooves rendered by
live/lab/beat_train.py (style files none of the bench's grooves come from, waltzes held out), a
beat labelled downbeat or not by the MIDI; logistic regression by Newton's method.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from live.lab.midi_corpus import UNSCORED_S, corpus_midis, groove_midi, on_note_grid, reference_beats, render_song

# mma's 3/4 styles held out of the bar model's fit (live/lab/beat_train.py renders them among its
# examples; fit_weights skips them), each at a tempo typical of it
WALTZES = {"Waltz": 150, "JazzWaltz": 140, "CountryWaltz": 120, "RockWaltz": 130, "LatinWaltz": 120, "FrenchWaltz": 110}
# their style files, and vienesewaltz: a waltz its file writes in 4/4 (two bars a MIDI bar)
HELD_OUT_STYLES = {"waltz", "jazzwaltz", "countrywaltz", "rockwaltz", "latinwaltz", "frenchwaltz", "vienesewaltz"}
WALTZ_CHORDS = ("C", "Am", "F", "G7")


def reference_downbeats(midi: Path, until_s: float) -> np.ndarray:
    """pretty_midi's downbeats, on the grid the notes sit on, as the beats are (on_note_grid)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(midi))
    downbeats = on_note_grid(pm, pm.get_downbeats())
    return downbeats[downbeats < until_s]


def metre(midi: Path) -> int:
    import pretty_midi

    sigs = pretty_midi.PrettyMIDI(str(midi)).time_signature_changes
    if not sigs:
        return 4
    n = sigs[0].numerator
    return n // 3 if n % 3 == 0 and n > 3 else n  # compound metres: 6/8 has two beats, 12/8 four


def f_measure(reference: np.ndarray, estimate) -> float:
    import mir_eval

    ref = mir_eval.beat.trim_beats(np.asarray(reference, dtype=float), UNSCORED_S)
    est = mir_eval.beat.trim_beats(np.asarray(estimate, dtype=float), UNSCORED_S)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(mir_eval.beat.f_measure(ref, est, f_measure_threshold=0.07))


@dataclass(frozen=True)
class BarRow:
    song: str
    start_s: float
    beat_f: float
    bar_f: float  # causal downbeats
    offline_f: float  # bar_times()
    metre: int  # the MIDI's
    found: int  # the beats per bar the tracker held most of the excerpt


def corpus(name: str, names: list[str] | None, folder: Path, until_s: float) -> list[tuple[str, Path]]:
    if name != "waltzes":
        return corpus_midis(name, names, folder, until_s)
    chosen = names or list(WALTZES)
    return [(n, groove_midi(n, folder, until_s, bpm=WALTZES[n], chords=WALTZ_CHORDS, beats_per_bar=3)) for n in chosen]


def evaluate_bars(midis: list[tuple[str, Path]], starts: list[float], seconds: float, folder: Path) -> list[BarRow]:
    import pretty_midi

    from live.app.beats import bars_of_file

    rows = []
    for name, midi in midis:
        wav, _ = render_song(midi, folder, max(starts) + seconds)
        beats = reference_beats(pretty_midi.PrettyMIDI(str(midi)))
        downbeats = reference_downbeats(midi, max(starts) + seconds)
        for start in starts:
            ref_beats = beats[(beats >= start) & (beats < start + seconds)] - start
            ref_down = downbeats[(downbeats >= start) & (downbeats < start + seconds)] - start
            live = bars_of_file(wav, start_s=start, duration_s=seconds, causal=True)
            offline = bars_of_file(wav, start_s=start, duration_s=seconds)
            held = Counter(m for t, m in zip(live.beats_s, live.beats_per_bar, strict=True) if t > UNSCORED_S).most_common(1)
            rows.append(
                BarRow(
                    name,
                    start,
                    f_measure(ref_beats, live.beats_s),
                    f_measure(ref_down, live.downbeats_s),
                    f_measure(ref_down, offline.downbeats_s),
                    metre(midi),
                    held[0][0] if held else 0,
                )
            )
    return rows


def format_bar_table(rows: list[BarRow]) -> str:
    width = max(10, *(len(r.song) + 2 for r in rows))
    out = [f"{'song':<{width}}{'start s':>8}{'beat F':>8}{'bar F':>7}{'offline F':>11}{'metre':>7}{'found':>7}"]
    for r in rows:
        out.append(f"{r.song:<{width}}{r.start_s:>8g}{r.beat_f:>8.2f}{r.bar_f:>7.2f}{r.offline_f:>11.2f}{r.metre:>7}{r.found:>7}")
    right = sum(r.metre == r.found for r in rows)
    out.append(
        f"mean over {len(rows)} excerpts: beat F {np.mean([r.beat_f for r in rows]):.3f}, bar F {np.mean([r.bar_f for r in rows]):.3f},"
        f" offline bar F {np.mean([r.offline_f for r in rows]):.3f}; metre right in {right} of {len(rows)}"
    )
    return "\n".join(out)


# --- the fit -------------------------------------------------------------------------------------


def training_cues(folder: Path, seconds: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
    """(cues (N, 5) relative to their running means, labels (N,) 1 = downbeat) over every tracked
    beat that lands on a reference beat, in the examples beat_train rendered into folder."""
    from live.analysis.bars import BarTracker
    from live.analysis.clock import Analyzer
    from live.audio.decode import open_segment, stream
    from live.core.defaults import SAMPLE_RATE

    xs, ys = [], []
    for meta_path in sorted(folder.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        if meta["style"] in HELD_OUT_STYLES:
            continue
        midi = meta_path.with_name(meta_path.name.replace(".json", ".mid"))
        if metre(midi) not in (3, 4):  # the model knows 3/4 and 4/4 only (jazz-54 is 5/4)
            continue
        analyzer = Analyzer(SAMPLE_RATE)
        recorded: list[np.ndarray] = []
        bars = analyzer.bars

        def recording(a, b, bars=bars, ratio=bars._ratio, recorded=recorded):
            r = ratio(a, b)
            recorded.append(bars.last_relative.copy())
            return r

        analyzer.bars._ratio = recording
        for block in stream(open_segment(folder / meta["wav"]), sr=SAMPLE_RATE, channels=1, block_s=1.0):
            analyzer.push(block)
        assert isinstance(analyzer.bars, BarTracker)
        beats = np.array([p.time_s for p in analyzer.bars.history[: len(recorded)]])
        ref_beats = np.array(meta["beats"])
        ref_down = reference_downbeats(midi, seconds)
        for t, cue in zip(beats, recorded, strict=True):
            if t < UNSCORED_S or not len(ref_beats) or np.min(np.abs(ref_beats - t)) > 0.07:
                continue
            xs.append(np.clip(cue, -1.0, 3.0))
            ys.append(float(len(ref_down) > 0 and np.min(np.abs(ref_down - t)) <= 0.07))
    return np.array(xs), np.array(ys)


def fit_weights(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> tuple[np.ndarray, float]:
    """Logistic regression (Newton's method, a little L2): the weights and the log-likelihood
    ratio's constant (the fitted intercept less the corpus' log prior odds of a downbeat)."""
    a = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    w = np.zeros(a.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(a @ w)))
        grad = a.T @ (p - y) + l2 * np.r_[w[:-1], 0]
        hess = (a * (p * (1 - p))[:, None]).T @ a + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    prior = y.mean()
    return w[:-1], float(w[-1] - np.log(prior / (1 - prior)))
