"""`run --virtual-camera [DEVICE]`: the picture as a webcam that OBS, a browser or a video call can
pick, through `pyvirtualcam` on a v4l2loopback device (Linux; elsewhere pyvirtualcam's own
backends, such as OBS's virtual camera). v4l2loopback is a kernel module: where it is not loaded
(containers never have it) the run stops in one line that says how to load it.

Frames go through `live.draw.outputs.FrameSender`: a camera that lags drops and counts frames,
never queues them. The frame loop is the clock (no `sleep_until_next_frame`).
"""

from __future__ import annotations

import logging
import sys

import numpy as np

from live.core.errors import PhospheneError
from live.draw.outputs import FrameSender

log = logging.getLogger("phosphene")

MODPROBE = "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=Phosphene"  # exclusive_caps=1: browsers and OBS see a camera


class VirtualCamOut(FrameSender):
    kind = "virtual_camera"

    def __init__(self, device: str | None, *, width: int, height: int, fps: int):
        try:
            import pyvirtualcam
        except ImportError as e:
            raise PhospheneError(f"--virtual-camera needs pyvirtualcam ({e}): pip install -r requirements.txt") from None
        backend = "v4l2loopback" if sys.platform.startswith("linux") else None  # None: pyvirtualcam tries its own
        flag = f"--virtual-camera {device}" if device else "--virtual-camera"
        try:
            self.camera = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, device=device, backend=backend)
        except RuntimeError as e:
            reason = " ".join(str(e).split())  # pyvirtualcam's reason, on one line
            if backend and ("does not exist" in reason or "No v4l2 loopback device" in reason):
                where = f"{device} does not exist" if device else "no v4l2loopback device in /dev/video*"
                raise PhospheneError(f"{flag}: {where}; load the kernel module that makes one: {MODPROBE}") from None
            raise PhospheneError(f"{flag}: the camera cannot open ({reason})") from None
        super().__init__(self.camera.device, width=width, height=height)
        self.start()
        log.info("virtual camera %s: %dx%d at %d fps (%s)", self.camera.device, width, height, fps, self.camera.backend)

    def write(self, rgb: np.ndarray) -> None:
        self.camera.send(rgb)

    def close(self) -> None:
        self.camera.close()

    def stop(self) -> dict:
        result = super().stop()
        return {"device": result.pop("name"), **result}
