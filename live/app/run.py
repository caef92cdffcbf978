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

import logging
import threading
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from live.app.finite import check_finite
from live.app.stats import RunStats, write_json
from live.audio.fileinput import FileInput
from live.audio.monitor import Monitor
from live.control.surface import Control, Inbox
from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError
from live.core.units import parse_size

log = logging.getLogger("phosphene")


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
        self.last_ms = self.total_ms = 0.0
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
                wave16k = soxr.resample(mono(window, self.channels), self.source.sr, SAMPLE_RATE, quality="HQ")
                tokens = self.encoder.encode(wave16k[None, :].astype(np.float32))[0].to(torch.float32)  # (T, D)
                check_finite(tokens, "the encoder's embedding")  # counted below; the last good conditioning holds
                with self.lock:
                    self.conditioner.add(ring.capture_time(end - 1), end - 1, tokens)
                self.last_index = end
                self.encodes += 1
                self.last_ms = 1000 * (time.perf_counter() - started)
                self.total_ms += self.last_ms
            except Exception as e:  # a live set never crashes: show it and keep going
                self.errors += 1
                self.last_error = f"{type(e).__name__}: {e}"
                log.warning("encoder: %s", self.last_error)


def level_of(source, channels, seconds: float) -> float:
    """RMS of the newest `seconds` of input: the HUD meter and the smoother's loudness."""
    ring = source.ring
    n = min(ring.written, max(1, int(seconds * source.sr)))
    if n <= 1:
        return 0.0
    return float(np.sqrt(np.mean(mono(ring.newest(n).samples, channels) ** 2)))


class FrameSlot:
    """The newest two generator frames, for the display's crossfade: a slot, never a queue."""

    def __init__(self):
        self.lock = threading.Condition()
        self.older = self.newer = None  # (rgb uint8 (H, W, 3), sample index, ready time)

    def publish(self, rgb: np.ndarray, sample_index: int) -> None:
        with self.lock:
            self.older, self.newer = self.newer, (rgb, sample_index, time.monotonic())
            self.lock.notify_all()

    def wait_newer_than(self, t: float, timeout: float) -> bool:
        """Wait (at most `timeout` s) for a frame made after monotonic time t: a control's frame."""
        with self.lock:
            return self.lock.wait_for(lambda: self.newer is not None and self.newer[2] > t, timeout)

    def latest(self):
        with self.lock:
            return self.older, self.newer


