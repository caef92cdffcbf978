"""Sliding windows over a stream of samples, addressed by int64 sample index.

The offline renderer reads a file as a stream of blocks; `SampleBuffer` pulls blocks on demand,
hands out "samples [a, b)" (zeros before the start and after the end, as if the music were framed
by silence) and forgets what no reader needs any more, so memory does not grow with the file.
The live ring buffer answers the same question for the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class SampleBuffer:
    def __init__(self, blocks: Iterator[np.ndarray], total: int):
        self.blocks = blocks  # mono float32 blocks, (n,) or (n, 1)
        self.total = total  # exact number of samples the stream holds
        self.data = np.zeros(0, dtype=np.float32)
        self.first = 0  # sample index of data[0]

    @property
    def end(self) -> int:
        return self.first + len(self.data)

    def get(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) as float32 (b - a,); zero outside [0, total)."""
        if max(a, 0) < min(self.first, b, self.total):  # real samples that were dropped (zeros before 0 never are)
            raise IndexError(f"samples from {a} were already forgotten (buffer starts at {self.first})")
        need = min(b, self.total)
        pulled = []
        end = self.end
        for block in self.blocks if end < need else ():
            block = np.asarray(block, dtype=np.float32).reshape(-1)
            pulled.append(block)
            end += len(block)
            if end >= need:
                break
        if pulled:
            self.data = np.concatenate([self.data, *pulled])
        out = np.zeros(b - a, dtype=np.float32)
        lo, hi = max(a, self.first, 0), min(b, self.end)
        if hi > lo:
            out[lo - a : hi - a] = self.data[lo - self.first : hi - self.first]
        return out

    def forget_before(self, a: int) -> None:
        drop = min(max(0, a - self.first), len(self.data))
        if drop:
            self.data = self.data[drop:].copy()  # copy: let the old array go
            self.first += drop
