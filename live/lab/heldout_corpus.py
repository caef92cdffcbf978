"""The held-out beat corpus, split by source: `python -m live bench beats --split dev|test|both`.

Two splits that share no music source and no sound source (issue 32):

    dev    music21's corpus: Ryan's Mammoth Collection (American fiddle tunes, one per file), the
           Essen folksong collection (German songs) and Bach's chorales; grooves of the DEV_GROOVES families; rendered by fluidsynth through
           TimGM6mb and FluidR3_GM. Tuning is allowed here: settings are chosen on this split.
    test   music21's corpus: O'Neill's 1850 (Irish tunes), Aird's Airs (Scottish tunes) and Haydn's
           quartets; grooves of the TEST_GROOVES families; rendered by
           TiMidity++ through freepats and by fluidsynth through the OPL-3 FM soundfont. Nothing is
           ever chosen on this split: it only says whether a change works.

The beat network (live/analysis/beat_net.npz) learned from TimGM6mb, FluidR3_GM and sf_GMbank: the
test split's two sound sources are new to it, as are all of its music sources.

Each excerpt is a score from music21 (its notes in quarter lengths, its time signature, its bar line
under a pick-up) placed on a tempo map of ours (steady, a ramp or a step), looped to EXCERPT_S, and for
the tunes an accompaniment from the split's groove families, several of them off the beat by design
(kicks and bass on the "and", off-beat chords as loud as the beat, syncopated kicks that skip beats).
Metres: 2/4, 3/4, 4/4 and 6/8 (the beat of 6/8 is the dotted quarter). The reference beats come from
the tempo map (exact by construction); the render is a MIDI file at one tempo with each note at its
second, as live/lab/hard_corpus.py does it (fluidsynth drifts on many tempo events).

Notes carry a small metrical accent (downbeat +12, beat +6 velocity): a score has no dynamics, a
player accents the bar. Everything is deterministic: the choice of tunes, tempi and grooves is seeded
by split and slot, and renders are cached in the folder given (a second call reuses them).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from live.core.errors import PhospheneError

SPLITS = ("dev", "test")
RENDER_SR = 22_050
RENDER_BPM = 120.0
TICKS = 960
EXCERPT_S = 36.0  # each excerpt's length: scored from 5 s (mir_eval), so 31 s of beats
PER_SPLIT = 20  # excerpts in each split
METRES = {"4/4": (4, 2), "2/4": (2, 2), "3/4": (3, 2), "6/8": (2, 3)}  # beats per bar, subdivisions per beat
BPM_RANGE = {"4/4": (80, 140), "2/4": (88, 140), "3/4": (88, 180), "6/8": (60, 118)}  # of the beat (6/8: dotted quarters)


@dataclass(frozen=True)
class Synth:
    engine: str  # fluidsynth | timidity
    bank: Path  # a soundfont (fluidsynth) or a timidity config

    @property
    def name(self) -> str:
        return f"{self.engine}:{self.bank.stem}"


@dataclass(frozen=True)
class MusicSource:
    name: str
    composer: str  # music21.corpus.getComposer's key: a folder of music21's corpus
    tunes: bool  # a melody alone (an accompaniment is added) or a whole score (played as it is)


SOURCES = {
    "dev": (
        MusicSource("ryansMammoth", "ryansMammoth", True),
        MusicSource("essenFolksong", "essenFolksong", True),
        MusicSource("bach", "bach", False),
    ),
    "test": (
        MusicSource("oneills1850", "oneills1850", True),
        MusicSource("airdsAirs", "airdsAirs", True),
        MusicSource("haydn", "haydn", False),
    ),
}
SYNTHS = {
    "dev": (Synth("fluidsynth", Path("/usr/share/sounds/sf2/TimGM6mb.sf2")), Synth("fluidsynth", Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"))),
    "test": (Synth("timidity", Path("/etc/timidity/freepats.cfg")), Synth("fluidsynth", Path("/usr/share/sounds/sf2/OPL-3_FM_128M.sf2"))),
}  # fmt: skip
PACKAGES = "fluidsynth timgm6mb-soundfont fluid-soundfont-gm opl3-soundfont timidity freepats"
MELODY_PROGRAMS = {"dev": (40, 73, 0, 21), "test": (24, 56, 6, 68)}  # violin flute piano accordion | guitar trumpet harpsichord oboe
KICK, SNARE, CLOSED_HAT, OPEN_HAT, RIM, CLAP, RIDE = 36, 38, 42, 46, 37, 39, 51

# Groove families: per bar, (voice, beat, subdivision, velocity); voice a drum key, "bass" or "chord".
# n beats per bar, sub subdivisions per beat; `off` is the off-beat's subdivision (the "and"; in 6/8
# the third eighth). Off-beat by design: the loudest sound of the bar is not on the beat.


def _off(sub: int) -> int:
    return sub // 2 if sub == 2 else 2


DEV_GROOVES = {
    "backbeat": lambda n, sub: [(KICK, 0, 0, 110), *((SNARE, b, 0, 100) for b in range(1, n, 2)), *((KICK, b, 0, 95) for b in range(2, n, 2)),
                                *((CLOSED_HAT, b, s, 70 if s == 0 else 55) for b in range(n) for s in range(sub)),
                                ("bass", 0, 0, 100), ("chord", 0, 0, 70)],
    "offbeat-bass": lambda n, sub: [(KICK, 0, 0, 90), *((CLOSED_HAT, b, 0, 50) for b in range(n)),
                                    *(("bass", b, _off(sub), 112) for b in range(n)), *(("chord", b, 0, 60) for b in range(n))],
    "skank": lambda n, sub: [("bass", 0, 0, 95), *((RIM, b, 0, 70) for b in range(1, n, 2)),
                             *(("chord", b, _off(sub), 115) for b in range(n))],
    "syncopated": lambda n, sub: [(KICK, 0, 0, 112), (KICK, 1, _off(sub), 105), *((KICK, n - 1, _off(sub), 100) for _ in (0,) if n > 2),
                                  *((SNARE, b, 0, 95) for b in range(1, n, 2)), *((CLOSED_HAT, b, s, 60) for b in range(n) for s in range(sub)),
                                  ("bass", 0, 0, 100), ("bass", 1, _off(sub), 100), ("chord", 0, 0, 70)],
}  # fmt: skip
TEST_GROOVES = {
    "oompah": lambda n, sub: [("bass", 0, 0, 105), *(("chord", b, 0, 80) for b in range(1, n)), *((KICK, b, 0, 85) for b in range(0, n, 2))],
    "house-and": lambda n, sub: [*((KICK, b, _off(sub), 115) for b in range(n)), *((CLOSED_HAT, b, 0, 75) for b in range(n)),
                                 *(("bass", b, _off(sub), 100) for b in range(n)), ("chord", 0, 0, 65)],
    "offchords": lambda n, sub: [*(("bass", b, 0, 80) for b in range(n)), *(("chord", b, 0, 80) for b in range(n)),
                                 *(("chord", b, _off(sub), 110) for b in range(n)), *((OPEN_HAT, b, _off(sub), 70) for b in range(n))],
    "skip-kick": lambda n, sub: [(KICK, 0, 0, 110), (KICK, 0, _off(sub), 95), *((KICK, 2, _off(sub), 100) for _ in (0,) if n > 2),
                                 *((CLAP, b, 0, 95) for b in range(1, n, 2)), *((RIDE, b, _off(sub), 80) for b in range(n)),
                                 ("bass", 0, 0, 100), ("bass", n - 1, _off(sub), 100), ("chord", 0, _off(sub), 80)],
}  # fmt: skip
GROOVES = {"dev": DEV_GROOVES, "test": TEST_GROOVES}
PROGRESSIONS = {"dev": ((0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)), "test": ((0, 4, 7), (9, 12, 16), (2, 5, 9), (7, 11, 14))}
# I IV V I | I vi ii V: the chord changes on each downbeat (harmony moves on beats far more than off them)


@dataclass(frozen=True)
class Excerpt:
    name: str
    split: str
    source: str  # MusicSource.name
    work: str  # the corpus path (and tune number in a collection)
    metre: str
    groove: str | None
    tempo: tuple[tuple[int, float, float], ...]  # (beats, BPM at the first, BPM after the last): linear in beats
    synth: Synth


def missing() -> str | None:
    """What this machine lacks to render the held-out corpus, as the fix; None when nothing."""
    try:
        import music21  # noqa: F401
    except ImportError:
        return "needs the Python package music21: pip install -r requirements.txt"
    if not shutil.which("fluidsynth") or not shutil.which("timidity") or not all(s.bank.exists() for v in SYNTHS.values() for s in v):
        return f"needs Debian {PACKAGES}: apt-get install {PACKAGES}"
    return None


# --- choosing the excerpts (deterministic) ---------------------------------------------------------


def _tempo_map(rng: random.Random, metre: str, shape: str) -> tuple[tuple[int, float, float], ...]:
    n = METRES[metre][0]
    lo, hi = BPM_RANGE[metre]
    a = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    first = n * rng.randint(4, 7)
    if shape == "ramp":
        b = a * rng.choice((0.9, 1.1))
        return (first, a, a), (n * 8, a, b), (400, b, b)
    if shape == "step":
        b = min(a * rng.choice((0.8, 1.2)), 196.0)  # the trackers' range ends at 200 BPM
        return (first, a, a), (400, b, b)
    return ((400, a, a),)


def _candidates(source: MusicSource) -> list[str]:
    from music21 import corpus

    root = Path(corpus.getComposer(source.composer)[0]).parents[0]
    while root.name != source.composer:
        root = root.parent
    paths = sorted(str(Path(p).relative_to(root.parent)) for p in corpus.getComposer(source.composer))
    if source.composer == "bach":
        paths = [p for p in paths if Path(p).suffix == ".mxl"]
    if source.composer == "haydn":
        paths = [p for p in paths if Path(p).suffix == ".mxl"]
    return paths


def _slot_plan(split: str) -> list[tuple[str, str | None, str]]:
    """(metre, groove or None, tempo shape) for each slot: every metre, groove family and shape is
    met, crossed in cycles of different lengths."""
    metres = ("4/4", "6/8", "3/4", "2/4", "6/8", "3/4", "4/4")
    grooves = (*GROOVES[split], None)
    shapes = ("steady", "steady", "ramp", "steady", "step")
    return [(metres[i % len(metres)], grooves[i % len(grooves)], shapes[i % len(shapes)]) for i in range(PER_SPLIT)]


def excerpts(split: str) -> list[Excerpt]:
    """The split's excerpts, chosen by a fixed seed: the same on every machine. The tunes sources give
    the slots with a groove (and some without), the whole scores some of those without: a score
    whose metre fits the slot is taken, else a tune."""
    if split not in SPLITS:
        raise PhospheneError(f"no split {split}: choose dev or test")
    rng = random.Random(f"heldout-{split}")
    tunes = [s for s in SOURCES[split] if s.tunes]
    scores = [s for s in SOURCES[split] if not s.tunes]
    out = []
    for i, (metre, groove, shape) in enumerate(_slot_plan(split)):
        use_score = groove is None and i % 2 == 0 and scores
        source = scores[(i // 2) % len(scores)] if use_score else tunes[i % len(tunes)]
        synth = SYNTHS[split][i % len(SYNTHS[split])]
        tempo = _tempo_map(rng, metre, shape)
        out.append(Excerpt(f"{split}{i:02d}", split, source.name, "", metre, None if use_score else groove, tempo, synth))
    return out


# --- reading a score -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notes:
    metre: str
    pitches: np.ndarray  # (N,) MIDI keys
    starts: np.ndarray  # (N,) beats from the first bar line
    lengths: np.ndarray  # (N,) beats
    beats: float  # the work's length in beats, whole bars
    tonic: int  # pitch class


def _score_notes(score, metre: str) -> Notes | None:
    """The notes of a music21 score in beats from its first bar line (a pick-up bar's missing beats
    counted), or None when its metre is not `metre` throughout or it has no notes."""
    from music21 import meter

    sigs = list(score.recurse().getElementsByClass(meter.TimeSignature))
    if not sigs or sigs[0].ratioString != metre:
        return None
    sig = sigs[0]
    # the music up to the first change of metre (abc's odd short bars read as 1/32 and the like)
    until = min((float(s.getOffsetInHierarchy(score)) for s in sigs[1:] if s.ratioString != metre), default=float("inf"))
    beat_ql, n = float(sig.beatDuration.quarterLength), METRES[metre][0]
    bar_ql = beat_ql * n
    part = score.parts[0] if score.parts else score
    measures = list(part.getElementsByClass("Measure"))
    if not measures:
        return None
    first = float(measures[0].duration.quarterLength)
    origin = -(bar_ql - first) if 0 < first < bar_ql - 1e-6 else 0.0  # a pick-up: the bar line sits before the music
    pitches, starts, lengths = [], [], []
    for el in score.stripTies().flatten().notes:
        ql = float(el.duration.quarterLength)
        if ql <= 0 or float(el.offset) >= until:  # grace notes; past a change of metre
            continue
        for p in el.pitches:
            pitches.append(int(p.midi))
            starts.append((float(el.offset) - origin) / beat_ql)
            lengths.append(ql / beat_ql)
    if len(pitches) < 8:
        return None
    starts_a, lengths_a = np.array(starts), np.array(lengths)
    beats = float(np.ceil((starts_a + lengths_a).max() / n - 1e-6) * n)
    try:
        tonic = int(score.analyze("key").tonic.pitchClass)
    except Exception:  # noqa: BLE001 - music21 cannot always say; C then
        tonic = 0
    return Notes(metre, np.array(pitches), starts_a, lengths_a, beats, tonic)


def _find_work(excerpt: Excerpt, index: int) -> tuple[str, Notes]:
    """The first work of the excerpt's source, in a seeded order, whose metre is the excerpt's."""
    first = next(s for s in SOURCES[excerpt.split] if s.name == excerpt.source)
    kin = [s for s in SOURCES[excerpt.split] if s.tunes == first.tunes and s != first]
    others = [s for s in SOURCES[excerpt.split] if s.tunes != first.tunes]
    for source in (first, *kin, *others):  # the slot's source, then the split's others (not every one has every metre)
        found = _find_in(source, excerpt, index)
        if found is not None:
            return found
    raise PhospheneError(f"no work in the {excerpt.split} split's sources is in {excerpt.metre}")


def _find_in(source: MusicSource, excerpt: Excerpt, index: int) -> tuple[str, Notes] | None:
    from music21 import corpus

    paths = _candidates(source)
    rng = random.Random(f"{excerpt.name}-{index}")
    rng.shuffle(paths)
    for path in paths[:40]:
        try:
            parsed = corpus.parse(path)
        except Exception:  # noqa: BLE001 - a file music21 cannot read is skipped
            continue
        works = list(parsed.scores) if hasattr(parsed, "scores") and len(parsed.scores) else [parsed]
        order = list(range(len(works)))
        rng.shuffle(order)
        for k in order:
            notes = _score_notes(works[k], excerpt.metre)
            if notes is not None and notes.beats >= 4 * METRES[excerpt.metre][0]:
                return f"{path}#{k}" if len(works) > 1 else path, notes
    return None


# --- the tempo map, the accompaniment, the render --------------------------------------------------


def beat_bpms(tempo: tuple[tuple[int, float, float], ...]) -> np.ndarray:
    return np.concatenate([np.linspace(a, b, n, endpoint=False) for n, a, b in tempo])


def beat_times(tempo) -> np.ndarray:
    """Seconds of each beat of the tempo map, the first at 0."""
    return np.concatenate([[0.0], np.cumsum(60.0 / beat_bpms(tempo))])


def seconds_of(tempo, beat_pos: np.ndarray) -> np.ndarray:
    """Beat positions -> seconds through the tempo map (linear within each beat)."""
    times = beat_times(tempo)
    k = np.clip(np.floor(beat_pos).astype(int), 0, len(times) - 2)
    return times[k] + (beat_pos - k) * (times[k + 1] - times[k])


def arrange(excerpt: Excerpt, notes: Notes, seed: int) -> list[tuple[float, float, int, int, int]]:
    """(start beat, length in beats, channel, key, velocity) of every note: the work looped to
    EXCERPT_S, with the metrical accent, and the groove's voices when it has one."""
    rng = random.Random(seed)
    n, sub = METRES[excerpt.metre]
    total = int(np.searchsorted(beat_times(excerpt.tempo), EXCERPT_S + 1.0)) + 1  # beats to cover the excerpt
    out = []
    loop = 0.0
    while loop < total:
        for key, start, length in zip(notes.pitches, notes.starts, notes.lengths, strict=True):
            at = loop + start
            if at >= total:
                continue
            on_beat, on_bar = abs(at - round(at)) < 1e-6, abs(at / n - round(at / n)) < 1e-6
            vel = 72 + 6 * on_beat + 6 * on_bar + rng.randint(-5, 5)
            out.append((at, max(0.05, length * 0.95), 0, int(key), vel))
        loop += notes.beats
    if excerpt.groove is not None:
        pattern = GROOVES[excerpt.split][excerpt.groove](n, sub)
        progression = PROGRESSIONS[excerpt.split]
        for bar in range(total // n + 1):
            chord = progression[bar % len(progression)]
            for voice, b, s, vel in pattern:
                at = bar * n + b + s / sub
                if at >= total or b >= n:
                    continue
                vel = max(1, min(127, vel + rng.randint(-6, 6)))
                if voice == "bass":
                    out.append((at, 0.45, 1, 36 + notes.tonic + chord[0], vel))
                elif voice == "chord":
                    out += [(at, 0.3, 2, 55 + notes.tonic + c, vel) for c in chord]
                else:
                    out.append((at, 0.1, 9, voice, vel))
    return sorted(out)


def write_midi(events, tempo, programs: tuple[int, int, int], path: Path) -> None:
    """The notes at their seconds, at RENDER_BPM throughout (ticks = seconds * RENDER_BPM / 60 * TICKS)."""
    import mido

    scale = RENDER_BPM / 60 * TICKS
    starts = np.array([e[0] for e in events])
    on = np.round(seconds_of(tempo, starts) * scale).astype(int)
    off = np.round(seconds_of(tempo, starts + np.array([e[1] for e in events])) * scale).astype(int)
    msgs = [(0, mido.Message("program_change", channel=ch, program=p)) for ch, p in zip((0, 1, 2), programs, strict=True)]
    for (_, _, ch, key, vel), t0, t1 in zip(events, on, off, strict=True):
        msgs += [(t0, mido.Message("note_on", channel=ch, note=key, velocity=vel)), (t1, mido.Message("note_off", channel=ch, note=key))]
    msgs.sort(key=lambda m: (m[0], m[1].type == "note_on"))
    track, now = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=round(60e6 / RENDER_BPM))]), 0
    for t, m in msgs:
        track.append(m.copy(time=t - now))
        now = t
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS)
    midi.tracks.append(track)
    midi.save(path)