class GeneratorWorker(threading.Thread):
    """Makes frames as fast as it can from the newest conditioning and features; the display shows
    whatever is newest. Owns the GL context of the shader stage (a GL context lives on one thread)."""

    def __init__(self, source, channels, slot: FrameSlot, make_engine, *, min_interval_s: float = 0.0):
        super().__init__(name="phosphene-generator", daemon=True)
        self.min_interval_s = min_interval_s  # no faster than the display: unseen frames only steal CPU
        self.source, self.channels, self.slot, self.make_engine = source, channels, slot, make_engine
        self.stop_event = threading.Event()
        self.kick = threading.Event()  # set by a control: draw the next frame now, not at the next interval
        self.taps: list[float | None] = []  # tap times from the keys; None releases tap tempo
        self.tempo_source = "auto"  # --tempo-source: which source may drive the beat (auto: the latest to speak)
        self.tempo_driver = "audio"  # which one does now: audio (the tracker), tap, or midi (the controller's clock)
        self.half_beat = False  # the O key: the beat moved by half a period
        self.ones: list[float] = []  # "this is the one" presses (the D key): the nearest beat starts the bar
        self.frames, self.errors, self.last_ms, self.total_ms = 0, 0, 0.0, 0.0
        self.last_error = ""
        self.drive = None
        self.clock = None  # the feature clock, made by prepare()

    def prepare(self, ctx=None) -> None:
        """The engine (with `ctx`: drawing into that GL context, the window's), the feature clock, the
        resampler. Called on the thread that draws: this worker's own, or the window's (in_window)."""
        import soxr

        from live.analysis.clock import FeatureClock

        # (drive, level, dt_s, now, newest index) -> (rgb or texture, sample index) or None
        self.engine = self.make_engine() if ctx is None else self.make_engine(ctx)
        if self.clock is None:  # a new window (F) makes a new engine; the beat clock goes on
            self.clock = FeatureClock()
            self.resampler = soxr.ResampleStream(self.source.sr, SAMPLE_RATE, 1, dtype="float32")
            self.last_read, self.last_time = self.source.ring.written, time.monotonic()

    def step(self) -> bool | None:
        """One frame from the newest audio: True when one was drawn (and published), False when there
        is nothing to draw from yet, None after a fault (counted; the last frame stays)."""
        clock, ring = self.clock, self.source.ring
        now = time.monotonic()
        end = ring.written
        start = max(self.last_read, end - self.source.sr)  # at most the last second: never a backlog
        samples = mono(ring.read(start, end).samples, self.channels) if end > start else np.zeros(0, np.float32)
        self.last_read = end
        level = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
        while self.taps:
            tap = self.taps.pop(0)
            clock.analyzer.beats.tap(tap) if tap is not None else clock.analyzer.beats.release()
            if tap is None:  # released: the bar is the tracker's again too
                clock.analyzer.bars.release()
        while self.ones:
            clock.analyzer.set_downbeat(self.ones.pop(0))
        clock.analyzer.beats.half_beat = self.half_beat
        try:
            self.drive = clock.advance(self.resampler.resample_chunk(samples), now)
            started = time.perf_counter()
            result = self.engine(self.drive, level, now - self.last_time, now, end - 1)
            self.last_time = now
            if result is None:  # nothing to draw from yet
                return False
            self.last_ms = 1000 * (time.perf_counter() - started)
            self.total_ms += self.last_ms
            self.frames += 1
            self.slot.publish(*result)
            return True
        except Exception as e:  # a live set never crashes: show it, hold the last frame, go on
            self.errors += 1
            self.last_error = f"{type(e).__name__}: {e}"
            log.warning("generator: %s", self.last_error)
            return None

    def run(self) -> None:
        self.prepare()
        while not self.stop_event.is_set():
            now = time.monotonic()
            drawn = self.step()
            if drawn is None:
                self.stop_event.wait(0.2)
            elif not drawn:
                self.stop_event.wait(0.01)
            else:  # until the next display interval, or at once when a control changed what to draw
                self.kick.wait(max(0.0, self.min_interval_s - (time.monotonic() - now)))
                self.kick.clear()


def unet_ms(parts, generator) -> float:
    """Mean UNet ms per generated frame (the diffusion engine's own timer); the shader engine has none."""
    if parts.generator is None or not generator.frames:
        return 0.0
    return 1000 * parts.generator.timer.total_s.get("unet", 0.0) / generator.frames


def crossfade(older, newer, now: float) -> np.ndarray | None:
    """Display-rate crossfade (the crossfade shader's math, on the CPU): the newer frame fades in
    over the time the generator took to make it, so the window runs at display rate."""
    from live.draw.shaders import crossfade_mix

    if newer is None:
        return None
    if older is None:
        return newer[0]
    mix = crossfade_mix(now, older[2], newer[2])
    if mix >= 1.0:
        return newer[0]
    return (older[0] * (1.0 - mix) + newer[0] * mix).astype(np.uint8)


