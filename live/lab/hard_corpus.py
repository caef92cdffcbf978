"""The hard beat corpus: `python -m live bench beats --corpus hard`. Synthetic pieces written here
at exact beats, where the tempo moves and the metre is not a straight 4/4.

Each piece is a tempo map (BPM per beat: steady, ramps, steps, ritardando, accelerando), a metre
(beats per bar, and 2 or 3 subdivisions per beat: 6/8 and 12/8 have a dotted-quarter beat), and
sections of drum, bass and chord patterns, some with no drums at all (breakdowns). Every note is
placed at a position in beats and turned into seconds through the tempo map, so the reference beats
are exact by construction, not read back from a MIDI file. Two traps of building such a corpus from
MIDI files are avoided on purpose:

- pretty_midi reads tempo events from track 0 only (type-1 files often keep them elsewhere): the
  beats here never come from pretty_midi.
- fluidsynth's player drifts on files with many tempo events (about 11 ms in 100 beats): it renders
  a copy written at one tempo (`<name>.render.mid`, notes at their seconds), and the beats are mapped
  through the piece's own tempo map. `<name>.mid` is the musical file, with its tempo map, for a reader.

`alignment(wav, beats)` checks the result: the offset of the drum onsets in the audio from the
reference beats, in each half of the piece (equal halves: no drift).

Soundfonts: Debian's TimGM6mb, FluidR3_GM and csound's sf_GMbank, cycled over the pieces with seven
GM drum kits. MuseScore_General and the OPL-3 soundfont are reserved for a held-out evaluation and
are never used here; nor are the freedoom and openttd-openmsx MIDI packages. Nor is Debian's
fluidr3mono-gm-soundfont: it registers itself as /usr/share/sounds/sf3/MuseScore_General.sf3 (an
alternative), so an evaluation that asks for MuseScore_General by that path would get it.
Each render ends where its last beat does (the ring-out of cymbals and reverb is cut, with a
fade). Renders are kept in the folder given, by name, as the other corpora do (live/lab/beat_eval.py).
"""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from live.core.errors import PhospheneError

SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/sf_GMbank.sf2"),
)  # never MuseScore_General nor OPL-3: reserved for evaluation
PACKAGES = "fluidsynth timgm6mb-soundfont fluid-soundfont-gm csound-soundfont"
KITS = (0, 8, 16, 24, 25, 32, 40)  # GM drum kits: standard, room, power, electronic, TR-808, jazz, brush
RENDER_SR = 22_050
RENDER_BPM = 120.0  # the single tempo of the render copy
TICKS = 960  # per quarter note: 0.52 ms at RENDER_BPM
KICK, SNARE, CLOSED_HAT, OPEN_HAT, RIDE, RIM, CLAP, PEDAL_HAT = 36, 38, 42, 46, 51, 37, 39, 44

# Drum patterns: per bar, (drum, beat, subdivision, velocity) with beats counted in the piece's beat
# and subdivisions in its grid (2 per beat; 3 in swing and compound metres). A callable of the
# metre's beats per bar, so one pattern serves 3/4, 4/4 and 5/4 where that makes sense.


def _hats(beats: int, sub: int, drum: int = CLOSED_HAT, every: tuple[int, ...] | None = None) -> list:
    return [(drum, b, s, 70 if s == 0 else 55) for b in range(beats) for s in (every or range(sub))]


