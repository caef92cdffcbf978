"""The tunes corpus: `python -m live bench beats --corpus tunes`. Real tunes, not written here: the
ABC examples Debian's abcmidi package ships (Irish jigs and reels, klezmer, a branle, hornpipes;
6/8, 3/8, 2/4, C and 4/4), turned into MIDI by its abc2midi (melody, guitar chords and, where the
tune asks for them, drums) and rendered with fluidsynth through the hard corpus's soundfonts.

Reference beats come from the MIDI file itself, read with mido over every track merged (pretty_midi
reads tempo events from track 0 only): one beat per quarter note in simple metres (2/4, 4/4, C),
per dotted quarter in compound ones (6/8, 9/8, 12/8, and 3/8, one beat a bar), through the file's
tempo map; a beat faster than FASTEST_BPM is felt at half that rate (a reel's quarters at 200 BPM
are half notes at 100) and counted so. Tunes shorter than MIN_SECONDS are left out. abc2midi writes one tempo per tune, so fluidsynth's drift on many tempo events does not
arise; `tempo_events` says so for each render. Tunes that demonstrate tuning systems (temperament)
rather than music are left out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from live.core.errors import PhospheneError
from live.lab.hard_corpus import SOUNDFONTS, render_wav

EXAMPLES = Path("/usr/share/doc/abcmidi/examples")
PACKAGES = "abcmidi fluidsynth timgm6mb-soundfont fluid-soundfont-gm csound-soundfont"
LEFT_OUT = ("temperament", "detune")  # tuning demonstrations, not tunes
MIN_SECONDS = 15.0  # shorter tunes (three in the examples) say little after the unscored first 5 s
FASTEST_BPM = 170.0  # a beat faster than this is felt at half the rate: a reel's quarters at 200 are a half-note 100


def missing() -> str | None:
    tools = all(shutil.which(t) for t in ("abc2midi", "fluidsynth"))
    if not (tools and EXAMPLES.is_dir() and all(p.exists() for p in SOUNDFONTS)):
        return f"needs Debian {PACKAGES}: apt-get install {PACKAGES}"
    return None


def _tunes_in(abc: Path) -> dict[int, str]:
    """X: number -> the tune's lines, for every tune of an ABC file."""
    out = {}
    for block in re.split(r"\n(?=X:)", abc.read_text(errors="replace")):
        if x := re.match(r"X:\s*(\d+)", block.strip()):
            out[int(x.group(1))] = block
    return out


def tunes() -> list[tuple[str, Path, int]]:
    """(name, ABC file, X: number) of every tune in the examples, in file order."""
    out = []
    for path in sorted(EXAMPLES.glob("*.abc")):
        for x, block in _tunes_in(path).items():
            title = re.search(r"^T:\s*(.+)$", block, re.M)
            if title is None or any(w in (path.stem + title.group(1)).lower() for w in LEFT_OUT):
                continue
            slug = re.sub(r"[^a-z0-9]+", "-", title.group(1).split('"')[0].lower()).strip("-")[:24]
            if slug not in [name for name, _, _ in out]:  # demo.abc repeats a tune of its own file
                out.append((slug, path, x))
    return out


def tune_text(abc: Path, x: int) -> str:
    """The lines of tune X: in an ABC file."""
    if (text := _tunes_in(abc).get(x)) is None:
        raise PhospheneError(f"{abc.name}: no tune X:{x}")
    return text


_NOTE = re.compile(r"(\(\d)|\[[^\]|]*\](\d*/*\d*)|[\^=_]*[A-Ga-gzx][,']*(\d*/*\d*)")


def pickup_quarters(text: str) -> tuple[float, float]:
    """(upbeat, rests before its first note), in quarter notes: the upbeat is what comes before the
    tune's first bar line, modulo a bar (abc2midi plays an upbeat from the first tick, so the first
    downbeat comes that much later).
    Reads what upbeats are made of: notes and rests with lengths, chords, tuplets; chord symbols,
    decorations, grace notes and slurs take no time, nor does broken rhythm change a pair's sum."""
    key_line = re.search(r"^K:.*$", text, re.M)
    header = text[: key_line.start()]
    fields = dict(reversed(re.findall(r"^([LM]):\s*(.*?)\s*$", header, re.M)))  # the first of each
    metre = fields.get("M", "4/4").replace("C|", "2/2").replace("C", "4/4")
    num, den = (int(v) for v in re.match(r"(\d+)/(\d+)", metre).groups()) if re.match(r"\d+/\d+", metre) else (4, 4)
    unit = fields.get("L") or ("1/8" if num / den >= 0.75 else "1/16")
    unit_q = 4 * int(unit.split("/")[0]) / int(unit.split("/")[1])  # quarters per unit note
    lines = text[key_line.end() :].splitlines()
    body = " ".join(re.sub(r"%.*", "", line).rstrip("\\ ") for line in lines if not re.match(r"[A-Za-z]:|%", line))
    body = re.sub(r'"[^"]*"|![^!]*!|\+[^+]*\+|\{[^}]*\}|\[[A-Za-z]:[^\]]*\]', "", body).lstrip(" :|[")
    first_bar = re.split(r"[|:]", body, maxsplit=1)[0]

    def length(text: str) -> float:  # "", "2", "3/2", "/2", "/", "//": in unit notes
        head, slash, digits = text.partition("/")
        value = float(head) if head else 1.0
        if slash:
            digits = digits.lstrip("/")
            value /= float(digits) if digits else 2.0 ** text.count("/")
        return value

    total, tuplet, lead = 0.0, [], None
    for m in _NOTE.finditer(first_bar):
        if m.group(1):  # (p: p notes in the time of 2 (of 3 for (2 and (4), as abc counts simple metres
            p = int(m.group(1)[1])
            tuplet = [{2: 3, 3: 2, 4: 3}.get(p, 2) / p] * p
            continue
        factor = tuplet.pop(0) if tuplet else 1.0
        if lead is None and m.group(0).lstrip("^=_")[:1] not in ("z", "x"):
            lead = total
        total += length(m.group(2) if m.group(2) is not None else m.group(3)) * factor
    bar_q = 4 * num / den
    return (total * unit_q) % bar_q, (lead or 0.0) * unit_q


