"""Training data: manifests of (audio file, caption) rows in, fixed-length 16 kHz windows out.

    read_manifest(path, split=None)           -> list[Clip]   CSV or JSONL: audio, caption [, start, end, label, split]
    read_audiocaps(csv, audio_dir)            -> list[Clip]   youtube_id / audiocap_id, start_time, caption
    read_clotho(csv, audio_dir)               -> list[Clip]   file_name, caption_1..caption_5 (one Clip per caption)
    read_musiccaps(csv, audio_dir)            -> list[Clip]   ytid, start_s, end_s, caption
    read_hf_dataset(folder, split=None)       -> list[Clip]   save_to_disk folder, audiofolder or parquet: audio, caption [, label]
    ClipDataset(clips, window_s=4.0, seed=0)  -> Example, or Skipped(path, reason) for an unusable file
    collate(examples)                         -> Batch (empty, len 0, when every file in it was skipped)

Audio is decoded with live.audio.decode (streamed, mono, 16 kHz), so memory stays one decoded block however
long the file. A window is a random crop of the clip (seeded by seed, epoch and index, so a run is
repeatable and every worker agrees), preferring stretches where the clip sounds (`active_offsets`:
a crop of the silence between notes teaches nothing); a clip shorter than the window is zero-padded at the end and its
mask is False there. An unreadable or empty file never stops training: it is skipped, counted and
listed in `ClipDataset.skipped` ({path: reason}); with DataLoader workers each worker holds its own
list, so `Batch.skipped` also counts the drops batch by batch for the main process.

Manifest errors are different: a missing column, an empty manifest, a caption-less row or a row whose
start lies past the end of its file is a mistake in the input that the user must fix, so it raises
PhospheneError with the file, the row and the fix.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from live.audio.decode import STATED_LENGTH_FORMATS, AudioError, open_segment, stream
from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError

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


class Skipped(NamedTuple):
    """What the dataset gives for a clip whose file could not be used (it travels back from decoding workers)."""

    audio: Path
    reason: str


@dataclass
class Batch:
    waveforms: torch.Tensor  # (B, S) float32
    masks: torch.Tensor  # (B, S) bool
    captions: list[str]
    labels: list[str | None]
    skipped: int  # examples of this batch dropped because their file could not be used
    skipped_files: list[Skipped] = dataclasses.field(default_factory=list)  # which, and why

    def __len__(self) -> int:
        return len(self.captions)


# --- generic manifests ----------------------------------------------------------------------------


def read_manifest(path, split: str | None = None) -> list[Clip]:
    """Read a CSV or JSONL manifest (by extension); keep only rows of `split` when given."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise PhospheneError(
            f"manifest {path} is a folder: give a .csv or .jsonl file, or pass a Hugging Face `datasets` folder as --dataset"
        )
    if not path.is_file():
        looked = "" if path.is_absolute() else f" (looked for {path.resolve()})"
        raise PhospheneError(f"manifest {path} does not exist{looked}: give a .csv or .jsonl file")
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path)
    elif path.suffix.lower() in (".jsonl", ".json"):
        rows = _jsonl_rows(path)
    else:
        raise PhospheneError(f"manifest {path} is neither .csv nor .jsonl: rename it or convert it to one of them")
    clips = [_clip_of(row, number, path) for number, row in rows]
    _check_starts(clips, [number for number, _ in rows], path)
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


def _check_starts(clips: list[Clip], numbers: list[int], path: Path) -> None:
    """Refuse a row that starts at or past the end of its file: it can never give a sample.

    Each file's length is read once from its header, where the format states it; a file that cannot
    be opened, or does not state its length (mp3), is left to ClipDataset, which skips it if unusable.
    """
    lengths: dict[Path, float | None] = {}
    for number, clip in zip(numbers, clips, strict=True):
        if clip.start_s > 0 and clip.audio not in lengths:
            lengths[clip.audio] = _stated_length_s(clip.audio)
        length_s = lengths.get(clip.audio)
        if length_s is not None and clip.start_s >= length_s:
            raise PhospheneError(
                f"manifest {path} row {number}: start {clip.start_s:g} s lies past the end of {clip.audio} "
                f"({length_s:.2f} s long): fix the row's start and end, or remove the row"
            )


