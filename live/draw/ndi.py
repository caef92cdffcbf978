"""`run --ndi NAME`: the picture as an NDI® source that Resolume, TouchDesigner, vMix or OBS (with
its NDI plugin) find on the network as "HOST (NAME)", through `cyndilib` and the NDI runtime its
wheel bundles (an optional extra: `pip install -r requirements-ndi.txt`; this repository never
ships libndi itself). NDI® is a registered trademark of Vizrt NDI AB.

Frames go through `live.draw.outputs.FrameSender`: when the runtime lags (compressing, a slow
network), the frame is dropped and counted, never queued. The frame loop is the clock: NDI's own
pacing (`clock_video`) is off, so each shown frame leaves as soon as it is shown.

The stats keep the newest minute of sent pictures as 2x2 colour thumbnails (`sent_2x2`), so that a
receiver can check it got the right picture (the test compares them with what it received).
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
from fractions import Fraction

import numpy as np

from live.core.errors import PhospheneError
from live.draw.outputs import FrameSender

log = logging.getLogger("phosphene")

INSTALL = "pip install -r requirements-ndi.txt"
THUMBS = 1800  # sent_2x2 entries kept: the newest minute at 30 fps (12 ints each)
RECEIVERS_EVERY = 30  # frames between looks at how many receivers are connected


def thumb_2x2(rgb: np.ndarray) -> list[int]:
    """The mean colour of each quarter of an (H, W, 3) picture, row by row: [r, g, b] * 4, from
    every 4th pixel of every 4th row (0.2 ms at 512x512, against 5 ms for all of them)."""
    h, w = rgb.shape[0] // 8 * 8, rgb.shape[1] // 8 * 8  # whole 4-pixel steps in each quarter
    sparse = rgb[:h:4, :w:4]  # (h/4, w/4, 3)
    quarters = sparse.reshape(2, h // 8, 2, w // 8, 3).sum(axis=(1, 3), dtype=np.uint32)  # (2, 2, 3)
    return [round(v) for v in (quarters.reshape(-1) / (h // 8 * (w // 8))).tolist()]


def check_name(name: str) -> None:
    if not name.strip():
        raise PhospheneError("--ndi needs a name, such as --ndi Phosphene (receivers list it as 'HOST (NAME)')")
    if any(ord(c) < 32 for c in name):
        raise PhospheneError(f"--ndi {name!r}: a source name cannot hold control characters (newlines, tabs)")


class NdiOut(FrameSender):
    kind = "ndi"

    def __init__(self, name: str, *, width: int, height: int, fps: int):
        check_name(name)
        try:
            import cyndilib
        except (ImportError, OSError) as e:  # OSError: a wheel whose bundled runtime cannot load here
            raise PhospheneError(f"--ndi needs cyndilib and its NDI runtime (the optional extra; {e}): {INSTALL}") from None
        self.sender = cyndilib.Sender(name, clock_video=False)  # the frame loop paces it
        video = cyndilib.VideoSendFrame()
        video.set_resolution(width, height)
        video.set_frame_rate(Fraction(fps))
        video.set_fourcc(cyndilib.FourCC.RGBX)  # NDI takes no 3-byte RGB: the 4th byte is padding
        self.sender.set_video_frame(video)
        # No audio is ever sent; the frame is there because cyndilib 0.1.3 dereferences a missing
        # one when the runtime refuses a name, and crashes instead of raising.
        self.sender.set_audio_frame(cyndilib.AudioSendFrame())
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # cyndilib prints 'caught exc:' before it re-raises
                self.sender.open()
        except Exception as e:
            raise PhospheneError(
                f"--ndi {name!r}: the NDI runtime refuses this name ({type(e).__name__}); "
                "a shorter one, please (the full 'HOST (NAME)' must fit in about 250 bytes)"
            ) from None
        self.source_name = self.sender.name  # "HOST (NAME)", as receivers list it
        super().__init__(name, width=width, height=height)
        self.receivers = 0  # the most receivers seen connected at once
        self.sent_2x2: collections.deque = collections.deque(maxlen=THUMBS)
        self._rgbx = np.full((height, width, 4), 255, dtype=np.uint8)  # (H, W, 4): RGB + padding
        self.start()
        if self.source_name.endswith(f"({name})"):
            log.info("NDI source %r: %dx%d at %d fps", self.source_name, width, height, fps)
        else:  # the runtime rewrote it (':' '/' '\\' become spaces)
            log.warning("NDI source %r: the runtime changed the name %r", self.source_name, name)

    def write(self, rgb: np.ndarray) -> None:
        self._rgbx[..., :3] = rgb
        self.sender.write_video(self._rgbx.reshape(-1))  # compresses and sends, without the GIL
        self.sent_2x2.append(thumb_2x2(rgb))
        if self.sent % RECEIVERS_EVERY == 0:
            self.receivers = max(self.receivers, self.sender.get_num_connections(0.0))

    def close(self) -> None:
        self.sender.close()

    def stop(self) -> dict:
        result = super().stop()
        try:
            thumbs = list(self.sent_2x2)
        except RuntimeError:  # the sender thread outlived stop()'s wait and is still appending
            thumbs = []
        return {**result, "source": self.source_name, "receivers": self.receivers, "sent_2x2": thumbs}
