"""The live window drawn by OpenGL: the frame scaled to the window and letterboxed by GL, the HUD
over it as a texture, then the swap. No CPU scaling and no surface blits on the way to the screen.

The window is pygame's OPENGL | DOUBLEBUF window; `moderngl.create_context()` attaches to the GL
context SDL made for it. A frame handed in as pixels (uint8 (H, W, 3): the engines' frames today)
is uploaded once into a texture of its size; a frame handed in as a texture of this context (the
shader engine drawing into the window's own context: `GLScreen.ctx`) is drawn as it is, no upload
and no readback. GL draws it into the window's own framebuffer at the
largest size that keeps its aspect, centred, the bars in the clear colour. The HUD's text is drawn
by pygame.font into a small RGBA surface only when its text changes, uploaded, and drawn as a
blended quad in the top-left corner.

    screen = GLScreen()                       # after pygame.display.set_mode(..., OPENGL | DOUBLEBUF)
    screen.draw(rgb, (w, h), clear=(12, 0, 24), hud=surface_or_None, hud_key=...)
    pygame.display.flip()
"""

from __future__ import annotations

import numpy as np

VERTEX = """#version 330 core
out vec2 v_uv;
void main() {
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = vec2(corner.x, 1.0 - corner.y);  // images are uploaded top row first; the window's row 0 is its bottom
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
"""
FRAGMENT = """#version 330 core
in vec2 v_uv;
out vec4 colour;
uniform sampler2D image;
void main() { colour = texture(image, v_uv); }
"""


def letterbox(frame_size: tuple[int, int], window_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the frame in the window: as large as fits, its own aspect, centred."""
    (fw, fh), (w, h) = frame_size, window_size
    scale = min(w / fw, h / fh)
    fit = (max(1, round(fw * scale)), max(1, round(fh * scale)))
    return (w - fit[0]) // 2, (h - fit[1]) // 2, fit[0], fit[1]


class GLScreen:
    """Draws into the current GL window's default framebuffer. Raises on a context without GL 3.3."""

    def __init__(self):
        import moderngl

        self.ctx = moderngl.create_context(require=330)
        self.program = self.ctx.program(vertex_shader=VERTEX, fragment_shader=FRAGMENT)
        self.vao = self.ctx.vertex_array(self.program, [])
        self.frame_tex = None  # made for the frame's size, kept while it stays
        self.hud_tex, self.hud_key = None, None
        self.uploads = 0  # frames uploaded (one per new frame, none for a held one)
        self.last_frame = None  # the array last uploaded: a frozen picture is not uploaded again

    def _texture(self, tex, size: tuple[int, int], components: int):
        import moderngl

        if tex is not None and tex.size == size and tex.components == components:
            return tex
        if tex is not None:
            tex.release()
        tex = self.ctx.texture(size, components, alignment=1)
        tex.filter = (moderngl.LINEAR, moderngl.LINEAR)  # GL scales the picture
        tex.repeat_x = tex.repeat_y = False
        return tex

    def draw(self, rgb, window_size: tuple[int, int], *, clear, hud=None, hud_key=None) -> None:
        """Clear the window, draw `rgb` (uint8 (H, W, 3), or a texture of `self.ctx`) letterboxed, and the HUD surface (pygame, RGBA) over it."""
        import moderngl

        ctx = self.ctx
        ctx.screen.use()
        ctx.viewport = (0, 0, *window_size)
        ctx.clear(*(c / 255.0 for c in clear), 1.0)
        if rgb is not None:
            if isinstance(rgb, np.ndarray):
                h, w = rgb.shape[:2]
                self.frame_tex = self._texture(self.frame_tex, (w, h), 3)
                if rgb is not self.last_frame:
                    self.frame_tex.write(np.ascontiguousarray(rgb[..., :3], dtype=np.uint8))
                    self.last_frame = rgb
                    self.uploads += 1
                texture = self.frame_tex
            else:  # a texture of this context (the shader engine drew it here): no upload at all
                texture, (w, h) = rgb, rgb.size
            ctx.viewport = letterbox((w, h), window_size)
            filter_was = texture.filter
            texture.filter = (moderngl.LINEAR, moderngl.LINEAR)  # GL scales the picture
            texture.use(0)
            self.program["image"].value = 0
            self.vao.render(vertices=3)
            texture.filter = filter_was
        if hud is not None:
            import pygame

            size = hud.get_size()
            if hud_key != self.hud_key or self.hud_tex is None or self.hud_tex.size != size:
                self.hud_tex = self._texture(self.hud_tex, size, 4)
                self.hud_tex.write(pygame.image.tobytes(hud, "RGBA"))
                self.hud_key = hud_key
            ctx.viewport = (0, window_size[1] - size[1], *size)  # the top-left corner (GL counts rows from the bottom)
            ctx.enable(moderngl.BLEND)
            ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
            self.hud_tex.use(0)
            self.program["image"].value = 0
            self.vao.render(vertices=3)
            ctx.disable(moderngl.BLEND)

    def release(self) -> None:
        for obj in (self.frame_tex, self.hud_tex, self.vao, self.program):
            if obj is not None:
                obj.release()