def _stated_length_s(audio: Path) -> float | None:
    """An audio file's length in seconds as its header states it, or None (unreadable, or not stated)."""
    import av  # PyAV, as live.audio.decode

    try:
        with av.open(str(audio)) as container:
            stream = container.streams.audio[0]
            if container.format.name not in STATED_LENGTH_FORMATS or stream.duration is None:
                return None
            return float(stream.duration * stream.time_base)
    except (av.error.FFmpegError, OSError, IndexError):  # no such file, not media, no audio stream
        return None


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


# --- Hugging Face datasets -----------------------------------------------------------------------

HF_METADATA_FILES = ("metadata.csv", "metadata.jsonl", "metadata.parquet")  # audiofolder's names for the captions file
HF_AUDIO_CACHE_SUFFIX = ".audio"  # embedded audio of <folder> is written to <folder>.audio/ beside it


def read_hf_dataset(
    source,
    *,
    split: str | None = None,
    audio_column: str = "audio",
    caption_column: str = "caption",
    label_column: str = "label",
    cache_dir=None,
) -> list[Clip]:
    """A local Hugging Face dataset -> Clips; the split name (a DatasetDict key, a split folder, or a `split` column) is Clip.split.

    `source` is a folder, one of:
      - written by `Dataset.save_to_disk` / `DatasetDict.save_to_disk` (it holds state.json or
        dataset_dict.json): read with `datasets.load_from_disk`;
      - an audiofolder (audio files with metadata.csv / .jsonl / .parquet, whose `file_name` is
        relative to the metadata file; train/, test/ ... subfolders are splits, else all is "train");
      - any other data folder `datasets.load_dataset(folder)` reads offline (parquet, arrow shards),
        its Arrow copy kept in `cache_dir` (default: Hugging Face's cache).
    `split` keeps one split; `label_column` fills Clip.label when the dataset has it (ClassLabel ids
    become their names). A list of captions in a row gives one Clip per caption, as read_clotho does.

    Audio is never decoded by `datasets` (that needs torchcodec and FFmpeg's shared libraries): the
    audio column is read undecoded, as {path, bytes}, and ClipDataset decodes the file with PyAV. A
    row's existing file is used where it is; audio stored inside the dataset (save_to_disk and parquet
    embed the bytes) is written once to `<source>.audio/` beside the folder, one file per distinct
    content (`<name>-<sha256>.<ext>`), and read from there. The audiofolder layout is read here rather
    than by load_dataset("audiofolder"), which in datasets 4+ cannot even list file paths without
    torchcodec. Rows are counted from 0, as `dataset[i]`.
    """
    source = Path(source).expanduser().resolve()
    if not source.is_dir():
        raise PhospheneError(
            f"Hugging Face dataset {source} is not a folder: give a folder written by save_to_disk, or an audiofolder with metadata.csv"
        )
    import datasets  # here, not at the top: pyarrow and pandas take a second to import
    from datasets.data_files import DataFilesDict, EmptyDatasetError, get_data_patterns

    if (source / "state.json").is_file() or (source / "dataset_dict.json").is_file():
        _check_saved_shards(source)
        return _hf_clips(datasets.load_from_disk(str(source)), source, split, audio_column, caption_column, label_column)
    try:
        files = DataFilesDict.from_patterns(get_data_patterns(str(source)), base_path=str(source))  # {split: [path]}
    except EmptyDatasetError:
        raise PhospheneError(
            f"Hugging Face dataset {source} has no data files: add audio files and a metadata.csv (file_name, caption)"
        ) from None
    if any(Path(f).name in HF_METADATA_FILES or Path(f).suffix.lower() in AUDIO_EXTENSIONS for fs in files.values() for f in fs):
        return _audiofolder_clips(files, source, split, caption_column, label_column)
    try:
        loaded = datasets.load_dataset(str(source), cache_dir=None if cache_dir is None else str(cache_dir))
    except (ValueError, FileNotFoundError, datasets.exceptions.DatasetGenerationError) as e:
        raise PhospheneError(
            f"Hugging Face dataset {source} could not be loaded ({e}): give a save_to_disk folder, an audiofolder or parquet files"
        ) from None
    return _hf_clips(loaded, source, split, audio_column, caption_column, label_column)