PATTERNS = {
    "rock": lambda n, sub: [(KICK, 0, 0, 110), (KICK, 2, 0, 100), (KICK, 2, 1, 80), (SNARE, 1, 0, 105), (SNARE, 3, 0, 105), *_hats(n, sub)],
    "house": lambda n, sub: [*((KICK, b, 0, 115) for b in range(n)), (CLAP, 1, 0, 100), (CLAP, 3, 0, 100), *_hats(n, sub, OPEN_HAT, (1,))],
    "breakbeat": lambda n, sub: [(KICK, 0, 0, 115), (KICK, 1, 1, 95), (KICK, 2, 1, 100), (SNARE, 1, 0, 110), (SNARE, 3, 0, 110),
                                 (SNARE, 3, 1, 50), *_hats(n, sub)],
    "dnb": lambda n, sub: [(KICK, 0, 0, 115), (KICK, 2, 1, 100), (SNARE, 1, 0, 110), (SNARE, 3, 0, 110), *_hats(n, sub, RIDE)],
    "halftime": lambda n, sub: [(KICK, 0, 0, 115), (KICK, 1, 1, 70), (SNARE, 2, 0, 115), *_hats(n, sub, CLOSED_HAT, (0,))],
    "offbeat": lambda n, sub: [*((KICK, b, 1, 110) for b in range(n)), (RIM, 1, 0, 80), (RIM, 3, 0, 80), *_hats(n, sub, CLOSED_HAT, (1,))],
    "garage": lambda n, sub: [(KICK, 0, 0, 110), (KICK, 2, 2, 95), (SNARE, 1, 0, 105), (SNARE, 3, 0, 105), *_hats(n, sub, CLOSED_HAT, (0, 2))],
    "swing": lambda n, sub: [*((RIDE, b, 0, 85) for b in range(n)), *((RIDE, b, 2, 65) for b in range(1, n, 2)),
                             *((PEDAL_HAT, b, 0, 70) for b in range(1, n, 2)), *((KICK, b, 0, 45) for b in range(n))],
    "waltz": lambda n, sub: [(KICK, 0, 0, 110), (SNARE, 1, 0, 75), (SNARE, 2, 0, 75), *_hats(n, sub)],
    "jazzwaltz": lambda n, sub: [(KICK, 0, 0, 80), (RIDE, 0, 0, 85), (RIDE, 1, 0, 80), (RIDE, 1, 2, 60), (RIDE, 2, 0, 80),
                                 (PEDAL_HAT, 1, 0, 65), (PEDAL_HAT, 2, 0, 65)],
    "compound": lambda n, sub: [(KICK, 0, 0, 110), *((SNARE, b, 0, 100) for b in range(1, n, 2)), *((KICK, b, 0, 95) for b in range(2, n, 2)),
                                *_hats(n, sub)],
    "fivefour": lambda n, sub: [(KICK, 0, 0, 110), (KICK, 3, 0, 100), (SNARE, 2, 0, 100), (SNARE, 4, 0, 95), *_hats(n, sub, RIDE)],
}  # fmt: skip

# Bass and chords per bar: "root" (bass on the downbeat and the bar's middle), "walk" (a bass note
# every beat), "offbeat" (bass on every off-beat), "arp" (the chord's notes on every subdivision).
CHORDS = ((0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14))  # I vi IV V, semitones over the key


@dataclass(frozen=True)
class Section:
    bars: int
    drums: str | None  # a PATTERNS key; None: no drums (a breakdown)
    bass: str = "root"  # root | walk | offbeat | none
    chords: str = "beats"  # beats | offbeats | arp | hold


@dataclass(frozen=True)
class Piece:
    name: str
    tempo: tuple[tuple[int, float, float], ...]  # (beats, BPM at the first, BPM after the last): linear in beats
    beats_per_bar: int
    sub: int  # subdivisions per beat: 2 simple, 3 compound or swung
    sections: tuple[Section, ...]
    swing: bool = False  # sub 3, off-beats on the third
    key: int = 0
    programs: tuple[int, int] = (33, 0)  # bass, chords (GM programs)
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def beat_bpms(self) -> np.ndarray:
        """The tempo of each beat (the interval from it to the next), over the whole piece."""
        out = [np.linspace(a, b, n, endpoint=False) for n, a, b in self.tempo]
        return np.concatenate(out)


