"""`--input FILE`: a music file played into the live path's ring buffer at real time, for rehearsal
and tests. It has the interface of `live.audio.capture.LiveInput` (ring, sr, block_size, input_lost,
reconnects, start, stop), so everything after the ring cannot tell it from a device."""

from __future__ import annotations

import threading
import time

import numpy as np

from live.audio.decode import open_segment, stream
from live.audio.monitor import Monitor
from live.audio.ringbuffer import RingBuffer


class FileInput:
    """`--input FILE`: a file played into a ring buffer at real time, looping; the same interface as
    LiveInput (ring, sr, input_lost, reconnects, stop), for rehearsal and tests."""

    def __init__(self, path, *, block_size: int = 256, ring_s: float = 30.0, sr: int = 48_000, monitor: Monitor | None = None):
        segment = open_segment(path)
        self.music = np.concatenate(list(stream(segment, sr=sr, channels=1)))  # (n, 1): rehearsal files are songs, not sets
        self.sr, self.block_size, self.channels = sr, block_size, 1
        self.ring = RingBuffer(int(ring_s * sr), 1, sr)
        self.ring.data.fill(0.0)  # commit the pages up front, as LiveInput does
        self.input_lost, self.reconnects, self.last_error = False, 0, ""
        self._stop = threading.Event()
        self.monitor = monitor  # the file, audible (--monitor): started and stopped with the input
        self._thread = threading.Thread(target=self._play, name="phosphene-file-input", daemon=True)

    def start(self) -> None:
        self.started_at = time.monotonic() + 0.05  # the monitor child is told the same instant
        if self.monitor is not None:
            self.monitor.start(self.started_at)
        self._thread.start()

    def _play(self) -> None:
        start, pos = self.started_at, 0
        while not self._stop.is_set():
            due = start + (self.ring.written + self.block_size) / self.sr
            self._stop.wait(max(0.0, due - time.monotonic()))
            idx = (np.arange(self.block_size) + pos) % len(self.music)
            self.ring.write(self.music[idx], time.monotonic() - self.block_size / self.sr)
            pos += self.block_size

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)
        if self.monitor is not None:
            self.monitor.stop()