class GLPixels:
    """The outputs' pixels (and the web preview's) from the frame the window shows. A uint8 frame
    (the thread path, diffusion, a window without GL) goes out as it is; a GL texture is read back
    only when something needs pixels, through PBOs (two frames late, never a stall), the preview
    scaled to its own size in GL and read only when it is due."""

    def __init__(self, outputs: list, size: tuple[int, int]):
        self.outputs, self.size = outputs, size
        self.readers: dict = {}  # (kind, size) -> OutputReader on the current GL context
        self.reads_before = 0  # reads of readers dropped with an old context (F)

    @property
    def reads(self) -> int:
        return self.reads_before + sum(r.reads for r in self.readers.values())

    def _reader(self, key, texture, size):
        reader = self.readers.get(key)
        if reader is None:
            from live.draw.readback import OutputReader

            reader = self.readers[key] = OutputReader(texture.ctx, frame_size=tuple(texture.size), size=size, depth=2 if key == "preview" else 3)
        return reader

    def read(self, frame, *, preview: bool):
        """-> (the outputs' uint8 frame or None, the preview's or None)."""
        if frame is None or isinstance(frame, np.ndarray):
            return frame, (frame if preview else None)
        out = self._reader("outputs", frame, self.size).submit(frame) if self.outputs else None
        shown = None
        if preview:
            from live.app.remote import preview_size

            shown = self._reader("preview", frame, preview_size(*tuple(frame.size))).submit(frame)
        return out, shown

    def drain(self):
        reader = self.readers.get("outputs")
        return reader.drain() if reader is not None else iter(())

    def reset(self) -> None:
        """The GL context went (a new window): its readers with it; frames in flight there are lost."""
        self.reads_before = self.reads
        self.readers = {}


