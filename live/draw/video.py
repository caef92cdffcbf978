"""MP4 out: H.264 video at exactly `fps`, the music muxed in as AAC, and nothing half-written.

`Mp4Writer` encodes into a hidden temporary file beside the output (`.{stem}.partial-{host}-{pid}.mp4`,
same folder so the final `os.replace` is atomic) and renames it over the output only in `commit()`. A
render that fails or is interrupted (Ctrl-C included) deletes the temporary file and leaves any
older output untouched. A render killed outright (kill -9, a power cut) cannot: the next render of
the same output removes the partial files of renders that are gone (same host, process not
running), never one of a render still running or of another machine's.

Timing is by count, never by clock: video frame k has pts k in a 1/fps time base, and audio pts is
the number of samples written before it. The AAC encoder's priming (1024 samples of delay) is
written by FFmpeg's MP4 muxer as an edit list, so players start the sound at t = 0 in step with
frame 0.

`check_output_path` runs at start-up, before any model loads, so a bad output path costs the user
a second rather than a render. `probe` reads back the facts a test (or a user) wants to check.
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc, VideoReformatter

from live.core.errors import PhospheneError
from live.core.paths import check_output_file
from live.core.progress import bar_output

log = logging.getLogger("phosphene")

# BT.709 with limited ("MPEG", 16-235) range is what players assume for H.264 they did not tag
# themselves; we convert with it and tag the stream with it, so the colours survive the round trip.
AVCOL_SPC_BT709 = 1  # AVColorSpace, for the stream's VUI tag (PyAV has no enum for it)


class Mp4Writer:
    """H.264 + AAC MP4 at exactly `fps`, written to a temporary file beside `path` and renamed over
    `path` only by commit(): a failed or interrupted render leaves no broken file.

        with Mp4Writer("out.mp4", fps=24, width=512, height=512, audio_sr=44_100) as writer:
            for k in range(n_frames):
                writer.write_audio(audio_until_end_of_frame_k)  # float32 (n, 2)
                writer.write_frame(rgb)  # uint8 (512, 512, 3)
        # leaving the block commits; an exception (KeyboardInterrupt too) aborts instead
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        fps: int | Fraction,  # exact: 24, or 30000/1001 for NTSC's 29.97
        width: int,
        height: int,
        audio_sr: int | None = None,  # None: a silent video, no audio stream at all
        audio_channels: int = 2,  # 1 or 2
        crf: int = 18,  # x264 quality: 18 is visually lossless for most material, 23 is x264's default
        preset: str = "medium",  # x264 speed/size trade-off; "veryfast" if encoding ever shows in the profile
    ):
        self.path = Path(path)
        self.fps = Fraction(fps)
        self.width, self.height = int(width), int(height)
        self.audio_sr = audio_sr
        self.audio_channels = audio_channels
        if self.width % 2 or self.height % 2:
            raise PhospheneError(
                f"video size {self.width}x{self.height}: width and height must be even for H.264 "
                f"yuv420p; choose an even size such as {self.width + self.width % 2}x{self.height + self.height % 2}"
            )
        if self.fps < 1 or self.fps.denominator > 1001:
            raise PhospheneError(f"fps {fps}: must be at least 1 frame per second, whole or N/1001 (NTSC)")
        if audio_channels not in (1, 2):
            raise ValueError(f"audio_channels={audio_channels}: the writer takes mono or stereo")
        self._audio_layout = "stereo" if audio_channels == 2 else "mono"
        remove_stale_partials(self.path)
        self.temp_path = partial_path(self.path)
        self.frames_written = 0
        self.samples_written = 0  # audio samples per channel handed to the encoder
        self._state = "open"  # "open" -> "committed" | "aborted"

        # +faststart: the muxer moves the index (moov) to the front when it closes the file, so a
        # browser can start playing before it has the whole file. It rewrites the temporary file in
        # place, before our rename, so the two do not interfere.
        # video_track_timescale: the file's own time base is 1/fps (1001/30000 for 29.97), so frame k
        # is stored at exactly k frames (the muxer's default would pick a multiple such as 1/12288).
        self._container = av.open(
            str(self.temp_path),
            "w",
            format="mp4",
            options={"movflags": "+faststart", "video_track_timescale": str(self.fps.numerator)},
        )
        try:
            self._video = self._add_video_stream(crf, preset)
            self._audio = self._add_audio_stream() if audio_sr is not None else None
            # Open the encoders and write the header now: the temporary file exists from here on,
            # and a bad setting fails here rather than at the first frame.
            self._container.start_encoding()
        except BaseException:
            self.abort()
            raise
        self._reformatter = VideoReformatter()  # one swscale context for all frames

    def _add_video_stream(self, crf: int, preset: str):
        stream = self._container.add_stream("libx264", rate=self.fps, options={"crf": str(crf), "preset": preset})
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = "yuv420p"  # the only pixel format every player decodes
        stream.time_base = 1 / self.fps
        stream.codec_context.time_base = 1 / self.fps
        stream.codec_context.colorspace = AVCOL_SPC_BT709
        stream.codec_context.color_primaries = ColorPrimaries.BT709
        stream.codec_context.color_trc = ColorTrc.BT709
        stream.codec_context.color_range = ColorRange.MPEG
        return stream

    def _add_audio_stream(self):
        stream = self._container.add_stream("aac", rate=self.audio_sr, layout=self._audio_layout)
        stream.time_base = Fraction(1, self.audio_sr)
        stream.codec_context.time_base = Fraction(1, self.audio_sr)
        stream.bit_rate = 96_000 * self.audio_channels  # 192 kb/s stereo: FFmpeg's AAC is transparent-ish here
        return stream

    def write_frame(self, rgb: np.ndarray) -> None:
        """Append one frame: uint8 (height, width, 3), RGB. It is shown from t = k / fps, k the index."""
        self._check_open()
        if rgb.dtype != np.uint8 or rgb.shape != (self.height, self.width, 3):
            raise ValueError(f"frame must be uint8 ({self.height}, {self.width}, 3), got {rgb.dtype} {rgb.shape}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame = self._reformatter.reformat(
            frame,
            format="yuv420p",
            dst_colorspace=Colorspace.ITU709,
            dst_color_range=ColorRange.MPEG,
        )
        frame.pts = self.frames_written
        frame.time_base = 1 / self.fps
        self._container.mux(self._video.encode(frame))
        self.frames_written += 1

    def write_audio(self, samples: np.ndarray) -> None:
        """Append float32 (n, audio_channels) samples at audio_sr, any n. PyAV's encoder cuts them
        into the 1024-sample frames AAC needs and keeps the remainder for the next call."""
        self._check_open()
        if self._audio is None:
            raise ValueError("this writer has no audio stream (audio_sr=None)")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 2 or samples.shape[1] != self.audio_channels:
            raise ValueError(f"audio must be (n, {self.audio_channels}), got {samples.shape}")
        if len(samples) == 0:
            return
        planar = np.ascontiguousarray(samples.T)  # (C, n): fltp, the AAC encoder's native format
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=self._audio_layout)
        frame.sample_rate = self.audio_sr
        frame.pts = self.samples_written  # pts by sample count: no drift, whatever the block sizes
        frame.time_base = Fraction(1, self.audio_sr)
        self._container.mux(self._audio.encode(frame))
        self.samples_written += len(samples)

    def commit(self) -> Path:
        """Flush both encoders, finish the file, and rename it over `path`. Returns `path`."""
        self._check_open()
        try:
            if self.frames_written == 0:
                raise RuntimeError(f"no frames were written to {self.path}: an MP4 needs at least one")
            if self._audio is not None:
                self._container.mux(self._audio.encode(None))  # the last partial AAC frame + the delay
            self._container.mux(self._video.encode(None))  # x264's lookahead holds ~40 frames
            self._container.close()  # writes the index (and, with faststart, moves it to the front)
            os.replace(self.temp_path, self.path)
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file. Safe to call twice, and a no-op after commit()."""
        if self._state != "open":
            return
        self._state = "aborted"
        try:
            self._container.close()
        except Exception:  # closing a half-written container can fail; the file is going anyway
            pass
        self.temp_path.unlink(missing_ok=True)

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"the writer for {self.path} was already {self._state}")

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.commit()
        else:  # any exception, KeyboardInterrupt included: no broken file, and the exception goes on
            self.abort()
        return False


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"  # the partial's name keeps to safe characters


def partial_path(path: Path, pid: int | None = None) -> Path:
    """The temporary file a render of `path` writes: hidden, beside it, named by this host and process."""
    return path.with_name(f".{path.stem}.partial-{_host()}-{os.getpid() if pid is None else pid}.mp4")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def remove_stale_partials(path: Path) -> list[Path]:
    """Remove the partial files of earlier renders of `path` that died without cleaning up (kill -9):
    those of this host whose process is no longer running. Returns what was removed."""
    pattern = re.compile(rf"^\.{re.escape(path.stem)}\.partial-(?P<host>.+)-(?P<pid>\d+)\.mp4$")
    removed = []
    try:
        names = [p for p in path.parent.iterdir() if p.name.startswith(f".{path.stem}.partial-")]
    except OSError:
        return removed
    for candidate in names:
        m = pattern.match(candidate.name)
        if m is None or m["host"] != _host() or int(m["pid"]) == os.getpid() or _running(int(m["pid"])):
            continue
        try:
            candidate.unlink()
            removed.append(candidate)
            log.info("removed %s, left by a render (process %s) that was killed before it finished", candidate, m["pid"])
        except OSError:
            pass
    return removed


def check_output_path(path: str | os.PathLike, *, inputs: tuple = ()) -> Path:
    """Called at start-up before any model loads: the MP4 output, checked as every output file is
    (live.core.paths), and never one of `inputs`. Returns the resolved path."""
    return check_output_file(path, flag="output", suffix=".mp4", inputs=inputs)


@dataclass(frozen=True)
class Mp4Info:
    video_codec: str  # "h264"
    width: int
    height: int
    fps: Fraction  # the stream's average frame rate, exact
    frames: int  # counted by decoding every frame, not read from the header
    duration_s: float  # video stream duration (what the edit list says plays)
    audio_codec: str | None  # None: no audio stream
    audio_sr: int | None
    audio_channels: int | None
    audio_duration_s: float | None  # after the edit list removed the encoder's priming


def probe(path: str | os.PathLike) -> Mp4Info:
    """ffprobe-level facts about an MP4, with PyAV (frame count by decoding every frame)."""
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise PhospheneError(f"{path} has no video stream")
            video = container.streams.video[0]
            video.thread_type = "AUTO"  # decode in parallel: counting frames is the slow part
            audio = container.streams.audio[0] if container.streams.audio else None
            frames = sum(1 for _ in container.decode(video))
            fps = video.average_rate
            if video.duration is not None:
                duration_s = float(video.duration * video.time_base)
            else:
                duration_s = frames / float(fps)
            audio_duration_s = None
            if audio is not None and audio.duration is not None:
                audio_duration_s = float(audio.duration * audio.time_base)
            return Mp4Info(
                video_codec=video.codec_context.name,
                width=video.codec_context.width,
                height=video.codec_context.height,
                fps=Fraction(fps),
                frames=frames,
                duration_s=duration_s,
                audio_codec=audio.codec_context.name if audio is not None else None,
                audio_sr=audio.codec_context.sample_rate if audio is not None else None,
                audio_channels=audio.codec_context.channels if audio is not None else None,
                audio_duration_s=audio_duration_s,
            )
    except av.FFmpegError as e:
        raise PhospheneError(f"cannot read {path} as a video: {e}") from None


@dataclass
class RenderResult:
    """What a render (diffusion or shader engine) reports; `--stats-json` writes it."""

    output: Path
    frames: int
    seconds: float
    stage_ms: dict[str, float]  # per frame
    engine: str = "diffusion"  # which engine drew it: diffusion, or shader (asked for, or the fallback)
    notes: list[str] = field(default_factory=list)
    scenes: list[str] = field(default_factory=list)  # the scene of each frame (renders with scenes)
    per_frame: dict[str, list] = field(default_factory=dict)  # more per-frame figures (diffusion scenes: strength, audio_weight)


AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)  # kept as they are; others -> 48 kHz


class AudioMuxer:
    """Feeds the writer the original audio up to each frame's end, so the MP4 stays interleaved."""

    def __init__(self, writer: Mp4Writer, blocks, sr: int):
        self.writer, self.blocks, self.sr = writer, blocks, sr
        self.written = 0  # samples handed to the writer
        self.pending: np.ndarray | None = None  # (n, C) decoded but not yet due

    def write_until(self, t_s: float) -> None:
        target = math.inf if math.isinf(t_s) else round(t_s * self.sr)
        while self.written < target:
            if self.pending is None:
                self.pending = next(self.blocks, None)
                if self.pending is None:
                    return
            take = int(min(len(self.pending), target - self.written))
            self.writer.write_audio(self.pending[:take])
            self.written += take
            self.pending = self.pending[take:] if take < len(self.pending) else None


def make_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="render", disable=not enabled, **bar_output())
