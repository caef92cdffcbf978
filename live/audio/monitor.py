"""`run --input FILE --monitor [DEVICE]`: hear the rehearsal file while it plays into the live path,
so the picture's sync can be judged by ear.

PortAudio runs in a child process, as capture does (its JACK backend can hang or abort a process
when the server goes). The child decodes the file at the device's rate and starts playing at the
same monotonic instant the file input starts writing its ring, looping as the input does; the
output device's own latency is not compensated.
"""

from __future__ import annotations

import multiprocessing as mp
import time

from live.core.errors import PhospheneError

START_TIMEOUT_S = 10.0  # decode + opening the device; a device that cannot open says so within this


def _play(path: str, device: str | None, pipe) -> None:
    """The child: open the output, say so (or why not), wait for the start instant, play the file looped."""
    try:
        import numpy as np
        import sounddevice as sd

        from live.audio.decode import open_segment, stream

        info = sd.query_devices(device if device is None or not device.isdigit() else int(device), "output")
        sr = int(info["default_samplerate"])
        music = np.concatenate(list(stream(open_segment(path), sr=sr, channels=1)))[:, 0]
        position = 0

        def callback(out, frames, _time, _status):
            nonlocal position
            out[:, 0] = music[(np.arange(frames) + position) % len(music)]
            position += frames

        output = sd.OutputStream(device=info["index"], channels=1, samplerate=sr, callback=callback)
    except Exception as e:  # ValueError for an unknown device, PortAudioError for one that refuses
        pipe.send(f"{type(e).__name__}: {e}")
        return
    pipe.send("ok")
    start_at = pipe.recv()  # time.monotonic() is one clock for every process on the machine
    time.sleep(max(0.0, start_at - time.monotonic()))
    with output:
        while True:
            time.sleep(1.0)


class Monitor:
    """The file, ready to play on an output device; `start(at)` starts it at that time.monotonic()."""

    def __init__(self, path, device: str | None):
        context = mp.get_context("spawn")
        parent, child = context.Pipe()
        self.pipe = parent
        self.process = context.Process(target=_play, args=(str(path), device, child), daemon=True, name="phosphene-monitor")
        self.process.start()
        if not parent.poll(START_TIMEOUT_S):
            self.stop()
            raise PhospheneError(f"--monitor {device or 'default'}: the output did not open within {START_TIMEOUT_S:g} s")
        answer = parent.recv()
        if answer != "ok":
            self.stop()
            raise PhospheneError(f"--monitor {device or 'default'}: cannot play to it ({answer}); see `python -m live devices --outputs`")

    def start(self, at: float) -> None:
        self.pipe.send(at)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=2.0)
