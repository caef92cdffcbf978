"""`python -m live run`: line-in or microphone to a window, on the wall clock.

Three actors, none waiting on another:

    capture (child process) -> RingBuffer (shared memory, int64 sample clock + capture times)
    EncoderWorker (thread): every hop_s, the NEWEST window only -> 16 kHz -> encoder -> Conditioner
    render loop (main thread, display rate): Conditioner.at(now) -> Img2Img -> window, HUD, keys

The encoder never queues windows: when it falls behind it skips to the newest. The render loop
draws whatever conditioning is newest; a slow frame is simply late (counted as dropped display
intervals), never queued. Every frame carries the sample index of the newest audio its conditioning
depends on, and its audio-to-photon latency is the time it is shown minus that sample's capture time.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from live.errors import PhospheneError
from live.ringbuffer import RingBuffer

log = logging.getLogger("phosphene")


class FileInput:
    """`--input FILE`: a file played into a ring buffer at real time, looping; the same interface as
    LiveInput (ring, sr, input_lost, reconnects, stop), for rehearsal and tests."""

    def __init__(self, path, *, block_size: int = 256, ring_s: float = 30.0, sr: int = 48_000):
        from live.audio import open_segment, stream

        segment = open_segment(path)
        self.music = np.concatenate(list(stream(segment, sr=sr, channels=1)))  # (n, 1): rehearsal files are songs, not sets
        self.sr, self.block_size, self.channels = sr, block_size, 1
        self.ring = RingBuffer(int(ring_s * sr), 1, sr)
        self.input_lost, self.reconnects, self.last_error = False, 0, ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="phosphene-file-input", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _play(self) -> None:
        start, pos = time.monotonic(), 0
        while not self._stop.is_set():
            due = start + (self.ring.written + self.block_size) / self.sr
            self._stop.wait(max(0.0, due - time.monotonic()))
            idx = (np.arange(self.block_size) + pos) % len(self.music)
            self.ring.write(self.music[idx], time.monotonic() - self.block_size / self.sr)
            pos += self.block_size

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


def mono(samples: np.ndarray, channels: list[int] | None) -> np.ndarray:
    """(n, C) -> (n,): the mean of the chosen input channels (all by default)."""
    picked = samples if not channels else samples[:, channels]
    return picked.mean(axis=1)


class EncoderWorker(threading.Thread):
    def __init__(self, source, encoder, conditioner, lock: threading.Lock, *, window_s: float, hop_s: float, channels):
        super().__init__(name="phosphene-encoder", daemon=True)
        self.source, self.encoder, self.conditioner, self.lock = source, encoder, conditioner, lock
        self.window_samples = round(window_s * source.sr)
        self.hop_s, self.channels = hop_s, channels
        self.stop_event = threading.Event()
        self.encodes, self.skipped, self.errors = 0, 0, 0
        self.last_ms = 0.0
        self.last_error = ""
        self.last_index = -1

    def run(self) -> None:
        import soxr
        import torch

        next_due = time.monotonic()
        while not self.stop_event.is_set():
            self.stop_event.wait(max(0.0, next_due - time.monotonic()))
            late_by = time.monotonic() - next_due
            if late_by > self.hop_s:
                self.skipped += int(late_by // self.hop_s)  # hops we slept through: never caught up on
            next_due = max(next_due + self.hop_s, time.monotonic())
            ring = self.source.ring
            end = ring.written
            if end == self.last_index or end < self.source.sr // 4:
                continue  # no new audio (input lost) or not enough yet: hold the last conditioning
            try:
                started = time.perf_counter()
                window = ring.read(end - self.window_samples, end).samples  # (n, C) at the device rate
                wave16k = soxr.resample(mono(window, self.channels), self.source.sr, 16_000, quality="HQ")
                tokens = self.encoder.encode(wave16k[None, :].astype(np.float32))[0].to(torch.float32)  # (T, D)
                with self.lock:
                    self.conditioner.add(ring.capture_time(end - 1), end - 1, tokens)
                self.last_index = end
                self.encodes += 1
                self.last_ms = 1000 * (time.perf_counter() - started)
            except Exception as e:  # a live set never crashes: show it and keep going
                self.errors += 1
                self.last_error = f"{type(e).__name__}: {e}"
                log.warning("encoder: %s", self.last_error)


@dataclass
class RunStats:
    frames: int = 0
    dropped_frames: int = 0
    latency_ms: list[float] = field(default_factory=list)
    unet_ms: list[float] = field(default_factory=list)
    hud_level: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, meter value)
    latency_trace: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, latency ms)
    started: float = field(default_factory=time.monotonic)

    def summary(self, source, worker) -> dict:
        lat = np.array(self.latency_ms) if self.latency_ms else np.array([np.nan])
        seconds = time.monotonic() - self.started
        return {
            "frames": self.frames,
            "seconds": seconds,
            "fps": self.frames / seconds if seconds else 0.0,
            "latency_ms": {p: float(np.nanpercentile(lat, int(p[1:]))) for p in ("p50", "p95", "p99")},
            "overflows": source.ring.overflows if source.ring is not None else 0,
            "callback_us": source.ring.callback_us if source.ring is not None else 0.0,
            "block_ms": 1000 * source.block_size / source.sr,
            "dropped_frames": self.dropped_frames,
            "reconnects": source.reconnects,
            "encoder": {"encodes": worker.encodes, "skipped_hops": worker.skipped, "errors": worker.errors, "last_ms": worker.last_ms},
            "unet_ms_mean": float(np.mean(self.unet_ms)) if self.unet_ms else None,
            "hud_level": self.hud_level,
            "latency_trace": self.latency_trace,
        }


def level_of(source, channels, seconds: float) -> float:
    """RMS of the newest `seconds` of input: the HUD meter and the smoother's loudness."""
    ring = source.ring
    n = min(ring.written, max(1, int(seconds * source.sr)))
    if n <= 1:
        return 0.0
    return float(np.sqrt(np.mean(mono(ring.newest(n).samples, channels) ** 2)))


