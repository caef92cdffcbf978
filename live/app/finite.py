"""The guard at the source: a number that turned NaN or infinite is a fault, never a black picture.

A NaN in an embedding, a frame or a shader uniform draws black (img2img's NaN latents decode to 0,
GLSL's NaN colours clamp to 0), and a video of black frames written with exit 0 is the worst
failure a render can have. So the render checks what feeds each frame (the embeddings, the picture
before it becomes uint8, the Drive and the look behind the shader uniforms) and stops with one line
(the partial output is removed); the live loop counts the fault, shows it in the HUD and the stats,
and keeps the last good frame (live/app/run.py's workers count any exception so).

    check_finite(tokens, "embedding 12 (at 1.50 s)")   # a torch tensor or a numpy array
    check_record(drive, "frame 40's audio analysis")     # the float fields of a dataclass (Drive, ShaderLook, Structure)
"""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np

from live.core.errors import PhospheneError


class NonFiniteError(PhospheneError):
    """A value that feeds the pictures is NaN or infinite."""


def is_finite(x) -> bool:
    """Every element of a torch tensor or a numpy array is finite."""
    if isinstance(x, np.ndarray):
        return bool(np.isfinite(x).all())
    import torch

    return bool(torch.isfinite(x).all())


SKIPPED = "nothing was drawn from it"  # live: the fault is counted and the last good frame stays
STOPPED = "the render stopped there and wrote no video"  # offline


def check_finite(x, what: str, then: str = SKIPPED) -> None:
    if not is_finite(x):
        raise NonFiniteError(f"{what} is not finite (NaN or infinity): {then}")


def bad_fields(record) -> list[str]:
    """The names of a dataclass record's numbers (floats, and tuples of them) that are NaN or infinite."""
    bad = []
    for f in fields(record):
        value = getattr(record, f.name)
        values = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            bad.append(f.name)
    return bad


def check_record(record, what: str, then: str = SKIPPED) -> None:
    if bad := bad_fields(record):
        raise NonFiniteError(f"{what}: {', '.join(bad)} not finite (NaN or infinity): {then}")