def run_live(args, profile, pipeline_factory) -> dict:
    """The whole live session; returns the stats. `pipeline_factory()` returns the generator
    engine factory and the models' parts (after the input and display are known to be good, so
    bad input fails before anything heavy)."""
    from live.draw.display import Display

    display = Display(
        display=args.display, windowed=args.windowed, size=profile.size, headless=args.headless, hud=args.hud
    )  # fails first: no display
    inbox, inputs = open_controls(args)  # then a MIDI or OSC port that is missing or taken, before audio and models
    try:
        outputs = open_outputs(args, profile)  # a stream URL, NDI name or camera that cannot open: here, in one line
    except BaseException:
        for control_input in inputs:
            control_input.stop()
        raise
    inputs += outputs  # stopped with the inputs
    link = next((i for i in inputs if getattr(i, "name", None) == "link"), None)
    learn = next((i.learn for i in inputs if getattr(i, "learn", None) is not None), None)
    if args.input:
        monitor = Monitor(args.input, args.monitor or None) if args.monitor is not None else None  # fails here, before the models
        source = FileInput(args.input, block_size=profile.block_size, monitor=monitor)
    else:
        from live.audio.capture import LiveInput

        wanted = max(args.channels) + 1 if args.channels else None  # None: as many as the device has, up to 2
        source = LiveInput(args.device, channels=wanted, sr=args.samplerate, block_size=profile.block_size)
    channels = None if args.input else args.channels  # which captured channels to mix; a file plays in mono
    try:
        parts = pipeline_factory()
    except BaseException:
        display.close()
        for control_input in inputs:
            control_input.stop()
        if hasattr(source, "_shm") or isinstance(source, FileInput):  # the capture child, the monitor child
            source.stop()
        raise
    lock = threading.Lock()
    source.start()
    worker = None
    if parts.encoder is not None:
        worker = EncoderWorker(
            source, parts.encoder, parts.conditioner, lock, window_s=profile.window_s, hop_s=profile.hop_s, channels=channels
        )
        worker.start()
    slot = FrameSlot()
    generator = GeneratorWorker(source, channels, slot, lambda *ctx: parts.make_engine(lock, *ctx), min_interval_s=1.0 / profile.display_fps)
    generator.half_beat = args.half_beat  # the O key toggles it
    generator.tempo_source = getattr(args, "tempo_source", "auto")
    stats = RunStats()
    frame_s = 1.0 / profile.display_fps
    controls = Controls(parts.conditioner, parts.generator, parts.prompts, parts.look, parts.encode_prompt)
    controls.director = parts.director  # scenes: the next/previous/cue/go actions go to it
    web = next((i for i in inputs if getattr(i, "kind", None) == "web"), None)  # the web remote's server
    feed = None
    width, height = parse_size(profile.size)
    pixels = GLPixels(outputs, (width, height))  # the outputs' pixels when the frame stays in GL
    resumed_at = 0  # sample index from which frames count towards latency: 0, or the first after an outage
    in_window = False  # the shader engine drawing into the window's GL context, on this thread
    try:
        display.open()
        in_window = parts.gl_engine and display.gl_screen is not None
        if in_window:  # the frame stays in GL: no readback for the window, the outputs' pixels through PBOs
            gl_ctx = display.gl_screen.ctx
            generator.prepare(gl_ctx)
        else:
            generator.start()
        if web is not None:
            from live.app.remote import RemoteFeed, preview_size

            preview = preview_size(width, height) if in_window else (width, height)  # in GL: scaled there before the read
            feed = RemoteFeed(web, parts, width=preview[0], height=preview[1])  # its state, preview and thumbnails
        while not display.quit_requested:
            t0 = time.monotonic()
            display.handle_events()
            while display.actions:
                inbox.put(Control("action", display.actions.pop(0), None, "keys"))
            drawn_for_control = False
            for control in inbox.drain():  # keys, MIDI and OSC: one table, applied between frames
                apply_control(control, t0=t0, display=display, generator=generator, controls=controls, lock=lock, learn=learn, inbox=inbox)
                drawn_for_control |= control.kind == "param"
            if in_window:
                current = display.gl_screen.ctx if display.gl_screen is not None else None
                if current is not gl_ctx:  # F made a new window, so a new GL context: a new engine in it (the beat clock goes on)
                    gl_ctx = current
                    pixels.reset()
                    generator.prepare(gl_ctx)  # None: a window without GL now, the engine's own context and pixels
                if not (display.frozen and stats.frames):  # frozen: the engine waits, the same picture stays up
                    generator.step()  # drawn now, from the newest audio, after this interval's controls
            elif drawn_for_control:  # the generator was kicked: show its frame in this display interval, not the next
                drawn_for_control = slot.wait_newer_than(t0, timeout=0.5 * frame_s)
            newer = None
            if not (display.frozen and stats.frames):  # frozen: the same picture stays up
                older, newer = slot.latest()
                if in_window:
                    shown_rgb = newer[0] if newer is not None else None  # a texture (or pixels without GL): no crossfade
                else:
                    shown_rgb = newer[0] if drawn_for_control else crossfade(older, newer, t0)  # a control's frame: a cut
            level = level_of(source, channels, frame_s)
            presenting = time.perf_counter()
            hud = {
                "fps": stats.frames / max(1e-6, time.monotonic() - stats.started),
                "latency_ms": stats.latency_ms.newest(60)[::-1, 0].tolist(),  # the last 60 frames, newest first
                "level": level,
                "encoder_ms": worker.last_ms if worker else 0.0,
                "unet_ms": unet_ms(parts, generator),
                "overflows": source.ring.overflows,
                "dropped": stats.dropped_frames,
                "input_lost": source.input_lost,
                "reconnects": source.reconnects,
                "error": (worker.last_error if worker else "") or generator.last_error,
                "prompt": controls.prompt_name,
                "strength": parts.generator.config.strength if parts.generator else 0.0,
                "audio_weight": parts.conditioner.config.audio_weight if parts.conditioner else 0.0,
                "tempo": generator.drive.tempo_bpm if generator.drive else 0.0,
                "half_beat": generator.half_beat,
                "tempo_source": generator.tempo_driver,
                "control": inbox.last,
                "control_ignored": sum(inbox.ignored.values()),
                "control_lost": [i.name for i in inputs if getattr(i, "lost", False)],
                "link": link.status() if link else "",
                "outputs": [output.status() for output in outputs if output.kind != "probe"],
                "learn": learn.status() if learn else "",
                "scene": parts.director.status if parts.director else "",
            }
            display.present(shown_rgb, hud=hud)
            out_rgb, preview_rgb = pixels.read(shown_rgb, preview=feed.wants_preview() if feed is not None else False)
            if feed is not None:  # the web remote: the state and a preview, handed over
                feed.frame(preview_rgb, hud, display=display, generator=generator, controls=controls)
            if outputs:  # handed over, never waited for
                out_rgb = np.zeros_like(out_rgb) if display.blackout and out_rgb is not None else out_rgb
                for output in outputs:
                    output.send(out_rgb)
            stats.present_s += time.perf_counter() - presenting
            shown = time.monotonic()
            stats.frames += 1
            latency = None
            if source.input_lost:
                resumed_at = None  # an outage: no audio, so no audio-to-photon latency to speak of
            elif resumed_at is None:
                resumed_at = source.ring.written  # the first sample after it
            fresh = newer is not None and resumed_at is not None and newer[1] >= resumed_at  # not a picture held from before an outage
            if fresh and not display.frozen:
                latency = 1000 * (shown - source.ring.capture_time(newer[1]))
                stats.latency_ms.append(latency)
            stats.trace(shown - stats.started, level, latency)
            elapsed = shown - t0
            stats.dropped_frames += max(0, int(elapsed / frame_s))  # display intervals this frame overran
            if args.duration and shown - stats.started >= args.duration:
                break
            if getattr(args, "stop_when", None) is not None and args.stop_when.is_set():  # a bench's own end
                break
            time.sleep(max(0.0, frame_s - elapsed))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: quit as Q does
        pass
    finally:
        for thread in (worker, generator):
            if thread is not None:
                thread.stop_event.set()
        for thread in (worker, generator):
            if thread is not None and thread.ident is not None:  # in_window the generator draws on this thread
                thread.join(timeout=0.4)  # a UNet call in flight is not waited for: the threads are daemons
        summary = stats.summary(source, worker, generator)
        summary["engine"] = "diffusion" if parts.generator is not None else "shader"
        summary["size"], summary["display_fps"] = list(parse_size(profile.size)), profile.display_fps
        if parts.generator is not None:  # the generator's own split of its time
            per_frame = parts.generator.timer.per_frame_ms(max(1, generator.frames))
            summary["unet_ms_mean"], summary["vae_ms_mean"] = per_frame.get("unet", 0.0), per_frame.get("vae", 0.0)
            summary["stage_ms"] = {k: v for k, v in per_frame.items() if k != "vae"}  # per generated frame: unet, vae_encode, ...
        summary["controls"] = inbox.summary()
        gl_screen = display.gl_screen
        summary["window"] = {  # how the frame reached the window and the outputs
            "gl": gl_screen is not None,
            "frames_in_gl": in_window,  # the shader engine drew into the window's context: no readback for it
            "uploads": gl_screen.uploads if gl_screen is not None else None,  # frames uploaded to the window
            "readbacks": pixels.reads,  # frames read back for the outputs (and the preview) through PBOs
        }
        for rgb in pixels.drain():  # the frames still in flight: every frame shown reaches the outputs
            for output in outputs:
                rgb_out = np.zeros_like(rgb) if display.blackout else rgb
                output.send(rgb_out) if output.kind == "probe" else output.send(rgb_out, wait_s=0.5)  # a probe records at once
        if parts.director is not None:  # (generator frame, scene) at each switch, and the scene at the end
            summary["scenes"] = {"changes": parts.director.changes, "current": parts.director.current}
        summary["controllers"] = {i.name: {"lost": i.lost, "reconnects": i.reconnects} for i in inputs if hasattr(i, "reconnects")}
        summary["tempo_bpm"] = generator.drive.tempo_bpm if generator.drive else None  # the beat clock's, at the end
        summary["tempo_source"] = generator.tempo_driver
        summary["params"] = {"strength": controls.strength, "audio_weight": controls.audio_weight, **asdict(parts.look.look)}
        if args.duration:  # a timed run (bench, tune): a full-size model's call in flight ends first (exiting in it
            for thread in (worker, generator):  # aborts in torch's threads), and before the ring it reads is unmapped
                if thread is not None and thread.ident is not None:
                    thread.join(timeout=120.0)
        if feed is not None:
            feed.stop()  # the preview's sender; the server stops with the inputs
        for control_input in inputs:
            result = control_input.stop()
            if control_input in outputs:
                summary[control_input.kind] = result
            elif control_input is link:
                summary["link"] = result
            elif getattr(control_input, "kind", None) == "web":
                summary["web"] = result
        source.stop()
        display.close()
    if args.stats_json:
        write_json(args.stats_json, summary)
    return summary