S = Section
PIECES = (
    Piece("ramp120-128", ((16, 120, 120), (32, 120, 128), (40, 128, 128)), 4, 2, (S(8, "rock"), S(14, "rock", "walk"))),
    Piece("ramp128-120", ((12, 128, 128), (32, 128, 120), (40, 120, 120)), 4, 2, (S(21, "house", "offbeat", "offbeats"),), key=5, programs=(38, 4)),
    Piece("step98-126", ((24, 98, 98), (48, 126, 126)), 4, 2, (S(18, "rock", "root", "beats"),), key=2, programs=(34, 24)),
    Piece("step138-112", ((40, 138, 138), (40, 112, 112)), 4, 2, (S(20, "breakbeat", "root", "offbeats"),), key=7, programs=(38, 16)),
    Piece("step100-80", ((24, 100, 100), (28, 80, 80)), 4, 2, (S(13, "rock", "walk", "hold"),), key=3, programs=(32, 48)),
    Piece("ritardando", ((24, 110, 110), (24, 110, 78), (4, 78, 78)), 4, 2, (S(13, "rock", "root", "arp"),), key=9, programs=(33, 0)),
    Piece("accelerando", ((8, 90, 90), (40, 90, 132), (12, 132, 132)), 4, 2, (S(15, "rock", "walk", "beats"),), key=4, programs=(33, 4)),
    Piece("swing140", ((72, 140, 140),), 4, 3, (S(18, "swing", "walk", "offbeats"),), swing=True, key=5, programs=(32, 0)),
    Piece("shuffle-ramp", ((16, 104, 104), (24, 104, 116), (24, 116, 116)), 4, 3, (S(16, "garage", "walk", "beats"),), swing=True,
          key=1, programs=(33, 16)),
    Piece("garage132", ((68, 132, 132),), 4, 3, (S(17, "garage", "offbeat", "offbeats"),), swing=True, key=10, programs=(38, 4)),
    Piece("waltz90", ((48, 90, 90),), 3, 2, (S(16, "waltz", "root", "beats"),), key=0, programs=(32, 0)),
    Piece("jazzwaltz150", ((78, 150, 150),), 3, 3, (S(26, "jazzwaltz", "walk", "offbeats"),), swing=True, key=3, programs=(32, 0)),
    Piece("waltz-rit", ((30, 120, 120), (21, 120, 92), (3, 92, 92)), 3, 2, (S(18, "waltz", "root", "arp"),), key=8, programs=(33, 48)),
    Piece("sixeight66", ((36, 66, 66),), 2, 3, (S(18, "compound", "root", "arp"),), key=2, programs=(33, 0)),
    Piece("sixeight100", ((56, 100, 100),), 2, 3, (S(28, "compound", "walk", "beats"),), key=7, programs=(32, 24)),
    Piece("twelveeight70", ((40, 70, 70),), 4, 3, (S(10, "compound", "walk", "arp"),), key=4, programs=(33, 4)),
    Piece("fivefour120", ((70, 120, 120),), 5, 2, (S(14, "fivefour", "root", "offbeats"),), key=6, programs=(32, 0)),
    Piece("breakdown124", ((72, 124, 124),), 4, 2, (S(5, "house", "offbeat"), S(8, None, "none", "hold"), S(5, "house", "offbeat")),
          key=9, programs=(38, 48)),
    Piece("breakdown-piano", ((64, 112, 112),), 4, 2, (S(4, "rock"), S(8, None, "root", "arp"), S(4, "rock")), key=0, programs=(32, 0)),
    Piece("dnb-halftime", ((112, 172, 172),), 4, 2, (S(12, "dnb", "root", "offbeats"), S(8, "halftime", "root", "hold"), S(8, "dnb")),
          key=5, programs=(38, 16)),
    Piece("offbeat-kick", ((64, 118, 118),), 4, 2, (S(16, "offbeat", "offbeat", "beats"),), key=2, programs=(38, 4)),
    Piece("drumless-intro", ((68, 96, 96),), 4, 2, (S(6, None, "root", "arp"), S(11, "rock", "walk")), key=11, programs=(32, 0)),
)  # fmt: skip


# Metres for varied_piece: (beats per bar, subdivisions, swung, the drum patterns that fit)
METRES = (
    (4, 2, False, ("rock", "house", "breakbeat", "dnb", "halftime", "offbeat")),
    (4, 3, True, ("swing", "garage")),
    (3, 2, False, ("waltz",)),
    (3, 3, True, ("jazzwaltz",)),
    (2, 3, False, ("compound",)),
    (4, 3, False, ("compound",)),
    (5, 2, False, ("fivefour",)),
)


