"""The songs and grooves corpora: General MIDI rendered with fluidsynth, so the beats and bar lines
are exact (pretty_midi's). The beat bench (live/lab/beat_eval.py), the bar bench
(live/lab/bar_eval.py), the beat network's trainer (live/lab/beat_train.py) and their tests render
from here:

    songs    Debian's planetblupi-music-midi: ten game songs, most of them tracker modules converted
             to MIDI. Syncopated: in four of them the onsets are as strong half a beat off.
    grooves  24 accompaniment styles from Debian's mma (Musical MIDI Accompaniment): its own drum,
             bass and chord patterns for rock, swing, bossa nova, ska, salsa ... over I-vi-IV-V, each
             at a tempo typical of the style. The styles and tempi were chosen before any score.

Renders are kept in the folder given (a second call reuses them).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np

from live.core.errors import PhospheneError

MIDI_DIR = Path("/usr/share/planetblupi/music")
SOUNDFONTS = (Path("/usr/share/sounds/sf2/TimGM6mb.sf2"), Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"))
RENDER_SR = 22_050
UNSCORED_S = 5.0  # mir_eval.beat.trim_beats' default: the first 5 s of an excerpt are not scored (by both benches)
PACKAGES = "fluidsynth timgm6mb-soundfont planetblupi-music-midi mma"
# mma groove -> BPM: common 4/4 (and one 12/8) styles at a tempo typical of each, chosen before any score
GROOVES = {
    "50sRock": 150, "60sRock": 130, "8Beat": 110, "BasicRock": 120, "Ballad": 80, "BossaNova": 130, "Blues": 100,
    "FolkRock": 125, "JazzRock": 140, "PopBallad": 90, "R&B": 95, "Ska": 160, "SoftRock": 105, "Swing": 140,
    "Trance": 135, "Twist": 155, "Samba": 100, "Salsa": 180, "Rock128": 110, "Strut": 115, "Zydeco": 145,
    "CountryBlues": 100, "BigBand": 150, "Mambo": 170,
}  # fmt: skip
GROOVE_CHORDS = ("C", "Am", "F", "G7")  # I-vi-IV-V, a bar each


def songs() -> list[Path]:
    return sorted(MIDI_DIR.glob("*.mid"))


def missing(corpus: str) -> str | None:
    """What this machine lacks to render a corpus, as the fix to apply; None when nothing."""
    found = shutil.which("fluidsynth") and any(p.exists() for p in SOUNDFONTS)
    found = found and (bool(songs()) if corpus == "songs" else shutil.which("mma") is not None)
    if not found:
        return f"needs Debian {PACKAGES}: sudo apt-get install {PACKAGES} (`make test` installs them as root)"
    return None


def groove_midi(
    style: str,
    folder: Path,
    seconds: float,
    *,
    bpm: float | None = None,
    chords: tuple[str, ...] = GROOVE_CHORDS,
    transpose: int = 0,
    seed: int = 1,
    beats_per_bar: int = 4,
    stem: str | None = None,
) -> Path:
    """mma's `style` groove (at its GROOVES tempo unless `bpm`) over `chords`, a bar each, for at least
    `seconds` of `beats_per_bar` bars, as a MIDI file in `folder` (kept: a second call reuses it). mma
    humanises timing and velocity at random: the seed is fixed, so a groove is the same on every machine.
    The bench uses the defaults; live/lab/beat_train.py varies them."""
    bpm = GROOVES[style] if bpm is None else bpm
    stem = stem or "groove-" + "".join(c for c in style if c.isalnum())
    midi = folder / f"{stem}-{seconds:g}s.mid"
    if not midi.exists():
        bars = int(np.ceil(seconds * bpm / 60 / beats_per_bar)) + 1
        key = [f"Transpose {transpose}"] if transpose else []
        lines = [f"RndSeed {seed}", f"Tempo {bpm}", *key, f"Groove {style}", *(f"{i + 1} {chords[i % len(chords)]}" for i in range(bars))]
        script = folder / f"{stem}.mma"
        script.write_text("\n".join(lines) + "\n")
        partial = folder / f"{stem}.partial.mid"
        r = subprocess.run(["mma", str(script), "-f", str(partial)], capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or not partial.exists():
            raise PhospheneError(f"mma could not write groove {style}: {(r.stdout + r.stderr).strip().splitlines()[-1:]}")
        partial.replace(midi)
    return midi


def on_note_grid(pm, times_s) -> np.ndarray:
    """Times (pretty_midi's beats or downbeats) moved onto the grid the notes sit on: some of these
    files (tracker conversions) start every note a fixed number of ticks after the beat (music004-009:
    20 ticks of 192, about 60 ms), which would otherwise count every correct beat as late."""
    sixteenth = pm.resolution // 4
    offset = Counter(pm.time_to_tick(n.start) % sixteenth for inst in pm.instruments for n in inst.notes).most_common(1)[0][0]
    return np.array([pm.tick_to_time(int(pm.time_to_tick(t)) + int(offset)) for t in times_s])


def reference_beats(pm) -> np.ndarray:
    """pretty_midi's beats, on the notes' grid (on_note_grid)."""
    return on_note_grid(pm, pm.get_beats())


def render_song(midi: Path, folder: Path, until_s: float, *, soundfont: Path | None = None, gain: float = 0.6) -> tuple[Path, np.ndarray]:
    """The song's first `until_s` seconds as a WAV in `folder` (kept: a second call reuses it) and the
    reference beats in them. Rendered through `soundfont` (default: the first of SOUNDFONTS found)
    at fluidsynth's `gain`."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(midi))
    beats = reference_beats(pm)
    wav = folder / f"{midi.stem}-{until_s:g}s.wav"
    if not wav.exists():
        for inst in pm.instruments:  # render only up to the end: fluidsynth takes the whole file
            inst.notes = [n for n in inst.notes if n.start < until_s]
            inst.control_changes = [c for c in inst.control_changes if c.time < until_s]
            inst.pitch_bends = [b for b in inst.pitch_bends if b.time < until_s]
        cut = folder / f"{midi.stem}-{until_s:g}s.mid"
        pm.write(str(cut))
        soundfont = soundfont or next(p for p in SOUNDFONTS if p.exists())
        partial = wav.with_suffix(".partial.wav")
        cmd = ["fluidsynth", "-ni", "-q", "-g", f"{gain:g}", "-r", str(RENDER_SR), "-F", str(partial), str(soundfont), str(cut)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        partial.replace(wav)
    return wav, beats[beats < until_s]


def corpus_midis(corpus: str, names: list[str] | None, folder: Path, until_s: float) -> list[tuple[str, Path]]:
    """(name, MIDI file) for a corpus, all of it or the named members; grooves are written into folder."""
    available = [p.name for p in songs()] if corpus == "songs" else list(GROOVES)
    chosen = names or available
    if unknown := [n for n in chosen if n not in available]:
        raise PhospheneError(f"no {corpus[:-1]} {unknown[0]}: choose among {', '.join(available)}")
    if corpus == "songs":
        return [(Path(n).stem, MIDI_DIR / n) for n in chosen]
    return [(n, groove_midi(n, folder, until_s)) for n in chosen]
