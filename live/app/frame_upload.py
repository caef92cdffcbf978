"""The diffusion engine's frames on their way to GL: a generated image (1, 3, H, W) in [-1, 1] becomes
the uint8 (H, W, 3) the window uploads into its texture once (live/draw/window_gl.py) and the
outputs send, the same path the shader engine's frames take from there.

On the CPU that is `to_uint8`. On CUDA the image is quantised to uint8 on the GPU (a quarter of the
bytes of fp32), copied into a pinned host buffer with `non_blocking=True`, and waited for on one CUDA
event, so the copy is a DMA rather than a pageable staging copy. UNVERIFIED: no GPU was lent to this
work; the CUDA branch is written to torch's documented API and has never run.

    host = HostFrames()
    rgb = host(image)          # uint8 (H, W, 3); a new array per call (the window keeps the last one)
"""

from __future__ import annotations

import numpy as np


class HostFrames:
    def __init__(self):
        self.pinned = None  # the pinned (H, W, 3) uint8 buffers, made for the first CUDA frame's size
        self.turn = 0

    def __call__(self, image) -> np.ndarray:
        import torch

        from live.models.generator import to_uint8

        if image.device.type != "cuda":
            return to_uint8(image)
        rgb = ((image[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0)  # (H, W, 3) on the GPU
        shape = tuple(rgb.shape)
        if self.pinned is None or tuple(self.pinned[0].shape) != shape:
            # two buffers in turn: the frame handed out last is still the window's while the next one lands
            self.pinned = [torch.empty(shape, dtype=torch.uint8, pin_memory=True) for _ in range(2)]
        buffer = self.pinned[self.turn % 2]
        self.turn += 1
        buffer.copy_(rgb, non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        done.synchronize()  # this frame's copy only, not the whole device
        return buffer.numpy().copy()  # the caller owns it (a slot, a sender thread): the pinned buffer is reused