def varied_piece(i: int, seconds: float) -> Piece:
    """Training piece i for train-beats (deterministic in i): a random metre, tempo map (steady, a
    ramp, a step, a ritardando or an accelerando, 60-190 BPM), sections (some drumless), bass and
    chord styles, key and programs, at least `seconds` long. Never one of PIECES: those are scored."""
    rng = random.Random(10_000 + i)
    n, sub, swing, patterns = rng.choice(METRES)
    a = float(np.exp(rng.uniform(np.log(60), np.log(190))))
    shape = rng.choice(("steady", "steady", "ramp", "step", "rit", "accel"))
    b = {
        "steady": a,
        "ramp": a * rng.choice((0.94, 1.06)),
        "step": a * rng.choice((0.75, 0.85, 1.2, 1.3)),
        "rit": a * 0.75,
        "accel": a * 1.3,
    }[shape]
    b = min(max(b, 55.0), 200.0)
    beats = int(np.ceil((seconds + 4) * max(a, b) / 60 / n) * n)  # long enough at the fastest tempo it reaches
    first, moving = n * rng.randint(3, 6), (0 if shape in ("steady", "step") else n * rng.randint(4, 8))
    tempo = ((first, a, a), (moving, a, b), (max(n, beats - first - moving), b, b))
    tempo = tuple(t for t in tempo if t[0] > 0)
    bars_left, sections = beats // n + 1, []
    while bars_left > 0:
        bars = min(bars_left, rng.randint(4, 12))
        drums = None if rng.random() < 0.15 else rng.choice(patterns)
        sections.append(
            Section(bars, drums, rng.choice(("root", "walk", "offbeat", "root")), rng.choice(("beats", "offbeats", "arp", "hold")))
        )
        bars_left -= bars
    programs = (rng.choice((32, 33, 34, 38)), rng.choice((0, 4, 16, 24, 48)))
    return Piece(f"varied{i:04d}", tempo, n, sub, tuple(sections), swing=swing, key=rng.randint(0, 11), programs=programs)


def render_varied(i: int, folder: Path, seconds: float) -> Path:
    """Training piece i rendered into folder (kept) through a random soundfont and kit; returns its
    JSON (wav, beats), in the form train-beats reads."""
    rng = random.Random(20_000 + i)
    piece = varied_piece(i, seconds)
    soundfont, kit = rng.choice(SOUNDFONTS), rng.choice(KITS)
    done = folder / f"{piece.name}-{soundfont.stem}-kit{kit}-{seconds:g}s.json"
    if done.exists():
        return done
    wav = done.with_suffix(".wav")
    _, flat = write_midis(piece, folder, kit=kit, seed=10_000 + i)
    render_wav(flat, soundfont, wav, min(beat_times(piece)[-1], seconds + 2), gain=rng.uniform(0.3, 0.8))
    beats = beat_times(piece)[:-1]
    done.write_text(json.dumps({"piece": piece.name, "soundfont": soundfont.name, "kit": kit, "wav": wav.name, "beats": beats.tolist()}))
    return done


def piece_names() -> list[str]:
    return [p.name for p in PIECES]


def missing() -> str | None:
    import shutil

    if shutil.which("fluidsynth") is None or not all(p.exists() for p in SOUNDFONTS):  # all: the corpus is what was measured
        return f"needs Debian {PACKAGES}: apt-get install {PACKAGES}"
    return None


def beat_times(piece: Piece) -> np.ndarray:
    """Seconds of each beat, the first at 0, and one more: the end of the last beat."""
    return np.concatenate([[0.0], np.cumsum(60.0 / piece.beat_bpms())])


