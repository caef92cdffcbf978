"""Music files in: check a file, measure a segment of it, then stream it at the rate the encoder needs.

    open_segment(path, start_s, duration_s) -> AudioSegment    decodes once, streamed: checks, measures
    stream(segment, sr=16_000, channels=1)  -> float32 blocks  (n, channels), lengths adding up exactly

Anything ffmpeg reads works (wav, flac, mp3, ogg, m4a, the audio track of a video); the first audio
stream is used. Both passes decode from the start of the file and drop what comes before the segment,
frame by frame: ffmpeg's seek in an mp3 lands only near the asked time, and the timestamps it then
reports are estimates, so counting decoded samples is the one way to be exact to the sample. Memory
stays one decoded frame plus one output block, whatever the file's length.

Rate conversion is soxr's streaming resampler (never swresample's): it compensates its own delay, so
output sample k is input time k / sr, and only the last few samples need padding or trimming.
Every bad input raises `AudioError` with one line: the file, what is wrong, what to do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soxr

from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError

RESAMPLE_QUALITY = "HQ"  # soxr: 20-bit precision, passband to 91% of Nyquist (7.3 kHz at 16 kHz out)
TRUNCATED_MIN_S = 0.5  # decodable audio must end this much before the stated length to count as cut...
TRUNCATED_MIN_FRACTION = 0.05  # ...and this fraction of it: encoder padding and rounding stay far below both

# Containers that store their audio's length (WAV data size, FLAC STREAMINFO, MP4 track header, Ogg
# last granule, ...). Elsewhere (raw AAC/AC3, MPEG-TS) ffmpeg guesses the length from the bitrate,
# which can be off by more than the margins above, so a short decode there proves nothing.
STATED_LENGTH_FORMATS = {"wav", "w64", "aiff", "caf", "flac", "ogg", "matroska,webm", "mov,mp4,m4a,3gp,3g2,mj2"}
MP3_LENGTH_TAGS = (b"Xing", b"Info", b"VBRI")  # an mp3 states its length only in one of these frames


class AudioError(PhospheneError):
    """A music file that cannot be used as given: the message names the file, the problem and the fix."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.splitlines()))  # one line, always (a file name may hold a newline)


@dataclass(frozen=True)
class AudioSegment:
    """A checked stretch of one file's first audio stream; `stream` decodes it."""

    path: Path
    start_s: float  # where the segment starts in the file (as asked; the sample is round(start_s * source_sr))
    duration_s: float  # exact: decoded samples in the segment / source_sr (clipped to the end of the audio)
    source_sr: int  # the file's sample rate
    channels: int  # the file's channel count
    codec: str  # ffmpeg's codec name: "mp3", "vorbis", "aac", "pcm_s16le", ...

    def samples(self, sr: int) -> int:
        """How many samples the segment has at `sr` (what `stream` yields in total)."""
        return round(self.duration_s * sr)

    def start_sample(self) -> int:
        """The segment's first sample, counted at the file's own rate from the first decoded sample."""
        return round(self.start_s * self.source_sr)


def open_segment(path, start_s: float = 0.0, duration_s: float | None = None) -> AudioSegment:
    """Validate a file and measure the selected segment by decoding it once, streamed.

    `duration_s=None` means to the end; a duration running past the end is clipped to it, silently.
    Raises AudioError for a missing, empty, unreadable, audio-less, cut-short or damaged file, for a
    segment outside the audio, and for NaN or infinite samples inside the segment.
    """
    path = Path(path)
    _check_is_file(path)
    _check_range(path, start_s, duration_s)
    with _open(path) as container:
        audio = _first_audio_stream(container, path)
        sr, channels, codec = audio.rate, audio.channels, audio.codec_context.codec.canonical_name
        stated_s = _stated_duration_s(container, audio, path)

        start = round(start_s * sr)
        end = None if duration_s is None else start + max(1, round(duration_s * sr))  # exclusive
        decoded = 0  # samples decoded so far = the file index of the next block's first sample
        for block in _decoded_blocks(container, audio, path):  # (n, channels)
            _check_finite(block, decoded, start, end, path, sr)
            decoded += len(block)
            if end is not None and decoded >= end:
                break  # the segment is complete: no need to read the rest of the file
        else:  # the audio ended first
            _check_complete(path, decoded, sr, stated_s)
            if start >= decoded:
                raise AudioError(
                    f"--start {start_s} s is past the end of {path} ({decoded / sr:.1f} s): choose a start below {decoded / sr:.1f} s"
                )
            end = decoded if end is None else min(end, decoded)
    return AudioSegment(path, start_s, (end - start) / sr, sr, channels, codec)


