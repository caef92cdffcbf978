"""A small captioned set of real recorded sounds for training tests, with held-out clips.

Debian's `sound-icons` (short recordings of instruments, a bird, water) plus pygame's `house_lo`
and `boom`: twelve classes, one caption each. Files longer than a window are cut into disjoint
0.5 s clips (start/end in the manifest), so random crops never reach a neighbouring clip; per
class, every third clip (in file and time order) is held out as `test`. A class with a single clip
only trains (a distractor). Per class at most MAX_CLIPS clips, so house music does not dominate.
"""

import csv
from pathlib import Path

import pygame

SOUND_ICONS = Path("/usr/share/sounds/sound-icons")
PYGAME_DATA = Path(pygame.__file__).parent / "examples" / "data"
CLIP_S = 0.5
MAX_CLIPS = 6

CLASSES = {  # caption: (label, files)
    "A harpsichord": ("harpsichord", [f"cembalo-{n}.wav" for n in (1, 2, 6, 12, 3, 11, 10)]),
    "Percussion hits": (
        "percussion",
        ["percussion-28.wav", "percussion-50.wav", "percussion-12.wav", "cymbaly-1.wav", "percussion-10.wav"],
    ),
    "A trumpet": ("trumpet", ["trumpet-1.wav", "trumpet-12.wav"]),
    "A cello": ("cello", ["violoncello-7.wav"]),
    "A xylophone": ("xylophone", ["xylofon.wav"]),
    "A piano": ("piano", ["electric-piano-3.wav", "piano-3.wav", "klavichord-4.wav"]),
    "A whistle": ("whistle", ["pisk-down.wav", "pisk-up.wav", "pisk-down-cink.wav", "pisk-up-cink.wav"]),
    "A guitar": ("guitar", ["guitar-12.wav", "guitar-13.wav"]),
    "A bird singing": ("bird", ["canary-long.wav"]),
    "Water poured into a glass": ("water", ["glass-water-1.wav"]),
    "House music": ("house", [str(PYGAME_DATA / "house_lo.wav")]),
    "An explosion": ("explosion", [str(PYGAME_DATA / "boom.wav")]),
}


def duration_s(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return float(stream.duration * stream.time_base)


def write_manifest(path: Path) -> Path:
    """Write the manifest (audio, caption, start, end, label, split) and return its path."""
    rows = []
    for caption, (label, files) in CLASSES.items():
        clips = []
        for name in files:
            audio = SOUND_ICONS / name if "/" not in name else Path(name)
            total = duration_s(audio)
            pieces = max(1, int(total // CLIP_S))
            clips += [(audio, k * CLIP_S, (k + 1) * CLIP_S if pieces > 1 else None) for k in range(pieces)]
        clips = clips[:MAX_CLIPS]
        for k, (audio, start, end) in enumerate(clips):
            split = "test" if len(clips) > 1 and k % 3 == 2 else "train"
            rows.append(
                {"audio": str(audio), "caption": caption, "start": start, "end": "" if end is None else end, "label": label, "split": split}
            )
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["audio", "caption", "start", "end", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return path
