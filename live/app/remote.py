"""The web remote wired into the live loop (the server: live/control/web/). Three feeds, none of
which the frame loop waits for:

    feed = RemoteFeed(remote, parts, width=W, height=H)   # starts the preview sender and the thumbnails
    feed.frame(shown_rgb, hud, display=..., generator=..., controls=...)   # each frame: state + preview
    feed.stop()                                            # the preview's counts into the remote's stats

- the state: a dict built each frame (a few dozen values) and handed over by reference;
- the preview: every 1/PREVIEW_FPS s the shown frame goes to a sender thread (live/draw/outputs.py,
  as NDI's and the stream's do) that scales it to at most PREVIEW_WIDTH px wide and encodes a JPEG;
  when that thread is still busy the frame is dropped and counted, never queued;
- the thumbnails: each scene drawn once at start, on a low-priority thread with its own GL context,
  as the contact sheet draws them (live/app/sheet.py), and kept in memory for the page.
"""

from __future__ import annotations

import io
import logging
import os
import queue
import threading
import time
from dataclasses import asdict

import numpy as np

from live.draw.outputs import FrameSender

log = logging.getLogger("phosphene")

PREVIEW_WIDTH = 320  # px, at most: a phone's preview, not a monitor
PREVIEW_FPS = 4.0  # a few a second: enough to see what the audience sees, cheap on the loop and the network
THUMB_PX, THUMB_AT_S = 128, 2.0  # each scene's thumbnail: its frame 2 s into the demo track, 128 px square


def preview_size(width: int, height: int) -> tuple[int, int]:
    """The preview's (width, height): at most PREVIEW_WIDTH wide, the frame's aspect."""
    w = min(width, PREVIEW_WIDTH)
    return w, max(1, round(height * w / width))


def jpeg(rgb: np.ndarray, max_width: int = PREVIEW_WIDTH, quality_hint: str = "preview.jpg") -> bytes:
    """(H, W, 3) uint8 -> JPEG bytes, scaled down to at most max_width px wide (pygame's SDL_image)."""
    import pygame

    surface = pygame.surfarray.make_surface(rgb.transpose(1, 0, 2))
    h, w = rgb.shape[:2]
    if w > max_width:
        surface = pygame.transform.smoothscale(surface, (max_width, max(1, round(h * max_width / w))))
    out = io.BytesIO()
    pygame.image.save(surface, out, quality_hint)
    return out.getvalue()


class PreviewOut(FrameSender):
    """The shown picture for the web remote's preview, a few times a second."""

    kind = "web_preview"

    def __init__(self, remote, *, width: int, height: int, fps: float = PREVIEW_FPS):
        super().__init__("web preview", width=width, height=height)
        self._frames = queue.Queue(maxsize=1)  # one in hand at most: a busy encoder drops, never queues
        self.remote, self.every_s, self._due = remote, 1.0 / fps, 0.0
        self.cpu_s = 0.0  # this sender thread's time scaling and encoding

    def send(self, rgb) -> None:
        now = time.monotonic()
        if rgb is None or now < self._due:
            return  # not due yet: the preview is a few frames a second by design (not counted as dropped)
        self._due = now + self.every_s
        super().send(rgb)

    def due(self) -> bool:
        """Whether a frame sent now would go out (the loop reads a GL frame's pixels only then)."""
        return time.monotonic() >= self._due

    def write(self, rgb: np.ndarray) -> None:
        started = time.thread_time()
        self.remote.preview(jpeg(rgb))
        self.cpu_s += time.thread_time() - started


