"""Shared fixtures: real recorded music, the same music in every format we read, and bad audio files.

The music is pygame's `house_lo` (7.1 s of house music, 11025 Hz mono) and `secosmic_lo`: real
recordings that ship with a package already installed, so no test needs the network. Every file is
written with PyAV into a session temp folder, once.
"""

import fractions
import os
import shutil
import wave
from pathlib import Path

import av
import numpy as np
import pytest
import soxr

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402  (after the environment variable that silences its banner)

# What the code keeps in the user's cache folder (export sha256s: live/models/hashing.py) goes to a
# folder of this test run, never the user's ~/.cache; Hugging Face's cache stays where it is.
os.environ.setdefault("HF_HOME", str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"))

PYGAME_DATA = Path(pygame.__file__).parent / "examples" / "data"
HOUSE_SAMPLES = 78_331  # house_lo's length at 11025 Hz, as its WAV/OGG state and decode to


def write_audio(path, samples, sr: int, codec: str = "pcm_f32le", *, video: bool = False, block: int = 65_536) -> Path:
    """Encode float32 samples (n, channels) in [-1, 1], or an iterable of such blocks, to `path`.

    PyAV converts to the encoder's sample format and frame size itself. `video=True` adds a small
    moving H.264 picture track, as a music video would have.
    """
    path = Path(path)
    blocks = _blocks(samples, block) if isinstance(samples, np.ndarray) else iter(samples)
    first = next(blocks)
    layout = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}[first.shape[1]]
    with av.open(str(path), "w") as container:
        audio = container.add_stream(codec, rate=sr, layout=layout)
        picture = _picture_stream(container) if video else None  # every stream is added before the first packet
        written = 0
        for x in _chain(first, blocks):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x, dtype=np.float32).reshape(1, -1), format="flt", layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = sr, written, fractions.Fraction(1, sr)
            written += len(x)
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode(None):
            container.mux(packet)
        if picture is not None:
            _write_pictures(container, picture, seconds=written / sr)
    return path


def _blocks(samples: np.ndarray, block: int):
    for i in range(0, max(len(samples), 1), block):
        yield samples[i : i + block]


def _chain(first, rest):
    yield first
    yield from rest


def _picture_stream(container, fps: int = 10):
    video = container.add_stream("libx264", rate=fps)
    video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
    return video


