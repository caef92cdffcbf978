"""Mp4Writer, check_output_path and probe against real FFmpeg (through PyAV) and real files."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest

from live.core.errors import PhospheneError
from live.draw.video import Mp4Writer, check_output_path, probe

WIDTH, HEIGHT = 64, 48  # small, even, not square: catches a swapped width/height
AUDIO_SR = 44_100
AAC_FRAME = 1024  # samples per AAC frame: the tolerance on audio duration
SINE_HZ = 440.0


def colour(k: int) -> tuple[int, int, int]:
    """A flat colour per frame, away from the clipping ends of the limited YUV range."""
    return (40 + (k * 37) % 170, 200 - (k * 11) % 150, 60 + (k * 23) % 130)


def solid(k: int) -> np.ndarray:
    return np.broadcast_to(np.array(colour(k), np.uint8), (HEIGHT, WIDTH, 3)).copy()


def sine(a: int, b: int, channels: int) -> np.ndarray:
    """Samples [a, b) of a 440 Hz sine at half scale, float32 (b - a, channels)."""
    t_s = np.arange(a, b) / AUDIO_SR
    mono = (0.5 * np.sin(2 * np.pi * SINE_HZ * t_s)).astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1)


def write_clip(path, *, fps: int, n_frames: int, channels: int | None = 2) -> Mp4Writer:
    """Write as the renderer does: the audio up to the end of frame k, then frame k."""
    audio_sr = AUDIO_SR if channels else None
    with Mp4Writer(path, fps=fps, width=WIDTH, height=HEIGHT, audio_sr=audio_sr, audio_channels=channels or 2) as writer:
        written = 0
        for k in range(n_frames):
            if channels:
                until = round((k + 1) / fps * AUDIO_SR)
                writer.write_audio(sine(written, until, channels))
                written = until
            writer.write_frame(solid(k))
    return writer


@pytest.mark.parametrize("fps, channels", [(24, 2), (30, 1)])
def test_frames_rate_and_audio_come_back_exactly(tmp_path, fps, channels):
    out = tmp_path / "clip.mp4"
    n_frames = 40
    writer = write_clip(out, fps=fps, n_frames=n_frames, channels=channels)
    assert writer.frames_written == n_frames
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # the temporary file is gone

    info = probe(out)
    duration_s = n_frames / fps
    assert info.video_codec == "h264"
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.fps == Fraction(fps)
    assert info.frames == n_frames
    assert abs(info.duration_s - duration_s) <= 1 / fps
    assert info.audio_codec == "aac"
    assert info.audio_sr == AUDIO_SR
    assert info.audio_channels == channels
    assert abs(info.audio_duration_s - duration_s) <= AAC_FRAME / AUDIO_SR

    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == fps
        frames = list(container.decode(stream))
    assert [f.pts * f.time_base for f in frames] == [Fraction(k, fps) for k in range(n_frames)]
    for k in (0, 7, n_frames - 1):
        mean_rgb = frames[k].to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
        np.testing.assert_allclose(mean_rgb, colour(k), atol=4, err_msg=f"frame {k}")


def chirp(a: int, b: int, channels: int) -> np.ndarray:
    """Samples [a, b) of a 200 -> 2000 Hz sweep over 1 s: unlike a sine, no shift of it looks the same."""
    t_s = np.arange(a, b) / AUDIO_SR
    phase = 2 * np.pi * (200.0 * t_s + 1800.0 * t_s**2 / 2)
    return np.repeat((0.5 * np.sin(phase)).astype(np.float32)[:, None], channels, axis=1)


def test_audio_starts_in_step_with_frame_0(tmp_path):
    """The AAC encoder delays its output by 1024 samples of priming; the edit list must hide them,
    so the decoded sound lines up with the written one sample for sample."""
    out = tmp_path / "sync.mp4"
    fps = 24
    with Mp4Writer(out, fps=fps, width=WIDTH, height=HEIGHT, audio_sr=AUDIO_SR) as writer:
        for k in range(fps):  # one second, in blocks of 1837 or 1838 samples: not a multiple of 1024
            writer.write_audio(chirp(round(k / fps * AUDIO_SR), round((k + 1) / fps * AUDIO_SR), 2))
            writer.write_frame(solid(k))
    with av.open(str(out)) as container:
        decoded = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])  # left channel
    written = chirp(0, AUDIO_SR, 1)[:, 0]
    assert len(decoded) >= len(written)
    middle = decoded[4096:-4096]  # away from the encoder's start-up and end
    lags = range(-1100, 1101)  # covers a missing or doubled priming frame (1024 samples) either way
    errors = [np.mean((middle - written[4096 + lag : 4096 + lag + len(middle)]) ** 2) for lag in lags]
    assert lags[int(np.argmin(errors))] == 0
    assert min(errors) < 1e-3 * np.mean(written**2)  # measured 7e-7: AAC at 96 kb/s a channel is clean here


def test_no_audio_stream_without_audio_sr(tmp_path):
    out = tmp_path / "silent.mp4"
    write_clip(out, fps=24, n_frames=5, channels=None)
    info = probe(out)
    assert info.frames == 5
    assert (info.audio_codec, info.audio_sr, info.audio_channels, info.audio_duration_s) == (None, None, None, None)


def test_index_is_at_the_front(tmp_path):
    """movflags=+faststart: the moov box comes before mdat, so playback can start while loading."""
    out = tmp_path / "fast.mp4"
    write_clip(out, fps=24, n_frames=5)
    boxes = []
    with open(out, "rb") as f:
        while header := f.read(8):
            size, kind = int.from_bytes(header[:4], "big"), header[4:].decode("ascii")
            boxes.append(kind)
            if size == 1:  # 64-bit size follows
                size = int.from_bytes(f.read(8), "big") - 8
            f.seek(size - 8, os.SEEK_CUR)
    assert boxes.index("moov") < boxes.index("mdat")


def test_odd_size_is_refused_with_the_size(tmp_path):
    with pytest.raises(PhospheneError, match="63x48"):
        Mp4Writer(tmp_path / "odd.mp4", fps=24, width=63, height=48)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError("generator failed"), KeyboardInterrupt()])
def test_failure_inside_the_block_leaves_no_file(tmp_path, error):
    out = tmp_path / "broken.mp4"
    with pytest.raises(type(error)):
        with Mp4Writer(out, fps=24, width=WIDTH, height=HEIGHT, audio_sr=AUDIO_SR) as writer:
            for k in range(10):
                writer.write_audio(sine(0, 1837, 2))
                writer.write_frame(solid(k))
            assert writer.temp_path.exists() and writer.temp_path.parent == tmp_path
            assert writer.temp_path.name.startswith(".broken.partial-") and writer.temp_path.name.endswith(f"-{os.getpid()}.mp4")
            raise error
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_an_older_output_untouched(tmp_path):
    out = tmp_path / "render.mp4"
    out.write_bytes(b"the previous render")
    with pytest.raises(KeyboardInterrupt):
        with Mp4Writer(out, fps=24, width=WIDTH, height=HEIGHT) as writer:
            writer.write_frame(solid(0))
            raise KeyboardInterrupt
    assert out.read_bytes() == b"the previous render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["render.mp4"]


def test_commit_renames_over_an_existing_file(tmp_path):
    out = tmp_path / "render.mp4"
    out.write_bytes(b"the previous render")
    writer = Mp4Writer(out, fps=24, width=WIDTH, height=HEIGHT)
    for k in range(3):
        writer.write_frame(solid(k))
    assert out.read_bytes() == b"the previous render"  # untouched until commit
    temp_inode = os.stat(writer.temp_path).st_ino
    assert writer.commit() == out
    assert os.stat(out).st_ino == temp_inode  # a rename of the finished file, not a copy into the old one
    assert probe(out).frames == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["render.mp4"]
    writer.abort()  # after commit: a no-op that must not delete the output
    writer.abort()
    assert out.exists()


def test_abort_twice_and_write_after_abort(tmp_path):
    writer = Mp4Writer(tmp_path / "x.mp4", fps=24, width=WIDTH, height=HEIGHT)
    writer.write_frame(solid(0))
    writer.abort()
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="aborted"):
        writer.write_frame(solid(1))


def assert_one_line_naming(excinfo, path) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    assert str(path) in message


def test_check_output_path_accepts_a_writable_mp4_and_leaves_nothing(tmp_path):
    out = tmp_path / "render.mp4"
    assert check_output_path(out) == out.resolve()
    assert list(tmp_path.iterdir()) == []  # the write test cleaned up after itself


def test_check_output_path_missing_folder(tmp_path):
    out = tmp_path / "no-such-folder" / "render.mp4"
    with pytest.raises(PhospheneError, match="does not exist") as excinfo:
        check_output_path(out)
    assert_one_line_naming(excinfo, out.resolve())


def test_check_output_path_parent_is_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    out = tmp_path / "notes.txt" / "render.mp4"
    with pytest.raises(PhospheneError, match="not a folder") as excinfo:
        check_output_path(out)
    assert_one_line_naming(excinfo, out.resolve())


def test_check_output_path_unwritable_folder():
    out = "/proc/phosphene-render.mp4"  # even root cannot create files in /proc
    with pytest.raises(PhospheneError, match="cannot write") as excinfo:
        check_output_path(out)
    assert_one_line_naming(excinfo, out)


def test_check_output_path_directory_as_output(tmp_path):
    out = tmp_path / "render.mp4"
    out.mkdir()
    with pytest.raises(PhospheneError, match="is a folder") as excinfo:
        check_output_path(out)
    assert_one_line_naming(excinfo, out.resolve())


def test_check_output_path_wrong_suffix(tmp_path):
    out = tmp_path / "render.avi"
    with pytest.raises(PhospheneError, match=r"\.mp4") as excinfo:
        check_output_path(out)
    assert_one_line_naming(excinfo, out.resolve())
