"""Audio paired with pictures, for `--target clip-image` (Wav2CLIP's road): manifests, windows and frames.

    read_picture_manifest(path, window_s)   -> list[PictureClip]   CSV or JSONL rows: video[,label] or audio,image[,label] (+ split)
    write_video_manifest(folder, out)       -> out                  every video under folder, labelled by its parent folder
    PictureDataset(clips, processor, ...)   -> PictureExample: a window of audio and the picture at its time, or Skipped
    collate_pictures(examples)              -> PictureBatch

A `video` row gives both sides from one file: the audio window and the frame at the window's middle
(decoded with PyAV). An `audio,image` row pairs an audio file with one still picture. Paths are
relative to the manifest, as in the text manifests. A row that cannot give a pair (a video without a
video or an audio stream, an image that cannot be read, audio shorter than one window) is one
warning line naming the file and why, skipped and counted; the run goes on with the rest.

Each picture gets an id from its pixels as the CLIP processor gives them (`picture_id`): pictures
that look the same (one image shared by several rows, identical frames) are one candidate in
retrieval and never each other's negatives, as identical captions are in the text space.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from live.audio.decode import AudioError, open_segment
from live.core.errors import PhospheneError
from training.data import Batch, Clip, ClipDataset, Skipped

log = logging.getLogger("phosphene")

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v")


@dataclass(frozen=True)
class PictureClip(Clip):
    """A clip and its picture: `image`, or (None) the frame of the `audio` file itself, a video, at the window's time."""

    image: Path | None = None


class PictureExample(NamedTuple):
    waveform: torch.Tensor  # (S,) float32 at 16 kHz
    mask: torch.Tensor  # (S,) bool
    caption: str  # the picture's file (image or video), for messages
    label: str | None
    pixels: torch.Tensor  # (3, H, W) float32: the CLIP processor's pixel values
    picture: int  # picture_id(pixels)


@dataclass
class PictureBatch(Batch):
    pixels: torch.Tensor = dataclasses.field(default_factory=lambda: torch.zeros(0))  # (B, 3, H, W)
    pictures: torch.Tensor = dataclasses.field(default_factory=lambda: torch.zeros(0, dtype=torch.long))  # (B,) picture ids


def picture_id(pixels: torch.Tensor) -> int:
    """A stable 63-bit id of a picture's pixel values (the same picture, the same id, in any process)."""
    data = pixels.detach().to(torch.float16).cpu().numpy().tobytes()  # float16: what the eye (and CLIP) could tell apart
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


# --- manifests ------------------------------------------------------------------------------------