class Controls:
    """The diffusion engine's live settings, changed between frames: prompt choice, strength, audio
    weight; and the look every engine draws with (`look`: shared with the generator thread)."""

    STRENGTH_STEP = 0.05
    WEIGHT_STEP = 0.1

    def __init__(self, conditioner, generator, prompts: list[tuple[str, object]], look=None, encode_prompt=None):
        self.conditioner, self.generator, self.prompts = conditioner, generator, prompts  # [(text, (77, D))]
        self.look = look  # engines.LookBox
        self.encode_prompt = encode_prompt  # text -> (77, D), for prompts sent live (OSC)
        self.index = 0
        self.director = None  # live.app.director.Director when scenes are on

    @property
    def prompt_name(self) -> str:
        return self.prompts[self.index][0] if self.prompts else ""

    @property
    def strength(self) -> float | None:
        return self.generator.config.strength if self.generator else None

    @property
    def audio_weight(self) -> float | None:
        return self.conditioner.config.audio_weight if self.conditioner else None

    def set(self, name: str, value: float) -> None:
        """A parameter of the surface (live.control.surface.PARAMS), already within its range."""
        from dataclasses import replace

        if name == "strength":
            if self.generator is not None:
                self.generator.set_strength(value)
        elif name == "audio_weight":
            if self.conditioner is not None and self.prompts:
                self.conditioner.config = replace(self.conditioner.config, audio_weight=value)
        elif self.look is not None:
            self.look.set(name, value)

    def add_prompt(self, text: str) -> None:
        """A prompt sent live: encoded, added to the list and shown from the next frame."""
        if self.encode_prompt is None or self.conditioner is None:
            return
        from dataclasses import replace

        from live.models.settings import ConditioningConfig

        self.prompts.append((text, self.encode_prompt(text)))
        self.index = len(self.prompts) - 1
        self.conditioner.prompt = self.prompts[self.index][1]
        if self.conditioner.config.audio_weight >= 1.0:  # audio only so far: a prompt sent means "mix it in"
            self.conditioner.config = replace(self.conditioner.config, audio_weight=ConditioningConfig.default_audio_weight(True))

    def apply(self, action: str) -> None:
        from dataclasses import replace

        if self.generator is None:  # the shader engine has no prompts or strength
            return
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