def run_live(args, profile, pipeline_factory) -> dict:
    """The whole live session; returns the stats. `pipeline_factory()` loads the models (after the
    input and display are known to be good, so bad input fails before anything heavy)."""
    from live.display import Display

    display = Display(display=args.display, windowed=args.windowed, size=profile.size)  # fails first: no display
    if args.input:
        source = FileInput(args.input, block_size=profile.block_size)
    else:
        from live.capture import LiveInput

        source = LiveInput(args.device, channels=max(args.channels or [1]) + 1, sr=args.samplerate, block_size=profile.block_size)
    try:
        encoder, conditioner, generator, prompt_embeds = pipeline_factory()
    except BaseException:
        display.close()
        raise
    lock = threading.Lock()
    source.start()
    worker = EncoderWorker(source, encoder, conditioner, lock, window_s=profile.window_s, hop_s=profile.hop_s, channels=args.channels)
    worker.start()
    stats = RunStats()
    frame_s = 1.0 / profile.display_fps
    last_rgb = None
    controls = Controls(conditioner, generator, prompt_embeds)
    try:
        display.open()
        while not display.quit_requested:
            t0 = time.monotonic()
            display.handle_events()
            while display.actions:
                with lock:
                    controls.apply(display.actions.pop(0))
            level = level_of(source, args.channels, frame_s)
            sample_index = None
            with lock:
                ready = bool(conditioner.timeline.entries)
                if ready and not display.frozen:
                    embeds, sample_index = conditioner.at(t0, level, frame_s)
            if ready and not display.frozen:
                started = time.perf_counter()
                from live.generator import to_uint8

                last_rgb = to_uint8(generator(embeds))
                stats.unet_ms.append(1000 * (time.perf_counter() - started))
            display.present(
                last_rgb,
                hud={
                    "fps": stats.frames / max(1e-6, time.monotonic() - stats.started),
                    "latency_ms": stats.latency_ms[-60:],
                    "level": level,
                    "encoder_ms": worker.last_ms,
                    "unet_ms": stats.unet_ms[-1] if stats.unet_ms else 0.0,
                    "overflows": source.ring.overflows,
                    "dropped": stats.dropped_frames,
                    "input_lost": source.input_lost,
                    "reconnects": source.reconnects,
                    "error": worker.last_error,
                    "prompt": controls.prompt_name,
                    "strength": generator.config.strength,
                    "audio_weight": conditioner.config.audio_weight,
                },
            )
            shown = time.monotonic()
            stats.frames += 1
            stats.hud_level.append((round(shown - stats.started, 3), round(level, 5)))
            if sample_index is not None:
                stats.latency_ms.append(1000 * (shown - source.ring.capture_time(sample_index)))
                stats.latency_trace.append((round(shown - stats.started, 3), round(stats.latency_ms[-1], 2)))
            elapsed = shown - t0
            stats.dropped_frames += max(0, int(elapsed / frame_s))  # display intervals this frame overran
            if args.duration and shown - stats.started >= args.duration:
                break
            time.sleep(max(0.0, frame_s - elapsed))
    finally:
        worker.stop_event.set()
        worker.join(timeout=1.0)
        summary = stats.summary(source, worker)
        source.stop()
        display.close()
    if args.stats_json:
        with open(args.stats_json, "w") as f:
            json.dump(summary, f)
    return summary