def notes(piece: Piece, seed: int) -> list[tuple[float, float, int, int, int]]:
    """(start beat, length in beats, channel, key, velocity) for every note of the piece."""
    rng = random.Random(seed)
    n, sub = piece.beats_per_bar, piece.sub
    out, bar = [], 0
    total = len(piece.beat_bpms())

    def pos(b: int, s: int) -> float:
        return b + s / sub

    for section in piece.sections:
        for _ in range(section.bars):
            first = bar * n
            if first >= total:
                break
            chord = CHORDS[bar % len(CHORDS)]
            root = 36 + piece.key + chord[0]
            if section.drums:
                for drum, b, s, vel in PATTERNS[section.drums](n, sub):
                    if b < n and s < sub:
                        out.append((first + pos(b, s), 0.1, 9, drum, max(1, min(127, vel + rng.randint(-8, 8)))))
            if section.bass == "root":
                out.append((first, n / 2 * 0.9, 0, root, 100))
                if n >= 2:
                    out.append((first + n // 2 + (n % 2), (n - n // 2 - n % 2) * 0.9, 0, root + 7, 90))
            elif section.bass == "walk":
                steps = (0, 4, 7, 9, 12)
                out += [(first + b, 0.85, 0, root + steps[b % len(steps)], 95) for b in range(n)]
            elif section.bass == "offbeat":
                off = sub - 1 if piece.swing else sub // 2
                out += [(first + pos(b, off), 0.4, 0, root, 100) for b in range(n)]
            keys = [60 + piece.key + c for c in chord]
            if section.chords == "beats":
                out += [(first + b, 0.45, 1, k, 70) for b in range(n) for k in keys]
            elif section.chords == "offbeats":
                off = sub - 1 if piece.swing else sub // 2
                out += [(first + pos(b, off), 0.25, 1, k, 70) for b in range(n) for k in keys]
            elif section.chords == "arp":
                out += [(first + pos(b, s), 1 / sub, 1, keys[(b * sub + s) % 3] + 12 * ((b * sub + s) // 3 % 2), 75 if s else 85)
                        for b in range(n) for s in range(sub)]  # fmt: skip
            elif section.chords == "hold":
                out += [(first, n * 0.95, 1, k, 75) for k in keys]
            bar += 1
    return [nt for nt in out if nt[0] < total]


def _seconds(piece: Piece, beat_pos: np.ndarray) -> np.ndarray:
    """Beat positions -> seconds through the tempo map (linear within each beat)."""
    times = beat_times(piece)
    k = np.clip(np.floor(beat_pos).astype(int), 0, len(times) - 2)
    return times[k] + (beat_pos - k) * (times[k + 1] - times[k])


def write_midis(piece: Piece, folder: Path, *, kit: int, seed: int) -> tuple[Path, Path]:
    """`<name>.mid` (the musical file: one tempo event per beat, in track 0) and `<name>.render.mid`
    (the same notes at their seconds, at RENDER_BPM throughout: what fluidsynth plays)."""
    import mido

    events = notes(piece, seed)
    bpms = piece.beat_bpms()
    programs = [(0, piece.programs[0]), (1, piece.programs[1]), (9, kit)]

    def track_of(on_ticks, off_ticks) -> mido.MidiTrack:
        msgs = [(0, mido.Message("program_change", channel=ch, program=p)) for ch, p in programs]
        for (_, _, ch, key, vel), t0, t1 in zip(events, on_ticks, off_ticks, strict=True):
            msgs += [
                (t0, mido.Message("note_on", channel=ch, note=key, velocity=vel)),
                (t1, mido.Message("note_off", channel=ch, note=key)),
            ]
        msgs.sort(key=lambda m: (m[0], m[1].type == "note_on"))  # offs before ons at the same tick
        track, now = mido.MidiTrack(), 0
        for t, m in msgs:
            track.append(m.copy(time=t - now))
            now = t
        return track

    starts = np.array([e[0] for e in events])
    ends = starts + np.array([e[1] for e in events])
    # the musical file: ticks are beats, with the tempo map in track 0
    musical = mido.MidiFile(type=1, ticks_per_beat=TICKS)
    conductor, num = mido.MidiTrack(), piece.beats_per_bar * (piece.sub if piece.sub == 3 and not piece.swing else 1)
    conductor.append(mido.MetaMessage("time_signature", numerator=num, denominator=8 if piece.sub == 3 and not piece.swing else 4))
    for i, bpm in enumerate(bpms):
        conductor.append(mido.MetaMessage("set_tempo", tempo=round(60e6 / bpm), time=0 if i == 0 else TICKS))
    musical.tracks += [conductor, track_of(np.round(starts * TICKS).astype(int), np.round(ends * TICKS).astype(int))]
    # the render copy: one tempo, ticks are seconds * (RENDER_BPM / 60) * TICKS
    scale = RENDER_BPM / 60 * TICKS
    flat = mido.MidiFile(type=1, ticks_per_beat=TICKS)
    flat.tracks += [
        mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=round(60e6 / RENDER_BPM))]),
        track_of(np.round(_seconds(piece, starts) * scale).astype(int), np.round(_seconds(piece, ends) * scale).astype(int)),
    ]
    paths = folder / f"{piece.name}.mid", folder / f"{piece.name}.render.mid"
    musical.save(paths[0])
    flat.save(paths[1])
    return paths


def render(piece: Piece, folder: Path, index: int | None = None) -> tuple[Path, np.ndarray]:
    """The piece as a WAV in folder (kept: a second call reuses it) and its reference beats (s)."""
    index = PIECES.index(piece) if index is None else index
    if (why := missing()) is not None:
        raise PhospheneError(f"bench beats --corpus hard {why}")
    soundfont, kit = SOUNDFONTS[index % len(SOUNDFONTS)], KITS[index % len(KITS)]
    beats = beat_times(piece)[:-1]
    wav = folder / f"hard-{piece.name}-{soundfont.stem}-kit{kit}.wav"
    meta = wav.with_suffix(".json")
    if not wav.exists():
        _, flat = write_midis(piece, folder, kit=kit, seed=index)
        render_wav(flat, soundfont, wav, beat_times(piece)[-1])
        meta.write_text(json.dumps({"piece": piece.name, "soundfont": soundfont.name, "kit": kit, "beats": beats.tolist()}))
    return wav, beats


def render_wav(midi: Path, soundfont: Path, wav: Path, end_s: float, gain: float = 0.6) -> None:
    """fluidsynth plays midi through soundfont into wav (via a partial file, so a killed render
    leaves nothing a later run would take for done), cut where the music ends (_end_at)."""
    partial = wav.with_suffix(".partial.wav")
    cmd = ["fluidsynth", "-ni", "-q", "-g", f"{gain:.2f}", "-r", str(RENDER_SR), "-F", str(partial), str(soundfont), str(midi)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    _end_at(partial, end_s)
    partial.replace(wav)


def _end_at(wav: Path, end_s: float, fade_s: float = 0.25) -> None:
    """Cut the render where the last beat ends, with a short fade: fluidsynth plays on while cymbals
    and reverb ring out (up to 12 s here), and a tracker's beats in that tail would count as wrong
    although there is no beat to find."""
    import soundfile

    y, sr = soundfile.read(str(wav), dtype="float32", always_2d=True)
    end = min(len(y), round((end_s + fade_s) * sr))
    y = y[:end]
    fade = min(end, round(fade_s * sr))
    y[end - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    soundfile.write(str(wav), y, sr, subtype="PCM_16")


def renders(folder: Path, names: list[str] | None = None) -> list[tuple[str, Path, np.ndarray]]:
    """(name, WAV, reference beats) for the corpus, all of it or the named pieces."""
    chosen = names or piece_names()
    if unknown := [n for n in chosen if n not in piece_names()]:
        raise PhospheneError(f"no piece {unknown[0]}: choose among {', '.join(piece_names())}")
    return [(p.name, *render(p, folder, i)) for i, p in enumerate(PIECES) if p.name in chosen]


def alignment(wav: Path, beats: np.ndarray, *, window_s: float = 0.05) -> tuple[float, float]:
    """Median offset (s) of the audio's onsets from the reference beats, in the first and the second
    half of the piece: only beats with an onset within window_s count. Equal halves: no drift."""
    import librosa

    y, sr = librosa.load(str(wav), sr=RENDER_SR)
    onsets = librosa.onset.onset_detect(y=y, sr=sr, hop_length=64, units="time", backtrack=False)
    if len(onsets) == 0:
        return float("nan"), float("nan")
    half = beats[len(beats) // 2]
    out = []
    for part in (beats[beats < half], beats[beats >= half]):
        d = np.array([onsets[np.argmin(np.abs(onsets - b))] - b for b in part])
        d = d[np.abs(d) <= window_s]
        out.append(float(np.median(d)) if len(d) else float("nan"))
    return out[0], out[1]