def make_thumbnails(remote, library: dict) -> None:
    """Each scene's thumbnail, handed to the remote as it is made (run on its own thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # this thread only: the set comes first
    except (OSError, AttributeError):
        pass
    from live.app.sheet import DEMO, scene_frames
    from live.draw.gl import create_context

    try:
        ctx = create_context()
    except Exception as e:
        log.warning("web remote: no thumbnails (%s)", e)
        return
    try:
        for name, scene in library.items():
            if remote.stopped:
                return
            try:
                (rgb,) = scene_frames(scene, DEMO, [THUMB_AT_S], size=THUMB_PX, ctx=ctx)
                remote.set_thumbnail(name, jpeg(rgb, THUMB_PX, "thumb.jpg"))
            except Exception as e:  # one scene that cannot draw leaves its card without a picture
                log.warning("web remote: no thumbnail for %s (%s)", name, e)
    finally:
        ctx.release()


class RemoteFeed:
    def __init__(self, remote, parts, *, width: int, height: int, thumbnails: bool = True):
        self.remote, self.parts = remote, parts
        self.frames, self.frame_s = 0, 0.0  # the frame loop's calls and the time they took
        self.director = parts.director
        self.scenes = list(self.director.library) if self.director is not None else []
        remote.scenes = self.scenes
        self.preview_out = PreviewOut(remote, width=width, height=height)
        self.preview_out.start()
        if thumbnails and self.scenes:
            threading.Thread(target=make_thumbnails, args=(remote, self.director.library), name="phosphene-thumbs", daemon=True).start()

    def frame(self, shown_rgb, hud: dict, *, display, generator, controls) -> None:
        """Once per frame, after the picture is shown: hand over the state and maybe a preview."""
        from live.control.web.server import params_message

        if not self.remote.has_pages:
            return  # nobody watching: nothing built, nothing encoded (a page that opens gets the state at once)
        started = time.perf_counter()
        director, drive = self.director, generator.drive
        look = asdict(controls.look.look) if controls.look is not None else {}
        audio_weight = controls.audio_weight if controls.prompts else None  # without a prompt it has nothing to weigh
        latency = hud.get("latency_ms") or []
        state = {
            "scene": director.current if director else None,
            "scenes": self.scenes,
            "cued": director.cued if director else None,
            "params": params_message({"strength": controls.strength, "audio_weight": audio_weight, **look}),
            "blackout": display.blackout,
            "frozen": display.frozen,
            "tempo": {
                "bpm": round(drive.tempo_bpm, 1) if drive else None,
                "source": generator.tempo_driver,
                "allowed": generator.tempo_source,
                "half_beat": generator.half_beat,
            },
            "bar": drive.bar if drive else 0,
            "beat": drive.beat_in_bar + 1 if drive else 0,
            "hud": {
                "fps": round(hud.get("fps", 0.0), 1),
                "latency_ms": round(latency[0]) if latency else None,
                "overflows": hud.get("overflows", 0),
                "dropped": hud.get("dropped", 0),
                "encoder_ms": round(hud.get("encoder_ms", 0.0), 1),
                "unet_ms": round(hud.get("unet_ms", 0.0), 1),
                "outputs": hud.get("outputs", []),
                "control_ignored": hud.get("control_ignored", 0),
                "input_lost": hud.get("input_lost", False),
                "error": hud.get("error", ""),
                "link": hud.get("link", ""),
                "learn": hud.get("learn", ""),
                "status": hud.get("scene", ""),
            },
            "actions": self.actions(controls),
            "prompt": controls.prompt_name,
            "timeline": {
                "cue": director.next_cue if director else 0,
                "cues": len(director.cues) if director else 0,
                "time_s": round(drive.time_s, 1) if drive else 0.0,
            },
        }
        self.remote.publish(state)
        if shown_rgb is not None:
            self.preview_out.send(np.zeros_like(shown_rgb) if display.blackout else shown_rgb)  # what the audience sees
        self.frames += 1
        self.frame_s += time.perf_counter() - started

    def wants_preview(self) -> bool:
        """A page is open and a preview frame is due: the loop reads the frame's pixels only then."""
        return self.remote.has_pages and self.preview_out.due()

    @staticmethod
    def actions(controls) -> list[str]:
        """The surface's actions a page offers: without the diffusion engine, none of its prompt, strength or weight steps."""
        from live.control.web.server import action_names

        diffusion_only = ("next_prompt", "previous_prompt", "strength_up", "strength_down", "weight_up", "weight_down")
        return [a for a in action_names() if controls.generator is not None or a not in diffusion_only]

    def stop(self) -> None:
        out = self.preview_out.stop()
        self.remote.add_preview_counts({"encoded": out["sent"], "dropped_busy": out["dropped"], "errors": out["errors"]})
        self.remote.add_cost(
            {"loop_ms_per_frame": round(1000 * self.frame_s / max(1, self.frames), 4), "preview_cpu_s": round(self.preview_out.cpu_s, 3)}
        )
