"""Training data: manifests of (audio file, caption) rows in, fixed-length 16 kHz windows out.

    read_manifest(path, split=None)           -> list[Clip]   CSV or JSONL: audio, caption [, start, end, label, split]
    read_audiocaps(csv, audio_dir)            -> list[Clip]   youtube_id / audiocap_id, start_time, caption
    read_clotho(csv, audio_dir)               -> list[Clip]   file_name, caption_1..caption_5 (one Clip per caption)
    read_musiccaps(csv, audio_dir)            -> list[Clip]   ytid, start_s, end_s, caption
    ClipDataset(clips, window_s=4.0, seed=0)  -> Example | None per index (None: the file was skipped)
    collate(examples)                         -> Batch (empty, len 0, when every file in it was skipped)

Audio is decoded with live.audio (streamed, mono, 16 kHz), so memory stays one decoded block however
long the file. A window is a random crop of the clip (seeded by seed, epoch and index, so a run is
repeatable and every worker agrees); a clip shorter than the window is zero-padded at the end and its
mask is False there. An unreadable or empty file never stops training: it is skipped, counted and
listed in `ClipDataset.skipped` ({path: reason}); with DataLoader workers each worker holds its own
list, so `Batch.skipped` also counts the drops batch by batch for the main process.

Manifest errors are different: a missing column, an empty manifest or a caption-less row is a mistake
in the input that the user must fix, so it raises PhospheneError with the file, the row and the fix.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from live.audio import SAMPLE_RATE, AudioError, open_segment, stream
from live.errors import PhospheneError

REQUIRED_COLUMNS = ("audio", "caption")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a")  # tried in this order by the dataset readers
AUDIOCAPS_CLIP_S = 10.0  # AudioCaps clips are the 10 s AudioSet segments starting at start_time


@dataclass(frozen=True)
class Clip:
    """One training pair: a stretch of an audio file and the caption that describes it."""

    audio: Path  # absolute path (relative manifest paths are resolved against the manifest's folder)
    caption: str
    start_s: float = 0.0  # where the clip starts in the file
    end_s: float | None = None  # where it ends; None = the end of the file
    label: str | None = None  # a class name, for zero-shot evaluation ("This is a sound of {label}")
    split: str | None = None  # "train", "val", "test", ... as the manifest says


class Example(NamedTuple):
    waveform: torch.Tensor  # (S,) float32 at 16 kHz, zeros where mask is False
    mask: torch.Tensor  # (S,) bool, True on real audio, False on padding
    caption: str
    label: str | None


@dataclass
class Batch:
    waveforms: torch.Tensor  # (B, S) float32
    masks: torch.Tensor  # (B, S) bool
    captions: list[str]
    labels: list[str | None]
    skipped: int  # examples of this batch dropped because their file could not be used

    def __len__(self) -> int:
        return len(self.captions)


# --- generic manifests ----------------------------------------------------------------------------


def read_manifest(path, split: str | None = None) -> list[Clip]:
    """Read a CSV or JSONL manifest (by extension); keep only rows of `split` when given."""
    path = Path(path)
    if not path.is_file():
        raise PhospheneError(f"manifest {path} does not exist: give a .csv or .jsonl file")
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path)
    elif path.suffix.lower() in (".jsonl", ".json"):
        rows = _jsonl_rows(path)
    else:
        raise PhospheneError(f"manifest {path} is neither .csv nor .jsonl: rename it or convert it to one of them")
    clips = [_clip_of(row, number, path) for number, row in rows]
    if not clips:
        raise PhospheneError(f"manifest {path} has no rows: add one row per audio file (columns audio, caption)")
    if split is not None:
        clips = [c for c in clips if c.split == split]
        if not clips:
            raise PhospheneError(f"manifest {path} has no rows with split={split!r}: check the split column")
    return clips


def _csv_rows(path: Path) -> list[tuple[int, dict]]:
    """(row number from 1, row) for each data row; the header must name the required columns."""
    with open(path, newline="", encoding="utf-8-sig") as f:  # utf-8-sig: spreadsheets write a BOM
        reader = csv.DictReader(f)
        _check_columns(reader.fieldnames or [], path)
        return [(number, row) for number, row in enumerate(reader, start=1)]


def _jsonl_rows(path: Path) -> list[tuple[int, dict]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise PhospheneError(f"manifest {path} line {number} is not valid JSON ({e.msg}): one object per line") from None
            if not isinstance(row, dict):
                raise PhospheneError(f'manifest {path} line {number} is not a JSON object: write {{"audio": ..., "caption": ...}}')
            _check_columns(list(row), path, row_number=number)
            rows.append((number, row))
    return rows


def _check_columns(columns: list[str], path: Path, row_number: int | None = None) -> None:
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            where = f"row {row_number}" if row_number is not None else "header"
            raise PhospheneError(
                f"manifest {path} has no {name!r} column ({where} has: {', '.join(columns) or 'nothing'}): "
                f"every manifest needs the columns audio and caption"
            )


def _clip_of(row: dict, number: int, path: Path) -> Clip:
    caption = str(row.get("caption") or "").strip()
    if not caption:
        raise PhospheneError(f"manifest {path} row {number} has no caption: write one, or remove the row")
    audio = str(row.get("audio") or "").strip()
    if not audio:
        raise PhospheneError(f"manifest {path} row {number} has no audio path: write one, or remove the row")
    start_s = _seconds(row.get("start"), "start", number, path) or 0.0
    end_s = _seconds(row.get("end"), "end", number, path)
    if end_s is not None and end_s <= start_s:
        raise PhospheneError(f"manifest {path} row {number}: end {end_s} s is not after start {start_s} s")
    return Clip(
        audio=(path.parent / audio).resolve(),  # an absolute `audio` replaces the folder in the join
        caption=caption,
        start_s=start_s,
        end_s=end_s,
        label=_text_or_none(row.get("label")),
        split=_text_or_none(row.get("split")),
    )


def _seconds(value, name: str, number: int, path: Path) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise PhospheneError(f"manifest {path} row {number}: {name} {value!r} is not a time: give seconds, 0 or more")
    return seconds


def _text_or_none(value) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


# --- public dataset layouts -----------------------------------------------------------------------


def read_audiocaps(csv_path, audio_dir, *, full_length: bool = False) -> list[Clip]:
    """AudioCaps (audiocap_id, youtube_id, start_time, caption) with its audio in `audio_dir`.

    Downloaders name the files differently; the first that exists of `<audiocap_id>.*`,
    `<youtube_id>.*`, `Y<youtube_id>.*` (AudioSet style) and `<youtube_id>_<start_time>.*` is used.
    Those files hold the 10 s clip already; `full_length=True` says they hold the whole YouTube
    audio instead, and the clip is then cut at start_time.
    """
    clips = []
    for number, row in _dataset_rows(csv_path, ("youtube_id", "start_time", "caption")):
        ytid, start = row["youtube_id"].strip(), row["start_time"].strip()
        stems = [row.get("audiocap_id", "").strip(), ytid, f"Y{ytid}", f"{ytid}_{start}", f"{ytid}_{_int_text(start)}"]
        start_s = float(start) if full_length else 0.0
        clips.append(
            Clip(
                audio=_find_audio(Path(audio_dir), [s for s in stems if s]),
                caption=_caption(row["caption"], number, csv_path),
                start_s=start_s,
                end_s=start_s + AUDIOCAPS_CLIP_S if full_length else None,
            )
        )
    return _non_empty(clips, csv_path)


def read_clotho(csv_path, audio_dir) -> list[Clip]:
    """Clotho captions CSV (file_name, caption_1 .. caption_5): one Clip per caption of each file."""
    clips = []
    for _, row in _dataset_rows(csv_path, ("file_name", "caption_1")):
        audio = Path(audio_dir) / row["file_name"]
        captions = [row[k].strip() for k in sorted(row) if k.startswith("caption_") and (row[k] or "").strip()]
        clips.extend(Clip(audio=audio, caption=c) for c in captions)
    return _non_empty(clips, csv_path)


def read_musiccaps(csv_path, audio_dir, *, full_length: bool = False) -> list[Clip]:
    """MusicCaps (ytid, start_s, end_s, caption; is_audioset_eval gives the split) with audio in `audio_dir`.

    Files named `<ytid>.*` or `<ytid>_<start_s>-<end_s>.*` hold the 10 s clip; `full_length=True` says
    they hold the whole YouTube audio, cut at start_s..end_s.
    """
    clips = []
    for number, row in _dataset_rows(csv_path, ("ytid", "start_s", "end_s", "caption")):
        ytid, start, end = row["ytid"].strip(), row["start_s"].strip(), row["end_s"].strip()
        eval_flag = (row.get("is_audioset_eval") or "").strip().lower()
        clips.append(
            Clip(
                audio=_find_audio(Path(audio_dir), [ytid, f"{ytid}_{start}-{end}", f"[{ytid}]-[{start}-{end}]"]),
                caption=_caption(row["caption"], number, csv_path),
                start_s=float(start) if full_length else 0.0,
                end_s=float(end) if full_length else None,
                label=None,
                split=None if not eval_flag else ("eval" if eval_flag == "true" else "train"),
            )
        )
    return _non_empty(clips, csv_path)


def _dataset_rows(csv_path, columns: tuple[str, ...]) -> list[tuple[int, dict]]:
    path = Path(csv_path)
    if not path.is_file():
        raise PhospheneError(f"{path} does not exist: give the dataset's captions CSV")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise PhospheneError(f"{path} has no {', '.join(missing)} column: is it the right dataset's CSV?")
        return list(enumerate(reader, start=1))


def _find_audio(folder: Path, stems: list[str]) -> Path:
    """The first existing `<stem><ext>`; if none exists, the first candidate (the dataset then skips it as missing)."""
    for stem in stems:
        for ext in AUDIO_EXTENSIONS:
            if (folder / f"{stem}{ext}").is_file():
                return folder / f"{stem}{ext}"
    return folder / f"{stems[0]}{AUDIO_EXTENSIONS[0]}"


def _int_text(seconds: str) -> str:
    try:
        return str(int(float(seconds)))
    except ValueError:
        return seconds


def _caption(text: str | None, number: int, path) -> str:
    caption = (text or "").strip()
    if not caption:
        raise PhospheneError(f"{path} row {number} has no caption: fix or remove the row")
    return caption


def _non_empty(clips: list[Clip], path) -> list[Clip]:
    if not clips:
        raise PhospheneError(f"{path} has no rows: is it the right file?")
    return clips


# --- windows of audio -----------------------------------------------------------------------------


class ClipDataset(torch.utils.data.Dataset):
    """Clips -> Examples of exactly `window_s` at 16 kHz: a random crop, or the clip zero-padded."""

    def __init__(self, clips: list[Clip], *, window_s: float = 4.0, sr: int = SAMPLE_RATE, seed: int = 0, random_crop: bool = True):
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.clips = list(clips)
        self.window_samples = round(window_s * sr)
        self.sr = sr
        self.seed = seed
        self.random_crop = random_crop  # False: always the clip's first window_s (audio2img's choice)
        self.epoch = 0
        self.skipped: dict[Path, str] = {}  # file -> why it could not be used

    def set_epoch(self, epoch: int) -> None:
        """A new epoch draws new crops (call it before each epoch, as with DistributedSampler)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> Example | None:
        clip = self.clips[index]
        duration_s = None if clip.end_s is None else clip.end_s - clip.start_s
        try:
            segment = open_segment(clip.audio, clip.start_s, duration_s)
            n = segment.samples(self.sr)
            rng = np.random.default_rng([self.seed, self.epoch, index])
            offset = int(rng.integers(0, n - self.window_samples + 1)) if self.random_crop and n > self.window_samples else 0
            audio = _read_window(segment, offset, self.window_samples, self.sr)  # (<= S,)
        except AudioError as e:
            self.skipped[clip.audio] = str(e)
            return None
        waveform = np.zeros(self.window_samples, np.float32)
        waveform[: len(audio)] = audio
        mask = np.arange(self.window_samples) < len(audio)
        return Example(torch.from_numpy(waveform), torch.from_numpy(mask), clip.caption, clip.label)


def _read_window(segment, offset: int, length: int, sr: int) -> np.ndarray:
    """Samples [offset, offset + length) of the segment at `sr`, mono, streamed: decoding stops at the end of the window."""
    parts, position = [], 0
    for block in stream(segment, sr=sr, channels=1):  # (n, 1)
        lo, hi = max(offset - position, 0), min(offset + length - position, len(block))
        if hi > lo:
            parts.append(block[lo:hi, 0])
        position += len(block)
        if position >= offset + length:
            break
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def collate(examples: list[Example | None]) -> Batch:
    """Stack the usable examples and count the others; a batch with none usable has len 0 (skip that step)."""
    kept = [e for e in examples if e is not None]
    if not kept:
        return Batch(torch.zeros(0, 0), torch.zeros(0, 0, dtype=torch.bool), [], [], skipped=len(examples))
    return Batch(
        waveforms=torch.stack([e.waveform for e in kept]),  # (B, S)
        masks=torch.stack([e.mask for e in kept]),  # (B, S)
        captions=[e.caption for e in kept],
        labels=[e.label for e in kept],
        skipped=len(examples) - len(kept),
    )
