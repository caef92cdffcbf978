"""Live input: a sound device's samples into a RingBuffer, surviving the device going away.

PortAudio lives only in child processes: the stream's callback writes straight into a ring buffer
in shared memory, and device look-ups run in a short-lived child too. Why: when an audio server
dies, PortAudio's JACK backend hangs in Pa_CloseStream and aborts the whole interpreter, even one
that only listed devices, in Pa_Terminate or from its server-gone handler (seen with jackd 1.9.21
and libportaudio2 19.6). A child can simply be killed and a fresh one started, with a fresh
PortAudio, when a device of that name is back; the window in the parent keeps drawing all the while.

    parent: LiveInput ── supervises ──> child: capture_main ── InputStream callback ──> shared RingBuffer
                     <──────────────────────── reads the newest samples ─────────────────┘
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from dataclasses import dataclass
from multiprocessing import shared_memory

from live.audio.ringbuffer import RingBuffer
from live.core.errors import PhospheneError


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    hostapi: str
    channels: int  # input channels
    default_sr: float


def list_inputs() -> list[InputDevice]:
    import sounddevice as sd

    apis = sd.query_hostapis()
    return [
        InputDevice(i, d["name"], apis[d["hostapi"]]["name"], d["max_input_channels"], d["default_samplerate"])
        for i, d in enumerate(sd.query_devices())
    ]


def list_outputs() -> list[InputDevice]:
    """The same records for outputs (`channels`: output channels): `devices --outputs`, `--monitor`."""
    import sounddevice as sd

    apis = sd.query_hostapis()
    return [
        InputDevice(i, d["name"], apis[d["hostapi"]]["name"], d["max_output_channels"], d["default_samplerate"])
        for i, d in enumerate(sd.query_devices())
    ]


def find_input(spec: str | None) -> InputDevice:
    """A device by index, exact name, or unique part of a name; None = the default input."""
    import sounddevice as sd

    devices = list_inputs()
    if spec is None:
        index = sd.default.device[0]
        if index is None or index < 0:
            raise PhospheneError("no default input device: list them with `python -m live devices` and pick one with --device")
        return devices[index]
    if spec.isdigit():
        matches = [d for d in devices if d.index == int(spec)]
    else:
        matches = [d for d in devices if d.name == spec] or [d for d in devices if spec.lower() in d.name.lower()]
    if not matches:
        names = ", ".join(f"{d.index}: {d.name}" for d in devices if d.channels > 0) or "none"
        raise PhospheneError(f"no input device '{spec}' (inputs here: {names}); see `python -m live devices`")
    if len(matches) > 1:
        raise PhospheneError(f"--device '{spec}' matches {', '.join(d.name for d in matches)}: give the index or the whole name")
    device = matches[0]
    if device.channels < 1:
        raise PhospheneError(f"device '{device.name}' has no input channels (it is an output): pick an input with --device")
    return device


def check_settings(device: InputDevice, channels: int, sr: int) -> None:
    import sounddevice as sd

    if channels > device.channels:
        raise PhospheneError(f"device '{device.name}' has {device.channels} input channel(s); --channels asks for {channels}")
    try:
        sd.check_input_settings(device=device.index, channels=channels, samplerate=sr)
    except sd.PortAudioError as e:
        raise PhospheneError(
            f"device '{device.name}' refuses {sr} Hz x {channels} ch ({e}); try its own rate, {device.default_sr:g} Hz"
        ) from None


def probe_main(spec: str | None, channels: int, sr: int | None, reply) -> None:
    """In a child: resolve the device and check the settings; reply (device, sr) or ("error", msg)."""
    try:
        device = find_input(spec)
        rate = int(sr or device.default_sr)
        check_settings(device, channels, rate)
        reply.send((device, rate))
    except PhospheneError as e:
        reply.send(("error", str(e)))


def probe(spec: str | None, channels: int, sr: int | None, timeout_s: float = 10.0) -> tuple[InputDevice, int]:
    """The input device and rate to use, checked in a child process; PhospheneError if refused."""
    ctx = mp.get_context("spawn")
    parent_end, child_end = ctx.Pipe(duplex=False)
    child = ctx.Process(target=probe_main, args=(spec, channels, sr, child_end), daemon=True)
    child.start()
    try:
        if not parent_end.poll(timeout_s):
            raise PhospheneError(f"looking up input '{spec}' took over {timeout_s:g} s: is the audio server hung?")
        answer = parent_end.recv()
    except EOFError:
        raise PhospheneError(f"looking up input '{spec}' failed: the audio library crashed (is libportaudio2 installed?)") from None
    finally:
        child.kill()
        child.join(timeout=2.0)
    if answer[0] == "error":
        raise PhospheneError(answer[1])
    return answer


# --- the child process --------------------------------------------------------------------------


def capture_main(device_name: str, channels: int, sr: int, block_size: int, shm_name: str, capacity: int, status) -> None:
    """Runs in the child: open the device by name, then let the callback copy blocks in."""
    import numpy as np  # noqa: F401 (the ring needs it; imported here so the spawn stays cheap)
    import sounddevice as sd

    shm = shared_memory.SharedMemory(name=shm_name)
    ring = RingBuffer(capacity, channels, sr, memory=shm.buf)
    ring.prefault()  # before the stream starts: no page faults inside the callback
    try:
        index = next(i for i, d in enumerate(sd.query_devices()) if d["name"] == device_name and d["max_input_channels"] > 0)
    except StopIteration:
        status.send(("absent", device_name))
        return
    clock, counter = time.monotonic, time.perf_counter_ns

    # capture time of a block's first sample on the host's monotonic clock (shared by all processes)
    def callback(indata, frames, t, flags):  # from PortAudio's thread, for each block
        started = counter()
        if flags:
            ring.count_status(bool(flags.input_overflow))
        ring.write(indata, clock() - (t.currentTime - t.inputBufferAdcTime))
        ring.add_callback_cost(counter() - started)

    try:
        stream = sd.InputStream(device=index, channels=channels, samplerate=sr, blocksize=block_size, dtype="float32", callback=callback)
        stream.start()
    except sd.PortAudioError as e:
        status.send(("error", str(e)))
        return
    status.send(("running", device_name))
    while True:  # the parent kills this process; nothing here touches PortAudio again
        time.sleep(1.0)


# --- the parent's side --------------------------------------------------------------------------


class LiveInput:
    """The input as the rest of the live path sees it: a ring buffer that keeps filling, an
    `input_lost` flag, and a reconnect count. Call start(), then read `ring`; stop() ends it."""

    WATCHDOG_S = 0.5  # no new samples for this long (50+ blocks at any sane block size) = lost
    RETRY_S = 1.0  # how often a lost device is looked for again

    def __init__(
        self, device_spec: str | None, *, channels: int | None = None, sr: int | None = None, block_size: int = 256, ring_s: float = 30.0
    ):
        """Checks the device (one clear PhospheneError if it is unknown, has no inputs or refuses
        the rate or channel count) before anything is opened. sr None = the device's own rate;
        channels None = as many as the device has, up to 2."""
        device, sr = probe(device_spec, channels or 1, sr)
        channels = channels or min(2, device.channels)  # within what the device has
        self.device, self.channels, self.sr, self.block_size = device, channels, sr, block_size
        capacity = int(ring_s * sr)
        self._shm = shared_memory.SharedMemory(create=True, size=RingBuffer.nbytes(capacity, channels))
        self.ring = RingBuffer(capacity, channels, sr, memory=self._shm.buf)
        self.ring.data.fill(0.0)  # commit the pages once, here, rather than during the set
        self.capacity = capacity
        self.input_lost = False
        self.reconnects = 0
        self.last_error = ""
        self._ctx = mp.get_context("spawn")  # a fresh interpreter: no PortAudio state inherited
        self._child = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="phosphene-input", daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        """Open the device; raises PhospheneError if it does not start."""
        state, detail = self._spawn(timeout_s)
        if state != "running":
            self._kill()
            raise PhospheneError(f"input '{self.device.name}' did not start: {detail}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._kill()
        self.ring = None  # drop the views before the memory goes
        self._shm.close()
        self._shm.unlink()

    def _spawn(self, timeout_s: float) -> tuple[str, str]:
        parent_end, child_end = self._ctx.Pipe(duplex=False)
        args = (self.device.name, self.channels, self.sr, self.block_size, self._shm.name, self.capacity, child_end)
        self._child = self._ctx.Process(target=capture_main, args=args, daemon=True, name="phosphene-capture")
        self._child.start()
        if not parent_end.poll(timeout_s):
            return "error", f"no answer from the capture process in {timeout_s:g} s"
        try:
            return parent_end.recv()
        except EOFError:
            return "error", f"the capture process exited with code {self._child.exitcode}"

    def _kill(self) -> None:
        if self._child is not None and self._child.is_alive():
            self._child.kill()  # never a clean close: that is what hangs on a dead server
            self._child.join(timeout=2.0)
        self._child = None

    def _supervise(self) -> None:
        last_written, last_change = self.ring.written, time.monotonic()
        while not self._stop.wait(0.05):
            written = self.ring.written
            now = time.monotonic()
            if written != last_written:
                last_written, last_change = written, now
                continue
            if now - last_change < self.WATCHDOG_S:
                continue
            self.input_lost = True  # the HUD shows it; the picture holds the last conditioning
            self._kill()
            while not self._stop.is_set():
                state, detail = self._spawn(timeout_s=5.0)
                if state == "running":
                    self.input_lost = False
                    self.reconnects += 1
                    last_written, last_change = self.ring.written, time.monotonic()
                    break
                self.last_error = detail
                self._kill()
                self._stop.wait(self.RETRY_S)
