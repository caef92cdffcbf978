"""Per-stage wall time, for the progress line and `bench`.

On CUDA a stage's time is only true after the GPU has finished its work, so the timer synchronises
at each section's end when `sync` is set (bench does; a plain render does not, to keep the GPU busy).
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager


class StageTimer:
    def __init__(self, sync=None):
        self.sync = sync  # callable that waits for the device (torch.cuda.synchronize) or None
        self.total_s: dict[str, float] = defaultdict(float)

    @contextmanager
    def section(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.sync is not None:
                self.sync()
            self.total_s[name] += time.perf_counter() - start

    def per_frame_ms(self, frames: int) -> dict[str, float]:
        return {name: 1000.0 * s / max(frames, 1) for name, s in self.total_s.items()}
