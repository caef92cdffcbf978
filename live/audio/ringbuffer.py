"""The live audio clock: a ring buffer of samples addressed by their int64 index since the stream began.

One producer (the PortAudio callback) and any number of readers. The callback only copies the block
into preallocated memory and then advances `written`: no allocation, no lock, no logging. A reader
asks for "the newest N samples" or "samples [a, b)" and is told when some of them were overwritten
while it read (the writer lapped it), seqlock style: read `written` before and after the copy.

Alongside each sample index the buffer keeps the host time at which that block was captured, so a
frame can carry "the newest audio I depend on was captured at t" and latency is photon time - t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Read:
    samples: np.ndarray  # (n, channels) float32, a copy the reader owns
    start: int  # sample index of samples[0]
    overwritten: int  # how many of the requested samples were gone (zeros in `samples`)

    @property
    def end(self) -> int:
        return self.start + len(self.samples)


HEADER_BYTES = 64  # counters and the capture-time anchor, before the samples


class RingBuffer:
    """`memory` may be a shared-memory buffer (see live/audio/capture.py: the callback runs in a child
    process and writes straight into it); by default the buffer is private to this process."""

    def __init__(self, capacity: int, channels: int = 1, sr: int = 48_000, memory=None):
        self.capacity = int(capacity)  # samples kept; readers can look back this far
        self.channels = channels
        self.sr = sr  # the device's rate: sample index -> seconds
        memory = memory if memory is not None else bytearray(self.nbytes(capacity, channels))
        # counters: [written, anchor sample index, overflows, callbacks with other status flags]
        self._counters = np.ndarray((4,), dtype=np.int64, buffer=memory, offset=0)
        self._anchor_time = np.ndarray((1,), dtype=np.float64, buffer=memory, offset=32)
        # [callbacks timed, their total ns]: the callback's own cost, measured inside it
        self._callback_cost = np.ndarray((2,), dtype=np.int64, buffer=memory, offset=40)
        self.data = np.ndarray((self.capacity, channels), dtype=np.float32, buffer=memory, offset=HEADER_BYTES)

    def prefault(self) -> None:
        """Touch every page now, so the audio callback never takes a page fault on first write
        (fresh memory is mapped lazily: 30 s at 48 kHz stereo is 2800 faults otherwise)."""
        self.data.max()  # a read maps shared pages that the creator already wrote; see LiveInput

    @staticmethod
    def nbytes(capacity: int, channels: int) -> int:
        return HEADER_BYTES + int(capacity) * channels * 4

    @property
    def written(self) -> int:
        """int64 count of samples ever written; advanced after their copy."""
        return int(self._counters[0])

    @property
    def overflows(self) -> int:
        return int(self._counters[2])

    @property
    def status_flags(self) -> int:
        return int(self._counters[3])

    def add_callback_cost(self, ns: int) -> None:
        self._callback_cost[1] += ns
        self._callback_cost[0] += 1

    @property
    def callback_us(self) -> float:
        """Mean cost of one audio callback, in microseconds (0 when none was timed)."""
        count = int(self._callback_cost[0])
        return int(self._callback_cost[1]) / count / 1000 if count else 0.0

    def count_status(self, input_overflow: bool) -> None:
        """From the callback: the device reported a problem with this block."""
        self._counters[2 if input_overflow else 3] += 1

    # -- the producer side: called from the audio callback ------------------------------------

    def write(self, block: np.ndarray, capture_time: float) -> None:
        """Copy one (n, channels) block in and advance the counter. Allocation-free."""
        total = len(block)
        skip = max(0, total - self.capacity)  # a block longer than the ring: only its end survives
        block, n = block[skip:], total - skip
        start = (int(self._counters[0]) + skip) % self.capacity
        first = min(n, self.capacity - start)
        self.data[start : start + first] = block[:first]
        if first < n:
            self.data[: n - first] = block[first:]
        written = int(self._counters[0])
        self._counters[1] = -1  # anchor being changed (a reader seeing -1 retries)
        self._anchor_time[0] = capture_time
        self._counters[1] = written
        self._counters[0] = written + total  # last: readers never see a count ahead of its samples

    # -- the reader side ----------------------------------------------------------------------

    def read(self, a: int, b: int) -> Read:
        """Samples [a, b). Indices below 0 are the silence before the stream began; samples the
        writer has already overwritten come back as zeros and are counted in `overwritten`."""
        if b > self.written:
            raise IndexError(f"samples up to {b} requested, only {self.written} written")
        out = np.zeros((b - a, self.channels), dtype=np.float32)
        lo = max(a, self.written - self.capacity, 0)  # the oldest sample still held
        if lo < b:
            self._copy(lo, b, out[lo - a :])
        oldest_after = self.written - self.capacity
        if oldest_after > lo:  # the writer lapped us during the copy: those samples may be torn
            torn_end = min(b, oldest_after)
            out[lo - a : torn_end - a] = 0.0
            lo = torn_end
        return Read(out, a, max(0, lo - max(a, 0)))

    def newest(self, n: int) -> Read:
        end = self.written
        return self.read(end - n, end)

    def capture_time(self, sample_index: int) -> float:
        """Host time (s) at which `sample_index` was captured, from the newest block's timestamp."""
        while True:  # seqlock: the anchor index brackets its time, so a torn pair is seen and retried
            index = int(self._counters[1])
            time_s = float(self._anchor_time[0])
            if index >= 0 and index == int(self._counters[1]):
                return time_s + (sample_index - index) / self.sr

    def _copy(self, a: int, b: int, out: np.ndarray) -> None:
        start = a % self.capacity
        n = b - a
        first = min(n, self.capacity - start)
        out[:first] = self.data[start : start + first]
        if first < n:
            out[first:n] = self.data[: n - first]
