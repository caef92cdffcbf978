"""A captioned audio-picture set for the clip-image tests: fluidsynth instruments (instruments.py), each with a picture of its own.

Every instrument has one picture (a colour and a stripe pattern of its own, 64 x 64 PNG). Its
recordings come as two kinds of rows (in groups of four): an MP4 file carrying both the audio (AAC) and the
picture as its frames (written with PyAV), and an audio,image row pairing the WAV with the PNG. Per
instrument, every fourth recording is held out as `test` (held out by recording, as instruments.py).

    write_set(folder, instruments, clips=8) -> {"all": manifest, "train": ..., "test_video": ..., "test_image": ...}
"""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import numpy as np

from tests.training import instruments

SIZE = 64  # pixels of each picture
FPS = 4  # frames per second of the MP4 rows: the picture does not move


def picture(index: int, count: int) -> np.ndarray:
    """(SIZE, SIZE, 3) uint8: instrument `index`'s own colour and stripes (angle and period of its own)."""
    hue = index / count
    colour = np.array([np.cos(2 * np.pi * (hue + s)) * 0.5 + 0.5 for s in (0, 1 / 3, 2 / 3)])  # (3,) in 0..1
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    angle = np.pi * index / count
    stripes = (np.sin(2 * np.pi * (2 + index % 3) * (x * np.cos(angle) + y * np.sin(angle))) > 0).astype(float)  # (H, W)
    image = colour[None, None] * (0.35 + 0.65 * stripes[..., None])
    return (image * 255).round().astype(np.uint8)


def write_mp4(path: Path, audio_wav: Path, frame: np.ndarray) -> None:
    """An MP4 with the WAV's audio (AAC) and `frame` as its picture for the whole length (H.264)."""
    import wave

    import av

    with wave.open(str(audio_wav)) as w:
        sr = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768  # mono
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = SIZE, SIZE, "yuv420p"
        audio = out.add_stream("aac", rate=sr)
        audio.layout = "mono"
        picture_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        for k in range(int(len(samples) / sr * FPS) + 1):
            picture_frame.pts = k
            picture_frame.time_base = Fraction(1, FPS)
            for packet in video.encode(picture_frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        block = 1024
        for start in range(0, len(samples), block):
            chunk = av.AudioFrame.from_ndarray(samples[None, start : start + block].copy(), format="flt", layout="mono")
            chunk.sample_rate, chunk.pts = sr, start
            for packet in audio.encode(chunk):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)


def write_set(folder: Path, chosen: dict = instruments.TEST_SET, *, clips: int = 8, seed: int = 0) -> dict[str, Path]:
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (word, (program, low, high)) in enumerate(chosen.items()):
        rng = np.random.default_rng([seed, index])
        stem = word.replace(" ", "-")
        image = folder / f"{stem}.png"
        pixels = picture(index, len(chosen))
        Image.fromarray(pixels).save(image)
        wavs = instruments.render(program, [instruments.phrase(rng, low, high) for _ in range(clips)], folder, stem)
        for k, wav in enumerate(wavs):
            split = "test" if k % instruments.HELD_OUT_EVERY == instruments.HELD_OUT_EVERY - 1 else "train"
            row = {"video": "", "audio": "", "image": "", "label": word, "split": split}
            if (k // instruments.HELD_OUT_EVERY) % 2:  # every other group of four as MP4 files carrying both: some held out of each kind
                mp4 = wav.with_suffix(".mp4")
                write_mp4(mp4, wav, pixels)
                wav.unlink()
                row["video"] = mp4.name
            else:
                row["audio"], row["image"] = wav.name, image.name
            rows.append(row)
    fields = ["video", "audio", "image", "label", "split"]
    sets = {
        "all": rows,
        "train": [r for r in rows if r["split"] == "train"],
        "test_video": [r for r in rows if r["split"] == "test" and r["video"]],
        "test_image": [r for r in rows if r["split"] == "test" and r["image"]],
    }
    paths = {}
    for name, chosen_rows in sets.items():
        paths[name] = folder / f"{name}.csv"
        with open(paths[name], "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(chosen_rows)
    return paths
