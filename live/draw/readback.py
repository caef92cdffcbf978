"""The pixels an output beside the window needs (NDI, the stream, the virtual camera, the web
preview), read from a frame that stays in GL: scaled in GL to the output's own size first where that
is smaller (one bilinear draw into a target of its size), then read through pixel buffer objects
(live/draw/gl.py PixelReader), so the frame loop never waits on a readback.

    reader = OutputReader(ctx, frame_size=(w, h), size=(ow, oh))   # one per output size
    rgb = reader.submit(texture)      # uint8 (oh, ow, 3) of the frame submitted two calls before, or None
    for rgb in reader.drain(): ...    # the frames still in flight, in order, at the end
    reader.reads                      # readbacks started: none unless an output asked

Nothing reads unless something submits: a run whose only output is the window reads no pixels.
"""

from __future__ import annotations

import numpy as np

from live.draw.gl import PixelReader, new_texture

SCALE_VERTEX = """#version 330 core
out vec2 v_uv;
void main() {
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = corner;  // the source's row 0 lands on the target's row 0: no flip, top row first as before
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
"""
SCALE_FRAGMENT = """#version 330 core
in vec2 v_uv;
out vec4 colour;
uniform sampler2D image;
void main() { colour = texture(image, v_uv); }
"""


class OutputReader:
    """One output size's readback from frames of `frame_size` (textures of the engine's context)."""

    def __init__(self, ctx, *, frame_size: tuple[int, int], size: tuple[int, int], depth: int = 3):
        self.ctx = ctx
        self.frame_size, self.size = tuple(frame_size), (int(size[0]), int(size[1]))
        self.scaled = self.size != self.frame_size  # a smaller output: GL scales, the CPU never does
        self.pixels = PixelReader(ctx, self.size, depth=depth)
        self._fbos: dict = {}  # texture glo -> a framebuffer on it (made once per texture)
        self.program = self.vao = self.target = self.target_fbo = None
        if self.scaled:
            self.program = ctx.program(vertex_shader=SCALE_VERTEX, fragment_shader=SCALE_FRAGMENT)
            self.vao = ctx.vertex_array(self.program, [])
            self.target = new_texture(ctx, *self.size, dtype="f1")
            self.target_fbo = ctx.framebuffer([self.target])

    @property
    def reads(self) -> int:
        return self.pixels.reads

    def _fbo(self, texture):
        fbo = self._fbos.get(texture.glo)
        if fbo is None:
            fbo = self._fbos[texture.glo] = self.ctx.framebuffer([texture])
        return fbo

    def submit(self, texture) -> np.ndarray | None:
        """Start reading `texture` (the frame just drawn); the frame submitted `depth - 1` calls ago, or None."""
        if tuple(texture.size) != self.frame_size:
            raise ValueError(f"frame is {texture.size[0]}x{texture.size[1]}, the reader was made for {self.frame_size[0]}x{self.frame_size[1]}")
        if not self.scaled:
            return self.pixels.submit(self._fbo(texture))
        import moderngl

        filter_was = texture.filter
        texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.target_fbo.use()
        texture.use(location=0)
        self.program["image"].value = 0
        self.vao.render(vertices=3)
        texture.filter = filter_was
        return self.pixels.submit(self.target_fbo)

    def drain(self):
        yield from self.pixels.drain()

    def release(self) -> None:
        self.pixels.release()
        for fbo in self._fbos.values():
            fbo.release()
        for obj in (self.target_fbo, self.target, self.vao, self.program):
            if obj is not None:
                obj.release()