def stream(segment: AudioSegment, *, sr: int = SAMPLE_RATE, channels: int = 1, block_s: float = 1.0) -> Iterator[np.ndarray]:
    """Decode the segment again, streamed: float32 blocks (n, channels) at `sr`, about `block_s` each.

    The blocks' lengths add up to exactly `segment.samples(sr)`. Channels are mixed before resampling
    (fewer to resample): to mono by the mean of all channels; to stereo by duplicating mono, or by a
    left/right downmix of a surround layout (see `_stereo_weights`).
    """
    if channels not in (1, 2, segment.channels):
        raise ValueError(f"channels must be 1, 2 or the file's {segment.channels}, got {channels}")
    if sr <= 0 or block_s <= 0:
        raise ValueError(f"sr and block_s must be positive, got sr={sr}, block_s={block_s}")
    return _stream(segment, sr, channels, max(1, round(block_s * sr)))


def _stream(segment: AudioSegment, sr: int, channels: int, block_samples: int) -> Iterator[np.ndarray]:
    path = segment.path
    with _open(path) as container:
        audio = _first_audio_stream(container, path)
        if (audio.rate, audio.channels) != (segment.source_sr, segment.channels):
            raise AudioError(f"{path} changed since it was opened: open it again")
        mix_weights = _mix_weights(audio.layout, channels)  # (file channels, channels)
        blocks = _decoded_blocks(container, audio, path)
        selected = _segment_of(blocks, segment.start_sample(), segment.samples(segment.source_sr))
        mixed = (block @ mix_weights for block in selected)  # (n, channels) at the file's rate
        resampled = _resampled(mixed, segment.source_sr, sr, channels)
        yield from _exact_blocks(resampled, segment.samples(sr), block_samples, channels)


# --- checks -------------------------------------------------------------------------------------


def _check_is_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"{path} does not exist: check the path (a music or video file)")
    if path.is_dir():
        raise AudioError(f"{path} is a directory: give one music or video file inside it")
    if path.stat().st_size == 0:
        raise AudioError(f"{path} is empty (0 bytes): the copy or download failed; get the file again")


def _check_range(path: Path, start_s: float, duration_s: float | None) -> None:
    if not (math.isfinite(start_s) and start_s >= 0):
        raise AudioError(f"--start {start_s} s for {path} is not a time in the file: give 0 or more seconds")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise AudioError(
            f"--duration {duration_s} s for {path} is not a length: give more than 0 seconds, or leave it out to use the rest of the file"
        )


def _check_finite(block: np.ndarray, first: int, start: int, end: int | None, path: Path, sr: int) -> None:
    """NaN or inf in the segment (float WAVs can hold them) would poison every embedding after it."""
    lo, hi = max(start - first, 0), len(block) if end is None else min(end - first, len(block))
    inside = block[lo:hi]
    if inside.size and not np.isfinite(inside).all():
        bad_sample = first + lo + int(np.flatnonzero(~np.isfinite(inside).all(axis=1))[0])
        raise AudioError(
            f"{path} has a NaN or infinite sample at {bad_sample / sr:.3f} s: the file was written with "
            f"invalid floats; re-export it, or pick a segment (--start/--duration) that avoids it"
        )


def _check_complete(path: Path, decoded: int, sr: int, stated_s: float | None) -> None:
    """A file whose audio ends clearly before the length it states was cut short (a partial download)."""
    if decoded == 0:
        raise AudioError(f"{path} contains no audio (0 samples): use a file with sound in it")
    if stated_s is None:
        return
    missing_s = stated_s - decoded / sr
    if missing_s > TRUNCATED_MIN_S and missing_s > TRUNCATED_MIN_FRACTION * stated_s:
        raise AudioError(
            f"{path} is truncated: its audio ends at {decoded / sr:.1f} s but the file says {stated_s:.1f} s "
            f"(an incomplete download or copy?); get a complete copy of the file"
        )