class Controls:
    """The VJ's keys, applied between frames: prompt choice, strength, audio weight."""

    STRENGTH_STEP = 0.05
    WEIGHT_STEP = 0.1

    def __init__(self, conditioner, generator, prompts: list[tuple[str, object]]):
        self.conditioner, self.generator, self.prompts = conditioner, generator, prompts  # [(text, (77, D))]
        self.index = 0

    @property
    def prompt_name(self) -> str:
        return self.prompts[self.index][0] if self.prompts else ""

    def apply(self, action: str) -> None:
        from dataclasses import replace

        if action in ("next_prompt", "previous_prompt") and self.prompts:
            self.index = (self.index + (1 if action == "next_prompt" else -1)) % len(self.prompts)
            self.conditioner.prompt = self.prompts[self.index][1]
        elif action in ("strength_up", "strength_down"):
            step = self.STRENGTH_STEP if action == "strength_up" else -self.STRENGTH_STEP
            self.generator.set_strength(self.generator.config.strength + step)
        elif action in ("weight_up", "weight_down") and self.prompts:
            step = self.WEIGHT_STEP if action == "weight_up" else -self.WEIGHT_STEP
            weight = min(1.0, max(0.0, self.conditioner.config.audio_weight + step))
            self.conditioner.config = replace(self.conditioner.config, audio_weight=weight)


def build_live_pipeline(models, profile, *, device: str, prompts: list[str]):
    """Load encoder, diffusion model and generator for the live loop, checked like a render's."""
    from live.conditioning import Conditioner, ConditioningConfig, encode_text
    from live.encoder import check_width, load_encoder
    from live.generator import GeneratorConfig, Img2Img
    from live.models import load_diffusion
    from live.render import pick_device

    torch_device, dtype = pick_device(device)
    encoder = load_encoder(models.encoder, device=torch_device, dtype=dtype)
    vae = models.vae if models.vae == "tiny" or profile.vae == "taesd" else "full"
    parts = load_diffusion(models.diffusion, vae, device=torch_device, dtype=dtype)
    check_width(encoder, models.diffusion, parts.width)
    generator = Img2Img(parts, GeneratorConfig(size=profile.size, steps=profile.steps, strength=profile.strength))
    meta = encoder.meta
    bos = encode_text(parts, "", length=meta.tokens + 1)[0] if meta.prepend_bos else None
    prompt_embeds = [(text, encode_text(parts, text)) for text in prompts]  # (77, D) each
    prompt = prompt_embeds[0][1] if prompt_embeds else None
    weight = 0.5 if prompt is not None else 1.0
    conditioner = Conditioner(ConditioningConfig(profile.attack_s, profile.release_s, weight), bos=bos, prompt=prompt)
    return encoder, conditioner, generator, prompt_embeds


def check_run_args(args) -> None:
    if args.duration is not None and args.duration <= 0:
        raise PhospheneError(f"--duration {args.duration}: give a positive number of seconds")