def _write_pictures(container, video, seconds: float) -> None:
    for k in range(round(seconds * video.codec_context.framerate)):
        picture = np.full((64, 64, 3), (k * 7) % 256, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = k
        for packet in video.encode(frame):
            container.mux(packet)
    for packet in video.encode(None):
        container.mux(packet)


def decode_all(path) -> tuple[np.ndarray, int]:
    """Every sample of a file's first audio stream as float32 (n, channels), and its rate: a test oracle."""
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        frames = [f.to_ndarray() for f in container.decode(audio)]
        planar = audio.format.is_planar
        sr, channels = audio.rate, audio.channels
    x = np.concatenate([f.T if planar else f.reshape(-1, channels) for f in frames])
    return x.astype(np.float32), sr


@pytest.fixture(scope="session", autouse=True)
def private_cache_folder(tmp_path_factory):
    """XDG_CACHE_HOME for every test and the subprocesses they start."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield Path(os.environ["XDG_CACHE_HOME"])
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(scope="session")
def house_music() -> Path:
    """Real house music: pygame's house_lo.ogg, 7.1 s, 11025 Hz mono, Vorbis."""
    return PYGAME_DATA / "house_lo.ogg"


@pytest.fixture(scope="session")
def other_music() -> Path:
    """Different real audio: pygame's secosmic_lo.wav, 3.3 s, 11025 Hz mono, MS ADPCM."""
    return PYGAME_DATA / "secosmic_lo.wav"


@pytest.fixture(scope="session")
def audio_writer():
    """`write_audio(path, samples (n, ch), sr, codec, video=False)` for tests that build their own signals."""
    return write_audio


@pytest.fixture(scope="session")
def music_formats(house_music, tmp_path_factory) -> dict[str, Path]:
    """house_lo in every format we promise to read; all hold the same 7.1 s of music from t = 0."""
    folder = tmp_path_factory.mktemp("music_formats")
    house, sr = decode_all(house_music)  # (78331, 1) at 11025 Hz
    formats = {
        "wav": write_audio(folder / "house.wav", house, sr, "pcm_s16le"),
        "flac": write_audio(folder / "house.flac", house, sr, "flac"),
        "mp3": write_audio(folder / "house.mp3", house, sr, "libmp3lame"),
        "ogg": folder / "house.ogg",  # the shipped Vorbis file itself (ffmpeg's own Vorbis encoder is stereo-only)
        "opus": write_audio(folder / "house.opus", _to_rate(house, sr, 48_000), 48_000, "libopus"),  # Opus runs at 48 kHz
        "m4a": write_audio(folder / "house.m4a", house, sr, "aac"),
        "mp4": write_audio(folder / "house_video.mp4", house, sr, "aac", video=True),
    }
    shutil.copyfile(house_music, formats["ogg"])
    return formats


def _to_rate(x: np.ndarray, sr: int, new_sr: int) -> np.ndarray:
    return soxr.resample(x, sr, new_sr, quality="VHQ").astype(np.float32)


@pytest.fixture(scope="session")
def bad_audio(music_formats, tmp_path_factory) -> dict[str, Path]:
    """Files a user might hand us by mistake (each must give a one-line AudioError), plus two odd but
    valid ones ("eight_ch_96k", "silence") that must simply work."""
    folder = tmp_path_factory.mktemp("bad_audio")
    rng = np.random.default_rng(0)
    files = {"missing": folder / "missing.wav", "directory": folder / "a_folder.wav"}
    files["directory"].mkdir()

    files["empty"] = folder / "empty.mp3"
    files["empty"].write_bytes(b"")
    files["text_wav"] = folder / "notes.wav"
    files["text_wav"].write_text("these are my notes, not audio\n" * 20)

    # Cut in half byte-wise, as an interrupted download: ffmpeg decodes the first half cleanly, and only
    # the length the mp3's Info header states (7.1 s) shows that the rest is missing.
    mp3 = music_formats["mp3"].read_bytes()
    files["truncated_mp3"] = folder / "truncated.mp3"
    files["truncated_mp3"].write_bytes(mp3[: len(mp3) // 2])
    # 2000 bytes of garbage in the middle: the decoder fails on a packet with more music after it.
    files["damaged_mp3"] = folder / "damaged.mp3"
    middle = len(mp3) // 2
    files["damaged_mp3"].write_bytes(mp3[:middle] + rng.integers(0, 256, 2000, dtype=np.uint8).tobytes() + mp3[middle + 2000 :])

    files["no_audio_stream"] = _video_only(folder / "video_only.mp4")
    files["image"] = _png(folder / "cover.png")

    files["zero_length"] = folder / "zero.wav"  # a valid WAV header with no samples
    with wave.open(str(files["zero_length"]), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(44_100)

    music = (0.3 * np.sin(2 * np.pi * 220 * np.arange(32_000) / 16_000)).astype(np.float32)[:, None]  # 2 s at 16 kHz
    nan, inf = music.copy(), music.copy()
    nan[20_000] = np.nan  # 1.25 s
    inf[12_000] = np.inf  # 0.75 s
    files["nan_samples"] = write_audio(folder / "nan.wav", nan, 16_000, "pcm_f32le")
    files["inf_samples"] = write_audio(folder / "inf.wav", inf, 16_000, "pcm_f32le")

    t = np.arange(2 * 96_000) / 96_000  # 2 s at 96 kHz; channel c holds a sine at 250 * (c + 1) Hz
    eight = np.stack([0.1 * np.sin(2 * np.pi * 250 * (c + 1) * t) for c in range(8)], axis=1).astype(np.float32)
    files["eight_ch_96k"] = write_audio(folder / "eight_ch_96k.wav", eight, 96_000, "pcm_f32le")
    files["silence"] = write_audio(folder / "silence.flac", np.zeros((3 * 44_100, 2), np.float32), 44_100, "flac")
    return files


def _video_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        _write_pictures(container, _picture_stream(container), seconds=1.0)
    return path


def _png(path: Path) -> Path:
    with av.open(str(path), "w", format="image2") as container:
        image = container.add_stream("png", rate=1)
        image.width, image.height, image.pix_fmt = 16, 16, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        for packet in [*image.encode(frame), *image.encode(None)]:
            container.mux(packet)
    return path