def _check_saved_shards(source: Path) -> None:
    """A dataset saved with no rows has no data files, and load_from_disk fails on it with an IndexError (datasets 5.2)."""
    states = [source / "state.json"] if (source / "state.json").is_file() else sorted(source.glob("*/state.json"))  # one per split
    for state in states:
        if not json.loads(state.read_text(encoding="utf-8")).get("_data_files"):
            raise PhospheneError(f"Hugging Face dataset {state.parent} has no rows: add one row per audio file (columns audio, caption)")


def _hf_clips(loaded, source: Path, split, audio_column: str, caption_column: str, label_column: str) -> list[Clip]:
    """Clips of a Dataset (split None, or its `split` column) or a DatasetDict (split = its key)."""
    from datasets import Audio, ClassLabel, DatasetDict

    parts = dict(loaded) if isinstance(loaded, DatasetDict) else {None: loaded}  # {split name: Dataset}
    if split is not None and isinstance(loaded, DatasetDict):
        if split not in parts:
            raise PhospheneError(f"Hugging Face dataset {source} has no split {split!r} (it has: {', '.join(parts)}): give one of those")
        parts = {split: parts[split]}
    clips = []
    for name, dataset in parts.items():
        where = f"Hugging Face dataset {source}" + (f" split {name!r}" if name is not None else "")
        for column in (audio_column, caption_column):
            if column not in dataset.column_names:
                raise PhospheneError(
                    f"{where} has no {column!r} column (it has: {', '.join(dataset.column_names) or 'nothing'}): "
                    f"rename the column, or name it with audio_column= / caption_column="
                )
        label = dataset.features.get(label_column)
        columns = [c for c in (audio_column, caption_column, label_column, "split") if c in dataset.column_names]
        dataset = dataset.select_columns(columns).cast_column(audio_column, Audio(decode=False))  # rows give {path, bytes}
        for index, row in enumerate(dataset):
            audio = _hf_audio_file(row[audio_column], source, f"{where} row {index}")
            label_value = row.get(label_column)
            if isinstance(label, ClassLabel) and label_value is not None:
                label_value = label.int2str(label_value) if label_value >= 0 else None  # -1: no label
            for caption in _hf_captions(row[caption_column], f"{where} row {index}"):
                clips.append(
                    Clip(audio=audio, caption=caption, label=_text_or_none(label_value), split=name or _text_or_none(row.get("split")))
                )
    return _hf_select(clips, source, split)


def _hf_audio_file(value, source: Path, where: str) -> Path:
    """The file behind an undecoded Audio value {path, bytes}: the file itself, or its bytes written beside the dataset."""
    path, data = (value or {}).get("path"), (value or {}).get("bytes")
    if path and Path(path).is_absolute() and Path(path).is_file():
        return Path(path)
    if data:
        return _cached_audio(data, Path(path or "audio").name, source)
    if path:
        return (source / path).resolve()  # relative: from the dataset's folder; a missing file is skipped by ClipDataset
    raise PhospheneError(f"{where} has no audio (neither path nor bytes): fix or remove the row")


def _cached_audio(data: bytes, name: str, source: Path) -> Path:
    """Write embedded audio once to <source>.audio/<stem>-<sha256 16 hex><ext>; the same bytes give the same file."""
    import hashlib

    folder = source.with_name(source.name + HF_AUDIO_CACHE_SUFFIX)
    stem, ext = Path(name).stem, Path(name).suffix  # PyAV reads the format from the bytes; the suffix is for people
    path = folder / f"{stem}-{hashlib.sha256(data).hexdigest()[:16]}{ext}"
    if path.is_file() and path.stat().st_size == len(data):
        return path
    try:
        folder.mkdir(exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)  # atomic: a reader never sees half a file
    except OSError as e:
        raise PhospheneError(
            f"cannot write the audio embedded in {source} to {folder} ({e.strerror}): make that folder writable, or copy the dataset somewhere writable"
        ) from None
    return path