DISPLAY_ACTIONS = ("blackout", "freeze", "hud", "fullscreen", "quit")


def apply_control(control: Control, *, t0: float, display, generator, controls: Controls, lock, learn=None, inbox=None) -> None:
    """One control from the surface, whatever sent it (`inbox`: where a scene that does not exist is counted)."""
    if learn is not None and control.source in ("keys", "osc", "web") and control.kind in ("param", "action"):
        learn.offer_target(control.kind, control.name)  # armed: this is what the next control moved binds to
    if control.kind == "action":
        name = control.name
        if name.startswith("learn"):
            if learn is None:
                log.warning("MIDI learn needs a controller: run with --midi NAME")
            else:
                learn.toggle() if name == "learn" else learn.step(1 if name == "learn_next" else -1)
        elif name in DISPLAY_ACTIONS:
            display.apply(name)
        elif name == "tap":
            source = {"midi clock": "midi", "link": "link"}.get(control.source, "tap")
            if generator.tempo_source not in ("auto", source):
                return  # --tempo-source says another source drives the beat
            generator.tempo_driver = source
            generator.taps.append(control.value if isinstance(control.value, float) else t0)  # MIDI clock: the tick's own time
        elif name == "release_tap":
            generator.taps.append(None)
            generator.tempo_driver = "audio"
        elif name == "half_beat":
            generator.half_beat = not generator.half_beat
        elif name.startswith("scene_"):
            if controls.director is not None:
                controls.director.request(name)  # applied on the generator's thread, at the next frame
        elif name == "downbeat":
            generator.ones.append(t0)
        else:
            with lock:
                controls.apply(name)
    elif control.kind == "param":
        with lock:
            controls.set(control.name, control.value)
        generator.kick.set()  # its effect in the next frame drawn, not one display interval later
    elif control.kind == "prompt":
        with lock:
            controls.add_prompt(control.value)
    elif control.kind == "scene":  # a scene by name: go (the session's transition) or cue (the next phrase)
        director = controls.director  # live there is always one: a plain run plays the classic scene
        if director is None or control.value not in director.library:
            log.warning("%s %s: no such scene (python -m live scenes lists them)", control.source, control.describe())
            if inbox is not None:
                inbox.ignore(control.source, "scene")
            return
        director.request(control.name, control.value)  # applied on the generator's thread, at the next frame
    elif control.kind == "tempo":  # a tempo from the rig: four taps one period apart, ending now
        if generator.tempo_source not in ("auto", "tap"):
            return
        generator.tempo_driver = "tap"
        period = 60.0 / control.value
        generator.taps.extend(t0 - k * period for k in (3, 2, 1, 0))