def _stated_duration_s(container, audio, path: Path) -> float | None:
    """The audio's length as the file states it, or None where ffmpeg would only be guessing it."""
    if audio.duration is None or audio.time_base is None:
        return None
    name = container.format.name
    if name not in STATED_LENGTH_FORMATS and not (name == "mp3" and _mp3_states_length(path)):
        return None
    return float(audio.duration * audio.time_base)


def _mp3_states_length(path: Path) -> bool:
    """Whether the first MPEG frame is a Xing/Info/VBRI header (LAME and ffmpeg write one).

    Without it, ffmpeg estimates an mp3's length from the first frame's bitrate: wrong for VBR.
    """
    with open(path, "rb") as f:
        head = f.read(10)
        if len(head) == 10 and head[:3] == b"ID3":  # skip an ID3v2 tag: its size is 4 syncsafe bytes (7 bits each)
            size = sum((head[6 + i] & 0x7F) << (7 * (3 - i)) for i in range(4))
            f.seek(10 + size + (10 if head[5] & 0x10 else 0))  # + the footer, when flagged
        else:
            f.seek(0)
        data = f.read(4096)
    sync = re.search(rb"\xff[\xe0-\xff]", data)  # the first frame header: 11 set bits
    return sync is not None and any(tag in data[sync.start() : sync.start() + 200] for tag in MP3_LENGTH_TAGS)


# --- decoding -----------------------------------------------------------------------------------


def _open(path: Path):
    try:
        return av.open(str(path))
    except PermissionError:
        raise AudioError(f"{path} cannot be read (permission denied): check the file's permissions") from None
    except (av.error.FFmpegError, OSError) as e:
        raise AudioError(
            f"{path} is not a media file ffmpeg can read ({_reason(e)}): check it is the file you meant "
            f"(wav, flac, mp3, ogg, m4a, a video), or convert it with ffmpeg"
        ) from None


def _first_audio_stream(container, path: Path):
    if not container.streams.audio:
        kinds = ", ".join(s.type for s in container.streams) or "nothing"
        raise AudioError(f"{path} has no audio stream (it holds {kinds}): give a file with sound in it")
    return container.streams.audio[0]


def _decoded_blocks(container, audio, path: Path) -> Iterator[np.ndarray]:
    """The audio stream's frames as float32 (n, channels) arrays in [-1, 1], in order.

    A packet that will not decode is damage, unless it is the file's last one: then the file was
    cut mid-frame, and `_check_complete` judges it by its stated length.
    """
    sr, channels = audio.rate, audio.channels
    decoded = 0
    broken = None  # the error of a packet that would not decode, while we wait to see if it was the last
    try:
        for packet in container.demux(audio):
            if broken is not None and packet.size > 0:
                raise broken
            try:
                frames = packet.decode()
            except av.error.FFmpegError as e:
                broken = e
                continue
            for frame in frames:
                if (frame.sample_rate, frame.layout.nb_channels) != (sr, channels):
                    raise AudioError(
                        f"{path} changes from {sr} Hz x {channels} to {frame.sample_rate} Hz x "
                        f"{frame.layout.nb_channels} channels at {decoded / sr:.1f} s: convert it to one "
                        f"format first (ffmpeg -i in -ar 48000 -ac 2 out.flac)"
                    )
                block = _frame_to_array(frame, channels)
                decoded += len(block)
                yield block
    except av.error.FFmpegError as e:
        raise AudioError(
            f"{path} is damaged at {decoded / sr:.1f} s ({_reason(e)}): re-download it or re-encode it; "
            f"--start/--duration can pick a segment before the damage"
        ) from None


def _frame_to_array(frame, channels: int) -> np.ndarray:
    """One decoded frame -> float32 (n, channels), whatever ffmpeg's sample format."""
    x = frame.to_ndarray()  # planar: (channels, n); packed: (1, n * channels), interleaved
    x = x.T if frame.format.is_planar else x.reshape(-1, channels)
    if x.dtype == np.uint8:  # unsigned 8-bit: silence is 128
        return np.ascontiguousarray((x.astype(np.float32) - 128) / 128)
    if np.issubdtype(x.dtype, np.integer):  # s16, s32, s64: full scale is 2 ** (bits - 1)
        return np.ascontiguousarray(x.astype(np.float32) / np.float32(2 ** (8 * x.itemsize - 1)))
    return np.ascontiguousarray(x, dtype=np.float32)  # flt, dbl