def _hf_captions(value, where: str) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    captions = [str(v).strip() for v in values if v is not None and str(v).strip()]
    if not captions:
        raise PhospheneError(f"{where} has no caption: write one, or remove the row")
    return captions


def _audiofolder_clips(files, source: Path, split, caption_column: str, label_column: str) -> list[Clip]:
    """An audiofolder: each split's metadata files (found where datasets finds them) give file_name, caption [, label]."""
    files = {str(name): paths for name, paths in files.items()}  # NamedSplit -> its name
    if split is not None and split not in files:
        raise PhospheneError(f"audiofolder {source} has no split {split!r} (it has: {', '.join(files)}): give one of those")
    clips = []
    for name, paths in files.items():
        if split is not None and name != split:
            continue
        for metadata in sorted(Path(p) for p in paths if Path(p).name in HF_METADATA_FILES):
            for index, row in enumerate(_metadata_rows(metadata)):
                where = f"audiofolder metadata {metadata} row {index}"
                for column in ("file_name", caption_column):
                    if column not in row:
                        raise PhospheneError(
                            f"audiofolder metadata {metadata} has no {column!r} column (it has: {', '.join(row) or 'nothing'}): "
                            f"an audiofolder's metadata needs file_name and {caption_column}"
                        )
                audio = metadata.parent / str(row["file_name"] or "")
                for caption in _hf_captions(row[caption_column], where):
                    clips.append(Clip(audio=audio.resolve(), caption=caption, label=_text_or_none(row.get(label_column)), split=str(name)))
    if not any(Path(p).name in HF_METADATA_FILES for paths in files.values() for p in paths):
        raise PhospheneError(f"audiofolder {source} has no metadata.csv or metadata.jsonl: write one with the columns file_name, caption")
    return _hf_select(clips, source, split)


def _metadata_rows(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))
    if path.suffix == ".parquet":
        import pyarrow.parquet  # installed with datasets

        return pyarrow.parquet.read_table(path).to_pylist()
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise PhospheneError(
                    f"audiofolder metadata {path} line {number} is not valid JSON ({e.msg}): one object per line"
                ) from None
    return rows


def _hf_select(clips: list[Clip], source: Path, split: str | None) -> list[Clip]:
    if split is not None:
        clips = [c for c in clips if c.split == split]
        if not clips:
            raise PhospheneError(f"Hugging Face dataset {source} has no rows with split={split!r}: check the split names")
    if not clips:
        raise PhospheneError(f"Hugging Face dataset {source} has no rows: add one row per audio file (columns audio, caption)")
    return clips


# --- windows of audio -----------------------------------------------------------------------------


