"""A second captioned set for training tests: General MIDI instruments rendered with fluidsynth.

Independent of sounds.py (no sound-icons, no pygame music): each clip is its own recording, a
phrase of 2-4 random notes in the instrument's range, 4 s long, with silence before, between and
after the notes, rendered through Debian's TimGM6mb soundfont (system-packages.txt) with reverb and
chorus off and written to a file of its own. Per instrument, every fourth recording is held out as
`test`: held out by recording, never by crop. Captions are "a(n) {instrument} playing a few notes",
as close to each other as the tiny text space makes them.

    write_manifest(folder)                          -> folder/instruments.csv (the test set, TEST_SET)
    write_manifest(folder, DEV_SET, clips=24)       -> the issue's eight instruments, for measuring the recipe
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import numpy as np

SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")  # Debian timgm6mb-soundfont
SR = 16_000
CLIP_S = 4.0
HELD_OUT_EVERY = 4  # recording k of an instrument is `test` when k % 4 == 3

# caption word: (General MIDI program, 0-based, lowest and highest MIDI note it plays here)
TEST_SET = {
    "harp": (46, 48, 84),
    "clarinet": (71, 50, 82),
    "accordion": (21, 53, 77),
    "cello": (42, 36, 62),
    "marimba": (12, 48, 84),
    "tuba": (58, 29, 53),
    "sitar": (104, 48, 72),
    "square-wave synth lead": (80, 48, 76),
}
# the instruments of issue 20's outside set, rendered here with another soundfont: a dev set to measure the recipe on
DEV_SET = {
    "piano": (0, 40, 84),
    "acoustic guitar": (25, 40, 76),
    "violin": (40, 55, 88),
    "trumpet": (56, 55, 79),
    "flute": (73, 60, 91),
    "church organ": (19, 36, 79),
    "bass guitar": (33, 28, 52),
    "vibraphone": (11, 53, 89),
}


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def available() -> bool:
    return shutil.which("fluidsynth") is not None and SOUNDFONT.exists()


def phrase(rng: np.random.Generator, low: int, high: int) -> list[tuple[float, float, int, int]]:
    """2-4 notes (start s, end s, pitch, velocity) inside one clip; the last ends by 3.2 s, so the tail fits."""
    count = int(rng.integers(2, 5))
    starts = np.sort(rng.uniform(0.1, 2.6, count))
    notes = []
    for start in starts:
        length = float(rng.uniform(0.15, 0.6))
        notes.append((float(start), min(float(start) + length, 3.2), int(rng.integers(low, high + 1)), int(rng.integers(70, 120))))
    return notes


def render(program: int, clips: list[list[tuple]], folder: Path, stem: str) -> list[Path]:
    """One fluidsynth run per instrument (the clips CLIP_S apart), then cut into a file of its own per clip."""
    import wave

    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    for k, notes in enumerate(clips):
        for start, end, pitch, velocity in notes:
            inst.notes.append(pretty_midi.Note(velocity=velocity, pitch=pitch, start=k * CLIP_S + start, end=k * CLIP_S + end))
    pm.instruments.append(inst)
    midi, whole = folder / f"{stem}.mid", folder / f"{stem}-all.wav"
    pm.write(str(midi))
    cmd = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(SR), "-T", "wav", "-O", "s16", "-F", str(whole),
           str(SOUNDFONT), str(midi)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    with wave.open(str(whole)) as w:
        channels = w.getnchannels()
        audio = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, channels)
    audio = audio.astype(np.float32).mean(1) / 32768  # (n,) mono
    whole.unlink()
    midi.unlink()
    n = round(CLIP_S * SR)
    files = []
    for k in range(len(clips)):
        piece = np.zeros(n, np.float32)
        got = audio[k * n : (k + 1) * n]
        piece[: len(got)] = got
        path = folder / f"{stem}-{k:02d}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes((np.clip(piece, -1, 1) * 32767).astype(np.int16).tobytes())
        files.append(path)
    return files


def write_manifest(folder: Path, instruments: dict = TEST_SET, *, clips: int = 12, seed: int = 0, name: str = "instruments") -> Path:
    """Render `clips` recordings per instrument into `folder` and write folder/NAME.csv (audio, caption, label, split)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (word, (program, low, high)) in enumerate(instruments.items()):
        rng = np.random.default_rng([seed, index])
        stem = word.replace(" ", "-")
        files = render(program, [phrase(rng, low, high) for _ in range(clips)], folder, stem)
        for k, path in enumerate(files):
            split = "test" if k % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else "train"
            rows.append({"audio": str(path), "caption": f"{article(word)} {word} playing a few notes", "label": word, "split": split})
    path = folder / f"{name}.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["audio", "caption", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return path
