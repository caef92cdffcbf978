"""How good the beat tracker is on real music with known beats: `python -m live bench beats`.

The corpora: the songs and grooves (live/lab/midi_corpus.py: MIDI rendered with fluidsynth, so the
beat times are exact), the hard pieces (live/lab/hard_corpus.py) and the folk tunes
(live/lab/tunes_corpus.py).

Neither the songs nor the grooves are in the beat network's training data: live/lab/beat_train.py
renders mma grooves only from the style files that define none of the 24, and no song.

Each excerpt is tracked causally by the live tracker, exactly as `python -m live beats FILE --start S --duration D` runs it, and by
librosa's offline `beat_track` on the same audio. Both are scored with mir_eval against the MIDI's
beats (the first 5 s of an excerpt are not scored, mir_eval's convention):

    F      F-measure, 70 ms window: the issue's figure. A beat half a period off counts as a miss.
    AMLt   continuity at any metrical level (mir_eval): double or half tempo and the off-beat count
           as right. A high AMLt next to a low F means the tracker found the pulse but not the beat.
    phase  where our beats sit in the reference beat: 0 on the beat, 0.5 on the off-beat.

The same rendering and reference feed the test (tests/live/analysis/test_beats.py).
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from live.core.errors import PhospheneError
from live.core.progress import bar_output
from live.lab.midi_corpus import RENDER_SR, UNSCORED_S, corpus_midis, missing, render_song


@dataclass(frozen=True)
class Score:
    f_measure: float
    amlt: float
    phase: float | None  # median position of the estimate's beats in the reference's beat, -0.5..0.5


def score(reference: np.ndarray, estimate) -> Score:
    import mir_eval

    ref = mir_eval.beat.trim_beats(np.asarray(reference, dtype=float), UNSCORED_S)
    est = mir_eval.beat.trim_beats(np.asarray(estimate, dtype=float), UNSCORED_S)
    with warnings.catch_warnings():  # an empty estimate scores 0, with a warning we do not need
        warnings.simplefilter("ignore")
        f = mir_eval.beat.f_measure(ref, est, f_measure_threshold=0.07)
        amlt = mir_eval.beat.continuity(ref, est)[3]
    return Score(float(f), float(amlt), beat_phase(ref, est))


def beat_phase(reference: np.ndarray, estimate: np.ndarray) -> float | None:
    """Median position of each estimated beat within the reference beat interval it falls in, as a
    fraction of that interval wrapped to -0.5..0.5 (0: on the beat; +-0.5: the off-beat)."""
    inside = estimate[(estimate >= reference[0]) & (estimate < reference[-1])] if len(reference) >= 2 else []
    if len(inside) == 0:
        return None
    i = np.searchsorted(reference, inside, side="right") - 1
    position = (inside - reference[i]) / (reference[i + 1] - reference[i])
    return float(np.median((position + 0.5) % 1.0 - 0.5))


@dataclass(frozen=True)
class Row:
    song: str
    start_s: float
    reference_bpm: float
    ours_bpm: float  # nan: no steady beat found
    ours: Score
    librosa: Score | None
    audio_s: float = 0.0  # the excerpt's length
    seconds: dict = field(default_factory=dict)  # tracker -> compute seconds on the excerpt ("ours", "librosa", peers)
    peers: dict = field(default_factory=dict)  # peer tracker -> Score (with --peers: live/lab/beat_peers.py)


def corpus_renders(corpus: str, names: list[str] | None, folder: Path, until_s: float) -> list[tuple[str, Path, np.ndarray]]:
    """(name, WAV, reference beats in s) for a corpus, rendered into folder (reused when already there)."""
    if corpus == "hard":
        from live.lab import hard_corpus

        return hard_corpus.renders(folder, names)
    if corpus == "tunes":
        from live.lab import tunes_corpus

        return tunes_corpus.renders(folder, names)
    return [(name, *render_song(midi, folder, until_s)) for name, midi in corpus_midis(corpus, names, folder, until_s)]


def evaluate(
    midis: list[tuple[str, Path]], starts: list[float], seconds: float, folder: Path, *, librosa: bool = True, progress: bool = True
):
    """One Row per (MIDI, start), in that order. Renders into `folder` (reused when already there)."""
    until = max(starts) + seconds
    renders = [(name, *render_song(midi, folder, until)) for name, midi in midis]
    return evaluate_renders(renders, starts, seconds, librosa=librosa, progress=progress)


def evaluate_renders(
    renders: list[tuple[str, Path, np.ndarray]],
    starts: list[float],
    seconds: float,
    *,
    librosa: bool = True,
    progress: bool = True,
    peers: bool = False,
) -> list[Row]:
    """One Row per (render, start), in that order; with peers, the peer trackers too (one child process)."""
    import time

    import soundfile
    from tqdm import tqdm

    from live.app.beats import track_file

    rows, jobs = [], []
    bar = tqdm(total=len(renders) * len(starts), desc="beats", unit="excerpt", disable=not progress, **bar_output())
    with bar:  # closed on the way out, Ctrl-C included: no progress line after "interrupted:"
        for name, wav, beats in renders:
            length = soundfile.info(str(wav)).duration
            for start in starts:
                reference = beats[(beats >= start) & (beats < start + seconds)] - start
                t0 = time.process_time()
                tempo, est = track_file(wav, start_s=start, duration_s=seconds)
                spent = {"ours": time.process_time() - t0}
                offline = None
                if librosa:
                    t0 = time.process_time()
                    offline = librosa_beats(wav, start, seconds)
                    spent["librosa"] = time.process_time() - t0
                reference_bpm = 60.0 / float(np.median(np.diff(reference)))
                rows.append(
                    Row(
                        name,
                        start,
                        reference_bpm,
                        float("nan") if tempo is None else tempo,
                        score(reference, est),
                        None if offline is None else score(reference, offline),
                        audio_s=max(0.0, min(seconds, length - start)),
                        seconds=spent,
                    )
                )
                jobs.append((reference, {"wav": str(wav), "start_s": start, "seconds": seconds}))
                bar.update()
    if peers:
        from live.lab.beat_peers import run_peers

        answers = run_peers([job for _, job in jobs])
        for i, (row, (reference, _)) in enumerate(zip(rows, jobs, strict=True)):
            for tracker, results in answers.items():
                row.peers[tracker] = score(reference, results[i]["beats"])
                row.seconds[tracker] = results[i]["compute_s"]
    return rows


def librosa_beats(wav: Path, start_s: float, seconds: float) -> np.ndarray:
    import librosa

    y, sr = librosa.load(str(wav), sr=RENDER_SR, offset=start_s, duration=seconds)
    _, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    return beats


# --- `python -m live bench beats` -------------------------------------------------------------------


def add_bench_beats_args(bench_sub) -> None:
    p = bench_sub.add_parser(
        "beats",
        help="beat-tracker quality on real music with known beats (F-measure, against librosa)",
        description="Render MIDI with fluidsynth (Debian's planetblupi game songs, or mma's accompaniment grooves), "
        "track excerpts of each with the live (causal) beat tracker and with librosa's offline tracker, and score both "
        "against the MIDI's beats with mir_eval: F-measure (70 ms) and AMLt (any metrical level). Prints a row per "
        "excerpt and the means.",
    )
    p.add_argument(
        "--corpus",
        nargs="+",
        choices=["songs", "grooves", "hard", "tunes", "waltzes"],
        default=["songs"],
        help="songs: the ten planetblupi MIDI songs; grooves: 24 mma accompaniment styles; hard: 22 synthetic pieces with "
        "tempo ramps and steps, swing, 3/4, 6/8, 12/8, 5/4 and breakdowns (live/lab/hard_corpus.py: each scored whole, from "
        "0 s); tunes: 14 real folk tunes (abcmidi's ABC examples: jigs, reels, klezmer; 6/8, 3/8, 2/4, 4/4) through abc2midi "
        "(live/lab/tunes_corpus.py: scored whole); waltzes: six mma 3/4 styles (with --bars). Several: a table each (default: songs)",
    )
    p.add_argument(
        "--songs", nargs="+", default=None, metavar="NAME", help="members of the corpus: music000.mid ... or 50sRock ... (default: all)"
    )
    p.add_argument(
        "--starts",
        nargs="+",
        type=float,
        default=None,
        metavar="S",
        help="excerpt starts in seconds (default: 0 30 60 90, the hard and tunes corpora 0; the tests score 0)",
    )
    p.add_argument(
        "--seconds", type=float, default=None, help="excerpt length (default: 30, the hard and tunes corpora their whole pieces)"
    )
    p.add_argument(
        "--split",
        choices=["dev", "test", "both"],
        default=None,
        help="score the held-out corpus instead of --corpus (live/lab/heldout_corpus.py: music21 scores and off-beat grooves, "
        "split by music and sound source): dev is where settings may be chosen, test is never used to choose anything; "
        "both prints them side by side (F, AMLt, off-beat locks; with --peers, madmom's on the same files)",
    )
    p.add_argument("--no-librosa", action="store_true", help="skip librosa's offline tracker (the slow part)")
    p.add_argument(
        "--bars",
        action="store_true",
        help="score the downbeats instead (live/lab/bar_eval.py): the causal bar tracker's and bar_times()' offline ones",
    )
    p.add_argument(
        "--peers",
        action="store_true",
        help="run madmom (online and offline) and BeatNet (online) beside ours and librosa, in their own environment "
        "(scripts/install-peers.sh makes .venv-peers), and end with one table: F, AMLt and CPU seconds per minute of audio",
    )
    p.add_argument(
        "--keep", type=Path, default=None, metavar="DIR", help="render into DIR and keep the MIDI and WAVs (default: a temporary folder)"
    )


HARD_SECONDS = 60.0  # longer than any hard piece: each is scored whole


def bench_beats(args) -> int:
    if getattr(args, "split", None) is not None:
        return bench_split(args)
    corpora = list(dict.fromkeys(args.corpus))
    if "waltzes" in corpora and not args.bars:
        raise PhospheneError("--corpus waltzes is scored with --bars only (bench beats --bars --corpus waltzes)")
    if args.bars and (len(corpora) > 1 or {"hard", "tunes"} & set(corpora) or args.peers):
        raise PhospheneError("--bars scores one of songs, grooves or waltzes, without --peers")
    for corpus in corpora:
        if corpus == "hard":
            from live.lab.hard_corpus import missing as hard_missing

            why = hard_missing()
        elif corpus == "tunes":
            from live.lab.tunes_corpus import missing as tunes_missing

            why = tunes_missing()
        else:
            why = missing("grooves" if corpus == "waltzes" else corpus)
        if why is not None:
            raise PhospheneError(f"bench beats --corpus {corpus} {why}")
    for module in ("pretty_midi", "mir_eval", *(() if args.no_librosa or args.bars else ("librosa",))):
        try:
            __import__(module)
        except ImportError:
            raise PhospheneError(f"bench beats needs the Python package {module}: pip install -r requirements.txt") from None
    if args.peers:
        from live.lab.beat_peers import peers_python

        peers_python()  # says how to make the environment before anything is rendered
    if (args.seconds is not None and args.seconds <= UNSCORED_S + 1) or min(args.starts or [0.0]) < 0:
        raise PhospheneError(f"--seconds must exceed {UNSCORED_S + 1:g} (the first {UNSCORED_S:g} s are not scored) and --starts be >= 0")

    def run(corpus: str, folder: Path) -> list:
        hard = corpus in ("hard", "tunes")  # scored whole, from 0 s
        starts = args.starts or ([0.0] if hard else [0.0, 30.0, 60.0, 90.0])
        seconds = args.seconds or (HARD_SECONDS if hard else 30.0)
        if args.bars:
            from live.lab.bar_eval import corpus as bar_corpus
            from live.lab.bar_eval import evaluate_bars

            midis = bar_corpus(corpus, args.songs, folder, max(starts) + seconds)
            return evaluate_bars(midis, starts, seconds, folder)
        renders = corpus_renders(corpus, args.songs, folder, max(starts) + seconds)
        return evaluate_renders(renders, starts, seconds, librosa=not args.no_librosa, peers=args.peers)

    results = {}
    for corpus in corpora:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            rows = run(corpus, args.keep)
        else:
            with tempfile.TemporaryDirectory(prefix="phosphene-beats-") as folder:
                rows = run(corpus, Path(folder))
        results[corpus] = rows
        if len(corpora) > 1:
            print(f"--- {corpus}")
        if args.bars:
            from live.lab.bar_eval import format_bar_table

            print(format_bar_table(rows))
        else:
            print(format_table(rows))
    if args.peers:
        print()
        print(format_peer_table(results))
    return 0


def offbeat_locks(scores: list[Score]) -> int:
    """Excerpts locked off the beat: the beats a quarter of a period or more off (|phase| > 0.25: the
    "and", or in 6/8 the second or third eighth) and F under 0.5 (the pulse found, the beat missed:
    on stage, the picture pulses between the beats)."""
    return sum(1 for s in scores if s.phase is not None and abs(s.phase) > 0.25 and s.f_measure < 0.5)


def bench_split(args) -> int:
    """`bench beats --split dev|test|both`: the held-out corpus, a table per split, then one table of
    both splits side by side (ours, librosa unless --no-librosa, the peers with --peers)."""
    from live.lab import heldout_corpus

    if args.bars:
        raise PhospheneError("--split scores beats only (without --bars)")
    if (why := heldout_corpus.missing()) is not None:
        raise PhospheneError(f"bench beats --split {args.split} {why}")
    for module in ("mir_eval", *(() if args.no_librosa else ("librosa",))):
        try:
            __import__(module)
        except ImportError:
            raise PhospheneError(f"bench beats needs the Python package {module}: pip install -r requirements.txt") from None
    if args.peers:
        from live.lab.beat_peers import peers_python

        peers_python()
    splits = ["dev", "test"] if args.split == "both" else [args.split]
    if args.songs:  # names are per split: check them all before anything is rendered
        known = {e.name for sp in splits for e in heldout_corpus.excerpts(sp)}
        if unknown := [n for n in args.songs if n not in known]:
            raise PhospheneError(f"no excerpt {unknown[0]} in --split {args.split}: choose among {', '.join(sorted(known))}")
    seconds = args.seconds or heldout_corpus.EXCERPT_S
    starts = args.starts or [0.0]
    if seconds <= UNSCORED_S + 1 or min(starts) < 0:
        raise PhospheneError(f"--seconds must exceed {UNSCORED_S + 1:g} (the first {UNSCORED_S:g} s are not scored) and --starts be >= 0")

    def run(split: str, folder: Path) -> list[Row]:
        names = [n for n in args.songs if n.startswith(split)] if args.songs else None
        if args.songs and not names:
            return []
        renders = heldout_corpus.renders(split, folder, names)
        return evaluate_renders(renders, starts, seconds, librosa=not args.no_librosa, peers=args.peers)

    results = {}
    with tempfile.TemporaryDirectory(prefix="phosphene-heldout-") as tmp:
        folder = args.keep if args.keep is not None else Path(tmp)
        for split in splits:
            rows = run(split, folder)
            if not rows:
                continue
            results[split] = rows
            print(f"--- {split} split ({', '.join(s.name for s in heldout_corpus.SOURCES[split])}; "
                  f"{', '.join(s.name for s in heldout_corpus.SYNTHS[split])})")  # fmt: skip
            print(format_table(rows))
    print()
    print(format_split_table(results))
    return 0


def format_split_table(results: dict[str, list[Row]]) -> str:
    """One line per tracker: mean F, AMLt and off-beat locks on each split, CPU seconds per minute of
    audio over all, and how much cheaper ours is (its cost over theirs)."""
    from live.lab.beat_peers import CAUSAL

    ran_librosa = any(r.librosa is not None for rows in results.values() for r in rows)
    peers = dict.fromkeys(t for rows in results.values() for r in rows for t in r.peers)
    trackers = ["ours", *(["librosa"] if ran_librosa else []), *peers]
    head = "| tracker | causal? | " + " | ".join(f"{c} F | {c} AMLt | {c} off-beat" for c in results) + " | s per min | x ours |"
    out = [head, "|---|---|" + "---:|---:|---:|" * len(results) + "---:|---:|"]
    cost = {}
    for t in trackers:
        cells, spent, audio = [], 0.0, 0.0
        for rows in results.values():
            scores = [r.ours if t == "ours" else r.librosa if t == "librosa" else r.peers.get(t) for r in rows]
            if any(s is None for s in scores):
                cells += ["-", "-", "-"]
                continue
            f, amlt = np.mean([s.f_measure for s in scores]), np.mean([s.amlt for s in scores])
            cells += [f"{f:.3f}", f"{amlt:.3f}", f"{offbeat_locks(scores)} of {len(scores)}"]
            spent += sum(r.seconds.get(t, 0.0) for r in rows)
            audio += sum(r.audio_s for r in rows)
        cost[t] = 60 * spent / audio if audio else float("nan")
        ratio = f"{cost[t] / cost['ours']:.1f}" if cost.get("ours") else "-"
        out.append(f"| {t} | {'yes' if CAUSAL.get(t) else 'no'} | " + " | ".join(cells) + f" | {cost[t]:.2f} | {ratio} |")
    return "\n".join(out)


def format_peer_table(results: dict[str, list[Row]]) -> str:
    """One line per tracker: mean F and AMLt on each corpus, and CPU seconds per minute of audio over all."""
    from live.lab.beat_peers import CAUSAL

    ran_librosa = any(r.librosa is not None for rows in results.values() for r in rows)  # not with --no-librosa: no row of dashes
    peers = dict.fromkeys(t for rows in results.values() for r in rows for t in r.peers)
    trackers = ["ours", *(["librosa"] if ran_librosa else []), *peers]
    head = "| tracker | causal? | " + " | ".join(f"{c} F | {c} AMLt" for c in results) + " | s per min |"
    out = [head, "|---|---|" + "---:|---:|" * len(results) + "---:|"]
    for t in trackers:
        cells, spent, audio = [], 0.0, 0.0
        for rows in results.values():
            scores = [r.ours if t == "ours" else r.librosa if t == "librosa" else r.peers.get(t) for r in rows]
            if any(s is None for s in scores):
                cells += ["-", "-"]
                continue
            cells += [f"{np.mean([s.f_measure for s in scores]):.3f}", f"{np.mean([s.amlt for s in scores]):.3f}"]
            spent += sum(r.seconds.get(t, 0.0) for r in rows)
            audio += sum(r.audio_s for r in rows)
        per_min = f"{60 * spent / audio:.2f}" if audio else "-"
        out.append(f"| {t} | {'yes' if CAUSAL.get(t) else 'no'} | " + " | ".join(cells) + f" | {per_min} |")
    return "\n".join(out)


def format_table(rows: list[Row]) -> str:
    def phase(s: Score) -> str:
        return "-" if s.phase is None else f"{s.phase:+.2f}"

    width = max(10, *(len(r.song) + 2 for r in rows))
    peers = list(dict.fromkeys(t for r in rows for t in r.peers))  # with --peers: their F, abbreviated
    head = f"{'song':<{width}}{'start s':>8}{'ref BPM':>9}{'our BPM':>9}{'our F':>7}{'AMLt':>6}{'phase':>7}{'librosa F':>11}{'AMLt':>6}"
    out = [head + "".join(f"{_short(t) + ' F':>11}" for t in peers)]
    for r in rows:
        lib = f"{r.librosa.f_measure:>11.2f}{r.librosa.amlt:>6.2f}" if r.librosa else f"{'-':>11}{'-':>6}"
        theirs = "".join(f"{r.peers[t].f_measure:>11.2f}" if t in r.peers else f"{'-':>11}" for t in peers)
        out.append(
            f"{r.song:<{width}}{r.start_s:>8g}{r.reference_bpm:>9.1f}{r.ours_bpm:>9.1f}{r.ours.f_measure:>7.2f}{r.ours.amlt:>6.2f}{phase(r.ours):>7}{lib}{theirs}"
        )
    ours = np.mean([r.ours.f_measure for r in rows])
    line = f"mean over {len(rows)} excerpts: ours F {ours:.3f} (AMLt {np.mean([r.ours.amlt for r in rows]):.3f})"
    if all(r.librosa for r in rows):
        theirs = np.mean([r.librosa.f_measure for r in rows])
        line += (
            f", librosa F {theirs:.3f} (AMLt {np.mean([r.librosa.amlt for r in rows]):.3f}); ours / librosa {ours / max(theirs, 1e-9):.2f}"
        )
    out.append(line)
    off = [r for r in rows if r.ours.phase is not None and abs(r.ours.phase) > 0.35]
    if off:
        out.append(f"excerpts where our beats sit on the off-beat (|phase| > 0.35): {len(off)} of {len(rows)}")
    return "\n".join(out)


def _short(tracker: str) -> str:
    """ "madmom online" -> "mm on", "BeatNet online" -> "BN on": a column head."""
    name, _, mode = tracker.partition(" ")
    return {"madmom": "mm", "BeatNet": "BN"}.get(name, name[:6]) + (f" {mode[:3]}" if mode else "")