class ClipDataset(torch.utils.data.Dataset):
    """Clips -> Examples of exactly `window_s` at 16 kHz: a random crop, or the clip zero-padded."""

    def __init__(
        self,
        clips: list[Clip],
        *,
        window_s: float = 4.0,
        sr: int = SAMPLE_RATE,
        seed: int = 0,
        random_crop: bool = True,
        active_crop: bool = True,
    ):
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.clips = list(clips)
        self.window_samples = round(window_s * sr)
        self.sr = sr
        self.seed = seed
        self.random_crop = random_crop  # False: always the same window of a clip (its first, or its most active)
        self.active_crop = active_crop  # prefer windows of active audio (see active_offsets); False: anywhere / the first
        self.epoch = 0
        self.skipped: dict[Path, str] = {}  # file -> why it could not be used

    def set_epoch(self, epoch: int) -> None:
        """A new epoch draws new crops (call it before each epoch, as with DistributedSampler)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> Example | Skipped:
        clip = self.clips[index]
        try:
            audio, _ = self.crop(index)
        except AudioError as e:
            self.skipped[clip.audio] = str(e)
            return Skipped(clip.audio, str(e))
        waveform = np.zeros(self.window_samples, np.float32)
        waveform[: len(audio)] = audio
        mask = np.arange(self.window_samples) < len(audio)
        return Example(torch.from_numpy(waveform), torch.from_numpy(mask), clip.caption, clip.label)


    def crop(self, index: int) -> tuple[np.ndarray, int]:
        """(samples of clip `index`'s window, (<= S,), its offset in samples from the clip's start); raises AudioError."""
        clip = self.clips[index]
        duration_s = None if clip.end_s is None else clip.end_s - clip.start_s
        segment = open_segment(clip.audio, clip.start_s, duration_s)
        n = segment.samples(self.sr)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.active_crop and self.window_samples < n <= MAX_SCAN_S * self.sr:
            whole = _read_window(segment, 0, n, self.sr)  # (n,): a short clip, scanned for where it sounds
            candidates = active_offsets(whole, self.window_samples, self.sr)
            offset = int(rng.choice(candidates)) if self.random_crop else int(candidates[0])
            return whole[offset : offset + self.window_samples], offset
        offset = int(rng.integers(0, n - self.window_samples + 1)) if self.random_crop and n > self.window_samples else 0
        return _read_window(segment, offset, self.window_samples, self.sr), offset  # (<= S,)


MAX_SCAN_S = 60.0  # clips up to this long are scanned for active windows; longer ones (music) are cropped anywhere
ACTIVE_FRAME_S = 0.02  # loudness frames of the scan
ACTIVE_DB = 30.0  # a frame within this of the clip's loudest frame is active
SILENT_DBFS = -80.0  # a clip whose loudest frame is below this is silence: every window is as good
ACTIVE_SHARE = 0.5  # candidate windows hold at least this share of the best window's active frames


def active_offsets(audio: np.ndarray, window: int, sr: int) -> np.ndarray:
    """Window starts (samples) worth cropping at: the most active window's first (the earliest of a tie), then the other candidates in order.

    A 0.5 s crop of a 4 s clip with three short notes is near-silent about 40% of the time (measured on
    rendered General MIDI phrases): a window of silence captioned "a flute" teaches nothing. Frames of
    ACTIVE_FRAME_S within ACTIVE_DB of the clip's loudest are active; a window is a candidate when it
    holds at least ACTIVE_SHARE of the most active window's count. The crop stays real audio (quiet
    frames inside it are kept and unmasked); only the choice of where it starts changes.
    """
    frame = max(1, round(ACTIVE_FRAME_S * sr))
    frames = len(audio) // frame
    if frames < 1:
        return np.array([0])
    power = np.square(audio[: frames * frame].astype(np.float64)).reshape(frames, frame).mean(1)  # (F,)
    level_db = 10 * np.log10(power + 1e-20)
    if level_db.max() < SILENT_DBFS:
        return np.arange(0, len(audio) - window + 1, frame)
    active = np.concatenate([[0], np.cumsum(level_db >= level_db.max() - ACTIVE_DB)])  # (F + 1,)
    span = min(frames, max(1, window // frame))  # frames per window
    starts = np.arange(0, min(frames - span, (len(audio) - window) // frame) + 1)  # in frames
    counts = active[starts + span] - active[starts]
    chosen = starts[counts >= ACTIVE_SHARE * counts.max()]
    best = starts[counts == counts.max()][0]
    return np.concatenate([[best], chosen[chosen != best]]) * frame


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


def collate(examples: list[Example | Skipped | None]) -> Batch:
    """Stack the usable examples and count the others; a batch with none usable has len 0 (skip that step)."""
    kept = [e for e in examples if isinstance(e, Example)]
    dropped = [e for e in examples if isinstance(e, Skipped)]
    if not kept:
        return Batch(torch.zeros(0, 0), torch.zeros(0, 0, dtype=torch.bool), [], [], skipped=len(examples), skipped_files=dropped)
    return Batch(
        waveforms=torch.stack([e.waveform for e in kept]),  # (B, S)
        masks=torch.stack([e.mask for e in kept]),  # (B, S)
        captions=[e.caption for e in kept],
        labels=[e.label for e in kept],
        skipped=len(examples) - len(kept),
        skipped_files=dropped,
    )