def beat_unit(numerator: int, denominator: int) -> float:
    """Quarter notes per beat: a dotted quarter in compound metres (and 3/8), else the denominator's note."""
    if denominator == 8 and numerator % 3 == 0:
        return 1.5
    return 4.0 / denominator


def reference_beats(midi: Path, pickup_q: float = 0.0, lead_q: float = 0.0) -> tuple[np.ndarray, int, float]:
    """(beat times in s, tempo events, the last note's end in s) of a MIDI file that starts with an
    upbeat of pickup_q quarter notes (0: on a downbeat), of which lead_q are rests before the first note."""
    import mido

    f = mido.MidiFile(str(midi))
    tick, tempo_at, signature, last_off, first_on = 0, [(0, 500_000)], None, 0, None
    for msg in mido.merge_tracks(f.tracks):
        tick += msg.time
        if msg.type == "set_tempo":
            tempo_at = [t for t in tempo_at if t[0] < tick] + [(tick, msg.tempo)]
        elif msg.type == "time_signature" and signature is None:
            signature = (msg.numerator, msg.denominator)
        elif msg.type == "note_on" and msg.velocity > 0:
            first_on = tick if first_on is None else first_on
            last_off = max(last_off, tick)
        elif msg.type in ("note_off", "note_on"):
            last_off = max(last_off, tick)
    if signature is None or first_on is None:
        raise PhospheneError(f"{midi.name}: no time signature or no notes: not a tune to score")
    per_beat = round(beat_unit(*signature) * f.ticks_per_beat)
    playing = [us for t, us in tempo_at if t <= first_on][-1]  # the tempo the tune starts at
    while 60e6 / playing * f.ticks_per_beat / per_beat > FASTEST_BPM:
        per_beat *= 2
    starts = np.array([t for t, _ in tempo_at], dtype=float)
    seconds_per_tick = np.array([us / 1e6 / f.ticks_per_beat for _, us in tempo_at])
    at = np.concatenate([[0.0], np.cumsum(np.diff(starts) * seconds_per_tick[:-1])])  # seconds at each tempo event

    def seconds(ticks: np.ndarray) -> np.ndarray:
        k = np.searchsorted(starts, ticks, side="right") - 1
        return at[k] + (ticks - starts[k]) * seconds_per_tick[k]

    start = first_on - round(lead_q * f.ticks_per_beat)  # where the tune begins
    downbeat = start + round(pickup_q * f.ticks_per_beat)  # the first bar line
    ticks = downbeat + per_beat * np.arange(-(downbeat - start) // per_beat, (last_off - downbeat) // per_beat + 1, dtype=float)
    return seconds(ticks), len(tempo_at), float(seconds(np.array([float(last_off)]))[0])


def render(name: str, abc: Path, x: int, folder: Path, index: int) -> tuple[Path, np.ndarray]:
    """The tune as a WAV in folder (kept: a second call reuses it) and its reference beats (s)."""
    soundfont = SOUNDFONTS[index % len(SOUNDFONTS)]
    wav = folder / f"tune-{name}-{soundfont.stem}.wav"
    meta = wav.with_suffix(".json")
    if not wav.exists():
        midi = folder / f"tune-{name}.mid"
        r = subprocess.run(["abc2midi", str(abc), str(x), "-o", str(midi)], capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or not midi.exists():
            raise PhospheneError(f"abc2midi {abc.name} {x} failed: {(r.stderr or r.stdout).strip()[-200:]}")
        beats, tempo_events, end_s = reference_beats(midi, *pickup_quarters(tune_text(abc, x)))
        render_wav(midi, soundfont, wav, end_s)
        info = {"tune": name, "abc": abc.name, "x": x, "soundfont": soundfont.name, "tempo_events": tempo_events}
        meta.write_text(json.dumps(info | {"beats": beats.tolist()}))
    return wav, np.array(json.loads(meta.read_text())["beats"])


def renders(folder: Path, names: list[str] | None = None) -> list[tuple[str, Path, np.ndarray]]:
    """(name, WAV, reference beats) for the corpus, all of it or the named tunes."""
    if (why := missing()) is not None:
        raise PhospheneError(f"bench beats --corpus tunes {why}")
    every = tunes()
    chosen = names or [n for n, _, _ in every]
    if unknown := [n for n in chosen if n not in [t[0] for t in every]]:
        raise PhospheneError(f"no tune {unknown[0]}: choose among {', '.join(t[0] for t in every)}")
    out = [(n, *render(n, abc, x, folder, i)) for i, (n, abc, x) in enumerate(every) if n in chosen]
    return [r for r in out if names or r[2][-1] - r[2][0] >= MIN_SECONDS]