def read_picture_manifest(path, *, window_s: float, split: str | None = None) -> list[PictureClip]:
    """The usable rows of a CSV or JSONL manifest of video[,label] or audio,image[,label] rows (+ optional split)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise PhospheneError(f"manifest {path} is not a file: give a .csv or .jsonl with rows video[,label] or audio,image[,label]")
    rows = _rows(path)
    if not rows:
        raise PhospheneError(f"manifest {path} has no rows: write one row per video (video[,label]) or pair (audio,image[,label])")
    clips, bad = [], 0
    for number, row in rows:
        if split is not None and _text(row.get("split")) != split:
            continue
        try:
            clips.append(_checked_clip(row, number, path, window_s))
        except _BadRow as e:
            bad += 1
            log.warning("manifest %s row %d: %s; skipped", path, number, e)
    if bad:
        log.warning("manifest %s: %d of %d rows skipped (listed above)", path, bad, bad + len(clips))
    if not clips:
        which = f" with split={split!r}" if split is not None else ""
        raise PhospheneError(f"manifest {path} has no usable rows{which}: fix the rows listed above, or add some")
    return clips


class _BadRow(Exception):
    """A row that cannot give an (audio, picture) pair: skipped, with this reason."""


def _rows(path: Path) -> list[tuple[int, dict]]:
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise PhospheneError(f"manifest {path} line {number} is not valid JSON ({e.msg}): one object per line") from None
                if not isinstance(row, dict):
                    raise PhospheneError(f'manifest {path} line {number} is not a JSON object: write {{"video": ...}} or {{"audio": ..., "image": ...}}')
                rows.append((number, row))
        columns = set().union(*(r.keys() for _, r in rows)) if rows else set()
    elif path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(enumerate(reader, start=1))
            columns = set(reader.fieldnames or [])
    else:
        raise PhospheneError(f"manifest {path} is neither .csv nor .jsonl: rename it or convert it to one of them")
    if "video" not in columns and not {"audio", "image"} <= columns:
        raise PhospheneError(
            f"manifest {path} has neither a 'video' column nor 'audio' and 'image' columns (it has: {', '.join(sorted(columns)) or 'nothing'}): "
            "--target clip-image reads rows video[,label] or audio,image[,label]"
        )
    return rows


def _checked_clip(row: dict, number: int, path: Path, window_s: float) -> PictureClip:
    video, audio, image = _text(row.get("video")), _text(row.get("audio")), _text(row.get("image"))
    label, split = _text(row.get("label")), _text(row.get("split"))
    if video:
        file = (path.parent / video).resolve()
        _check_video(file)
        _check_audio(file, window_s)
        return PictureClip(audio=file, caption=str(file), label=label, split=split)
    if not (audio and image):
        raise _BadRow("gives neither a video nor both an audio and an image file")
    audio_file, image_file = (path.parent / audio).resolve(), (path.parent / image).resolve()
    _check_audio(audio_file, window_s)
    _check_image(image_file)
    return PictureClip(audio=audio_file, caption=str(image_file), label=label, split=split, image=image_file)


def _check_video(file: Path) -> None:
    import av

    try:
        with av.open(str(file)) as container:
            if not container.streams.video:
                raise _BadRow(f"{file} has no video stream (give its picture as an image: audio,image[,label])")
    except (av.error.FFmpegError, OSError) as e:
        raise _BadRow(f"{file} cannot be read as a video ({type(e).__name__}: {e})") from None


def _check_audio(file: Path, window_s: float) -> None:
    try:
        segment = open_segment(file)
    except AudioError as e:
        raise _BadRow(str(e)) from None
    if segment.duration_s < window_s:
        raise _BadRow(f"{file} has {segment.duration_s:.2f} s of audio, shorter than one {window_s:g} s window (lower --window-s, or drop it)")


def _check_image(file: Path) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as picture:
            picture.convert("RGB").load()
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise _BadRow(f"image {file} cannot be read ({e})") from None


def _text(value) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def write_video_manifest(folder, out, *, hold_out_every: int = 0) -> tuple[Path, int]:
    """Every video file under `folder` as a row video,label (label: its parent folder's name, none
    for files directly in `folder`; VGGSound-style folders per class work as they are), paths
    relative to `out`; with hold_out_every N, every Nth video of a label is split test, the rest train.
    Returns (out, rows). Written to a temporary name and renamed: whole or not at all."""
    folder, out = Path(folder).expanduser(), Path(out).expanduser()
    if not folder.is_dir():
        raise PhospheneError(f"--videos {folder}: no such folder; give the folder that holds your video files")
    videos = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
    if not videos:
        raise PhospheneError(f"--videos {folder}: no video files in it ({', '.join(VIDEO_EXTENSIONS)}); give the folder that holds them")
    seen: dict[str, int] = {}
    rows = []
    for video in videos:
        label = video.parent.name if video.parent != folder else ""
        k = seen[label] = seen.get(label, -1) + 1
        row = {"video": os.path.relpath(video.resolve(), out.resolve().parent), "label": label}
        if hold_out_every:
            row["split"] = "test" if k % hold_out_every == hold_out_every - 1 else "train"
        rows.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["video", "label", *(["split"] if hold_out_every else [])])
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out)
    return out, len(rows)


# --- windows and their pictures -------------------------------------------------------------------


class PictureDataset(ClipDataset):
    """ClipDataset's windows, each with its picture as CLIP pixel values: the clip's image, or its
    video's frame at the middle of the window."""

    def __init__(self, clips: list[PictureClip], *, processor, **windows):
        super().__init__(clips, **windows)
        self.processor = processor  # transformers CLIPImageProcessor: resize, centre crop, normalise
        self._images: dict[Path, tuple[torch.Tensor, int]] = {}  # still pictures, prepared once per process

    def __getitem__(self, index: int) -> PictureExample | Skipped:
        clip = self.clips[index]
        try:
            audio, offset = self.crop(index)
            if clip.image is not None:
                pixels, picture = self._still(clip.image)
            else:
                pixels = self._pixels(frame_at(clip.audio, clip.start_s + (offset + self.window_samples / 2) / self.sr))
                picture = picture_id(pixels)
        except (AudioError, PictureError) as e:
            self.skipped[clip.audio] = str(e)
            return Skipped(clip.audio, str(e))
        waveform = np.zeros(self.window_samples, np.float32)
        waveform[: len(audio)] = audio
        mask = np.arange(self.window_samples) < len(audio)
        return PictureExample(torch.from_numpy(waveform), torch.from_numpy(mask), clip.caption, clip.label, pixels, picture)

    def _still(self, image: Path) -> tuple[torch.Tensor, int]:
        if image not in self._images:
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(image) as picture:
                    pixels = self._pixels(picture.convert("RGB"))
            except (UnidentifiedImageError, OSError, ValueError) as e:
                raise PictureError(f"image {image} cannot be read ({e})") from None
            self._images[image] = (pixels, picture_id(pixels))
        return self._images[image]

    def _pixels(self, picture) -> torch.Tensor:
        return self.processor(images=picture, return_tensors="pt").pixel_values[0]  # (3, H, W)


class PictureError(Exception):
    """A picture that could not be had (the dataset skips its clip)."""


def frame_at(video: Path, time_s: float):
    """The frame of `video` shown at `time_s` (the last one starting at or before it), as a PIL image."""
    import av

    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            if time_s > 0 and stream.time_base:
                container.seek(int(time_s / stream.time_base), stream=stream, backward=True)
            shown = None
            for frame in container.decode(stream):
                if shown is not None and frame.time is not None and frame.time > time_s:
                    break
                shown = frame
            if shown is None:
                raise PictureError(f"{video} has no frame at {time_s:.2f} s")
            return shown.to_image()
    except (av.error.FFmpegError, OSError, IndexError) as e:
        raise PictureError(f"{video}: no frame could be decoded ({type(e).__name__}: {e})") from None


def collate_pictures(examples: list) -> PictureBatch:
    kept = [e for e in examples if isinstance(e, PictureExample)]
    dropped = [e for e in examples if isinstance(e, Skipped)]
    if not kept:
        return PictureBatch(torch.zeros(0, 0), torch.zeros(0, 0, dtype=torch.bool), [], [], skipped=len(examples), skipped_files=dropped)
    return PictureBatch(
        waveforms=torch.stack([e.waveform for e in kept]),  # (B, S)
        masks=torch.stack([e.mask for e in kept]),  # (B, S)
        captions=[e.caption for e in kept],
        labels=[e.label for e in kept],
        skipped=len(examples) - len(kept),
        skipped_files=dropped,
        pixels=torch.stack([e.pixels for e in kept]),  # (B, 3, H, W)
        pictures=torch.tensor([e.picture for e in kept]),  # (B,)
    )
