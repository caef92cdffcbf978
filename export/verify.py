"""`python -m export verify DIR`: the export against the checkpoint it came from, on real music.

torch (the source named in export.json, in fp32; `tiny` is rebuilt) and ONNX Runtime encode the
same windows of recorded music (pygame's house_lo: 7.1 s of house, resampled to 16 kHz), two per
batch at different offsets, for window lengths of 1, 2 and 3.76 s. Per window length: the largest
absolute difference, and the cosine similarity of each token pair, reported as the minimum over
tokens. Fails below 0.9999 (fp32 export) or 0.999 (fp16). The export's files are also re-hashed
against export.json, and the source's weights against the hash taken at export time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError

WINDOWS_S = (1.0, 2.0, 3.76)
MIN_COSINE = {False: 0.9999, True: 0.999}  # fp32, fp16
OFFSETS_S = (0.5, 3.0)  # two windows per batch, from different bars of the music


@dataclass
class Row:
    window_s: float
    batch: int
    tokens: int
    max_abs: float
    min_cosine: float


def music_16k() -> np.ndarray:
    """Real recorded music shipped with pygame, mono float32 at 16 kHz."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError:
        raise PhospheneError("verify uses the music that ships with pygame: pip install pygame") from None
    from live.audio.decode import open_segment, stream

    path = Path(pygame.__file__).parent / "examples" / "data" / "house_lo.ogg"
    return np.concatenate(list(stream(open_segment(path), sr=SAMPLE_RATE, channels=1)))[:, 0]


def compare(a, b) -> tuple[float, float]:
    """max |a - b| and the minimum over tokens of cos(a_t, b_t), for (B, T, D) tensors."""
    import torch

    a, b = a.float().cpu(), b.float().cpu()
    return float((a - b).abs().max()), float(torch.nn.functional.cosine_similarity(a, b, dim=-1).min())


def verify(folder: Path) -> tuple[list[Row], float, dict]:
    from export.onnx import weights_sha256
    from live.models.encoder import load_torch_encoder
    from live.models.hashing import known_sha256
    from live.models.runtimes import OnnxEncoder, read_export

    folder = Path(folder)
    if folder.is_file():
        raise PhospheneError(f"verify {folder}: a file, not an export folder; give a folder written by `python -m export onnx`")
    if not (folder / "export.json").exists():
        fix = f"; to export this checkpoint: python -m export onnx --encoder {folder} -o NEW_FOLDER" if (folder / "config.json").is_file() else ""
        raise PhospheneError(f"verify {folder}: no export.json here; give a folder written by `python -m export onnx`{fix}")
    info = read_export(folder, hashes=False)
    for name, stated in info["files"].items():
        if known_sha256(folder / name, refresh=True) != stated["sha256"]:  # re-hashed, whatever the cache says
            raise PhospheneError(
                f"export '{folder}': {name} does not match its sha256 in export.json (corrupted or changed since export); "
                f"copy the export again, or re-export: python -m export onnx --encoder {info['source']} -o NEW_FOLDER"
            )
    onnx_encoder = OnnxEncoder.load(folder)
    torch_encoder = load_torch_encoder(info["source"])
    if weights_sha256(info["source"], torch_encoder.model) != info["weights_sha256"]:
        raise PhospheneError(f"'{info['source']}' has changed since it was exported (its weights' sha256 differs); re-export it")
    music = music_16k()
    rows = []
    for window_s in WINDOWS_S:
        n = round(window_s * SAMPLE_RATE)
        waves = np.stack([music[round(o * SAMPLE_RATE) : round(o * SAMPLE_RATE) + n] for o in OFFSETS_S])  # (2, S)
        a, b = torch_encoder.encode(waves), onnx_encoder.encode(waves)  # (B, T, D) each
        if a.shape != b.shape:
            raise PhospheneError(f"export '{folder}' gives {tuple(b.shape)} for a {window_s} s window; torch gives {tuple(a.shape)}")
        rows.append(Row(window_s, a.shape[0], a.shape[1], *compare(a, b)))
    return rows, MIN_COSINE[bool(info.get("fp16"))], info


def print_rows(rows: list[Row], threshold: float) -> None:
    print(f"{'window s':>8} {'B':>2} {'T':>4} {'max |diff|':>11} {'min cos/token':>14}")
    for r in rows:
        flag = "" if r.min_cosine >= threshold else "  < threshold"
        print(f"{r.window_s:>8.2f} {r.batch:>2} {r.tokens:>4} {r.max_abs:>11.2e} {r.min_cosine:>14.7f}{flag}")
