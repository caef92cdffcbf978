"""What every video output beside the window shares (`--stream`, `--ndi`, `--virtual-camera`): the
frame loop hands each shown frame to the output's own sender thread and never waits for it. When
the sender lags, the frame is dropped and counted, never queued; an error while sending (a receiver
gone, a network fault) is counted and the set goes on.

    class MyOut(FrameSender):
        def write(self, rgb): ...            # on the sender thread, one (H, W, 3) uint8 frame
        def close(self): ...                 # on the sender thread, after the last frame
"""

from __future__ import annotations

import queue
import threading

import numpy as np


class FrameSender:
    kind = "output"  # the key of its figures in the run's stats

    def __init__(self, name: str, *, width: int, height: int):
        self.name, self.width, self.height = name, width, height
        self.sent = self.dropped = self.errors = 0
        self.last_error = ""
        self._frames: queue.Queue = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._run, name=f"phosphene-{self.kind}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def send(self, rgb: np.ndarray | None, wait_s: float = 0.0) -> None:
        """Called by the frame loop: never blocks (`wait_s`: at the end, the frames still in flight
        wait that long for room rather than being dropped)."""
        if rgb is None:
            return
        try:
            self._frames.put(rgb, timeout=wait_s) if wait_s > 0 else self._frames.put_nowait(rgb)
        except queue.Full:
            self.dropped += 1

    def write(self, rgb: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _run(self) -> None:
        while (rgb := self._frames.get()) is not None:
            if rgb.shape[:2] != (self.height, self.width):
                continue  # a frame of another size (not expected): skipped, not a crash
            try:
                self.write(np.ascontiguousarray(rgb))
                self.sent += 1
            except Exception as e:  # a receiver gone, a network error: counted, the set goes on
                self.errors += 1
                self.last_error = f"{type(e).__name__}: {e}"
        try:
            self.close()
        except Exception:
            pass

    def status(self) -> str:
        """One line for the HUD."""
        errors = f", {self.errors} errors ({self.last_error[:40]})" if self.errors else ""
        return f"{self.kind} {self.sent} sent, {self.dropped} dropped{errors}"

    def stop(self) -> dict:
        try:
            self._frames.put(None, timeout=1.0)
        except queue.Full:
            pass
        self._thread.join(timeout=2.0)
        return {"name": self.name, "sent": self.sent, "dropped": self.dropped, "errors": self.errors}