def open_controls(args):
    """The inbox, and the MIDI and OSC inputs asked for; each fails here, in one line, if it cannot open."""
    inbox, inputs = Inbox(), []
    try:
        if getattr(args, "osc_port", None) is not None:
            from live.control.osc import DEFAULT_OSC_HOST, OscListener

            inputs.append(OscListener(inbox, host=args.osc_host or DEFAULT_OSC_HOST, port=args.osc_port))
        if getattr(args, "midi", None):
            from live.control.midi import LEARN_DEFAULT_PATH, Learn, MidiInput, MidiMap

            mapping = None
            if args.midi_map and Path(args.midi_map).exists():
                mapping = MidiMap.load(args.midi_map)
                if mapping.scenes:
                    from live.app.scenes import load_library

                    mapping.check_scenes(list(load_library(getattr(args, "scenes", None))), f"--midi-map {args.midi_map}")
            elif args.midi_map:  # a map to be: the defaults until MIDI learn writes it
                if not Path(args.midi_map).parent.is_dir():
                    raise PhospheneError(f"--midi-map {args.midi_map}: its folder does not exist; make it or give another path")
                log.info("MIDI map %s does not exist yet: the default map, until MIDI learn (L) writes it", args.midi_map)
            inputs.append(MidiInput(inbox, args.midi, api=args.midi_api, mapping=mapping))
            Learn(inputs[-1], args.midi_map or LEARN_DEFAULT_PATH)  # armed by the learn action; saves to the map file
        if getattr(args, "link", False):
            from live.control.link import LinkInput

            inputs.append(LinkInput(inbox))
        from live.control.web import web_config

        if (web := web_config(args)) is not None:  # the web remote (live/app/remote.py feeds it)
            from live.control.web.server import WebRemote

            inputs.append(WebRemote(inbox, web))
    except BaseException:
        for control_input in inputs:
            control_input.stop()
        raise
    return inbox, inputs


def open_outputs(args, profile) -> list:
    """The video outputs asked for besides the window (stream, NDI, virtual camera), each opened
    here so that one that cannot open fails in one line before audio and models."""
    from live.draw.stream import StreamOut

    width, height = parse_size(profile.size)
    outputs = []
    try:
        if getattr(args, "stream", None):
            outputs.append(StreamOut(args.stream, width=width, height=height, fps=profile.display_fps))
        if getattr(args, "virtual_camera", None) is not None:  # "": the first v4l2loopback device
            from live.draw.virtualcam import VirtualCamOut

            outputs.append(VirtualCamOut(args.virtual_camera or None, width=width, height=height, fps=profile.display_fps))
        if getattr(args, "ndi", None) is not None:
            from live.draw.ndi import NdiOut

            outputs.append(NdiOut(args.ndi, width=width, height=height, fps=profile.display_fps))
        if getattr(args, "probe", None) is not None:  # `bench control`'s recorder of shown frames
            outputs.append(args.probe(width, height))
    except BaseException:
        for output in outputs:
            output.stop()
        raise
    return outputs


def check_run_args(args) -> None:
    if args.duration is not None and args.duration <= 0:
        raise PhospheneError(f"--duration {args.duration}: give a positive number of seconds")
    if args.monitor is not None and not args.input:
        raise PhospheneError("--monitor plays the --input file out loud: give --input FILE (a device input is already audible)")
    if args.osc_host is not None and args.osc_port is None:
        raise PhospheneError(f"--osc-host {args.osc_host} names where OSC listens: add --osc-port N (0: a port the OS picks)")