def _segment_of(blocks: Iterator[np.ndarray], start: int, n: int) -> Iterator[np.ndarray]:
    """The parts of consecutive blocks that fall in samples [start, start + n) of the whole."""
    first = 0  # file index of this block's first sample
    for block in blocks:
        lo, hi = max(start - first, 0), min(start + n - first, len(block))
        if hi > lo:
            yield block[lo:hi]
        first += len(block)
        if first >= start + n:
            return


def _mix_weights(layout, channels: int) -> np.ndarray:
    """(file channels, channels) matrix: `block @ weights` mixes a block to `channels`."""
    n = layout.nb_channels
    if channels == n:
        return np.eye(n, dtype=np.float32)
    if channels == 1:  # mono: the mean of all channels
        return np.full((n, 1), 1 / n, dtype=np.float32)
    if n == 1:  # mono to stereo: the same signal on both sides
        return np.ones((1, 2), dtype=np.float32)
    return _stereo_weights([c.name for c in layout.channels])


def _stereo_weights(names: list[str]) -> np.ndarray:
    """Surround -> stereo: left-side channels to the left, right-side to the right, centres to both
    at -3 dB, LFE dropped (ffmpeg's default downmix does the same). Each side is then a weighted mean,
    not ffmpeg's clip-safe sum, so a sound present equally on every channel keeps its level. A layout
    without names (a WAV with no channel mask), or with nothing on one side, gets the mean on both."""
    weights = np.zeros((len(names), 2), dtype=np.float32)
    for i, name in enumerate(names):
        if name.startswith("LFE"):
            continue
        elif name in ("FLC",) or name.endswith("L"):
            weights[i] = (1, 0)
        elif name in ("FRC",) or name.endswith("R"):
            weights[i] = (0, 1)
        elif name.endswith("C"):
            weights[i] = (math.sqrt(0.5), math.sqrt(0.5))
        else:  # NONE / USRn: the order is unknown
            break
    else:
        if weights.sum(axis=0).all():  # both sides have a channel
            return weights / weights.sum(axis=0, keepdims=True)
    return np.full((len(names), 2), 1 / len(names), dtype=np.float32)


def _resampled(blocks: Iterator[np.ndarray], source_sr: int, sr: int, channels: int) -> Iterator[np.ndarray]:
    """Blocks at `source_sr` -> blocks at `sr`, through soxr's streaming resampler (delay-compensated)."""
    if source_sr == sr:
        yield from blocks
        return
    resampler = soxr.ResampleStream(source_sr, sr, channels, dtype="float32", quality=RESAMPLE_QUALITY)
    for block in blocks:
        yield resampler.resample_chunk(np.ascontiguousarray(block, dtype=np.float32))
    yield resampler.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)  # the tail it holds


def _exact_blocks(arrays: Iterator[np.ndarray], total: int, block_samples: int, channels: int) -> Iterator[np.ndarray]:
    """Re-cut arrays into blocks of `block_samples` (the last shorter) adding up to exactly `total`:
    trimmed if the arrays run long, zero-padded if short (the resampler's last fraction of a sample)."""
    buffer = np.zeros((0, channels), dtype=np.float32)  # (n, channels): arrived, not yet yielded
    emitted = 0
    for x in arrays:
        buffer = np.concatenate([buffer, x[: total - emitted - len(buffer)]])
        while len(buffer) >= block_samples:
            yield buffer[:block_samples]
            buffer, emitted = buffer[block_samples:], emitted + block_samples
        if emitted + len(buffer) == total:
            break
    short = total - emitted - len(buffer)
    buffer = np.concatenate([buffer, np.zeros((short, channels), dtype=np.float32)])
    for i in range(0, len(buffer), block_samples):
        yield buffer[i : i + block_samples]


def _reason(error: Exception) -> str:
    """ffmpeg's own words for an error, without the errno and the file name PyAV adds."""
    return getattr(error, "strerror", None) or str(error)