def synthesise(synth: Synth, midi: Path, wav: Path, end_s: float) -> None:
    """midi -> wav (mono, RENDER_SR) through the synth, via a partial file, cut at end_s with a fade."""
    import soundfile

    partial = wav.with_suffix(".partial.wav")
    if synth.engine == "timidity":
        cmd = ["timidity", "-c", str(synth.bank), "-idq", "-Ow", "--output-mono", "-s", str(RENDER_SR), "-o", str(partial), str(midi)]
    else:
        cmd = ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(RENDER_SR), "-F", str(partial), str(synth.bank), str(midi)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    y, sr = soundfile.read(str(partial), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    end = min(len(y), round(end_s * sr))
    y, fade = y[:end], min(end, round(0.25 * sr))
    y[end - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    y *= 0.5 / max(float(np.abs(y).max()), 1e-6)  # the same level from every synth
    soundfile.write(str(wav), y, sr, subtype="PCM_16")
    partial.unlink()


def render(excerpt: Excerpt, folder: Path, index: int) -> tuple[Path, np.ndarray, dict]:
    """The excerpt as a WAV in folder (kept: a second call reuses it), its reference beats (s) and its
    description (the work chosen, metre, groove, tempo, synth)."""
    meta_path = folder / f"heldout-{excerpt.name}.json"
    wav = meta_path.with_suffix(".wav")
    if meta_path.exists() and wav.exists():
        meta = json.loads(meta_path.read_text())
        return wav, np.array(meta["beats"]), meta
    work, notes = _find_work(excerpt, index)
    events = arrange(excerpt, notes, seed=index)
    rng = random.Random(f"{excerpt.name}-programs")
    programs = (rng.choice(MELODY_PROGRAMS[excerpt.split]), rng.choice((32, 33, 34)), rng.choice((0, 4, 24)))
    midi = folder / f"heldout-{excerpt.name}.mid"
    write_midi(events, excerpt.tempo, programs, midi)
    times = beat_times(excerpt.tempo)
    beats = times[times < EXCERPT_S]
    synthesise(excerpt.synth, midi, wav, EXCERPT_S)
    meta = {
        "name": excerpt.name, "split": excerpt.split, "source": work.split("/")[0], "work": work, "metre": excerpt.metre,
        "groove": excerpt.groove, "tempo": excerpt.tempo, "synth": excerpt.synth.name, "beats": beats.tolist(),
    }  # fmt: skip
    meta_path.write_text(json.dumps(meta))
    return wav, beats, meta


def renders(split: str, folder: Path, names: list[str] | None = None) -> list[tuple[str, Path, np.ndarray]]:
    """(name, WAV, reference beats) for a split, all of it or the named excerpts."""
    if (why := missing()) is not None:
        raise PhospheneError(f"bench beats --split {split} {why}")
    chosen = excerpts(split)
    if names:
        known = [e.name for e in chosen]
        if unknown := [n for n in names if n not in known]:
            raise PhospheneError(f"no excerpt {unknown[0]} in the {split} split: choose among {', '.join(known)}")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, e in enumerate(chosen):
        if names and e.name not in names:
            continue
        wav, beats, meta = render(e, folder, i)
        out.append((f"{e.name} {meta['metre']} {meta['groove'] or meta['source']}", wav, beats))
    return out
