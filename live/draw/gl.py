"""GLSL shader programs: a headless GL 3.3 core context, the uniforms, compile errors, hot reload.

Shaders are data: `shaders/*.glsl` files, each a fragment shader drawn over the whole target by one
fullscreen triangle (`shaders/fullscreen_vertex.glsl`). The uniforms every stage may read are
declared once, here, in `UNIFORMS`: the loader inserts their declarations right after each file's
`#version` line (with a `#line` directive, so GL's messages keep the file's own line numbers). A
file uses what it needs; the rest are optimised away, and setting them is a no-op.

Coordinates: `v_uv` (0, 0) is the first pixel row in memory, the top-left of the image as numpy
holds it; textures are uploaded and read back top row first, so no stage ever flips.

    ctx = create_context()                       # moderngl standalone, EGL (Mesa llvmpipe or a GPU)
    prog = ShaderProgram(ctx, SHADER_DIR / "post.glsl")
    prog.reload_if_changed()                     # once per frame: a VJ's edit shows up on save;
                                                 # a broken edit is logged and the last good program kept
    prog.draw(fbo, {"u_flash": 1.0}, textures={"u_image": tex})

Compile errors raise `ShaderError` naming `file:line` with GL's log line, then the full log.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from live.core.errors import PhospheneError

log = logging.getLogger("phosphene")

SHADER_DIR = Path(__file__).resolve().parents[2] / "shaders"  # live/draw/gl.py -> the checkout's shaders/
VERTEX_FILE = "fullscreen_vertex.glsl"
N_BANDS = 6  # live.analysis.features.BAND_EDGES_HZ: sub, bass, low-mid, mid, high-mid, air
N_WAVE, N_SPECTRUM = 128, 32  # live.analysis.clock.N_WAVE / N_SPECTRUM: the Drive record's waveform and spectrum


@dataclass(frozen=True)
class Uniform:
    glsl: str  # its GLSL declaration type (arrays as "float[6]")
    doc: str  # meaning, unit and range: docs/SHADERS.md is generated from these


# Every uniform any shader may read: the one place their names, types and meanings are defined.
UNIFORMS: dict[str, Uniform] = {
    # --- the clock and the audio features (all stages) ---
    "u_resolution": Uniform("vec2", "target size in pixels (width, height)"),
    "u_time": Uniform("float", "seconds since the start (audio clock)"),
    "u_seed": Uniform("float", "per-render constant in [0, 1): varies the structure between seeds"),
    "u_level": Uniform("float", "loudness: RMS over its running maximum, 0..1"),
    "u_peak": Uniform("float", "sample peak of the last frame's audio, 0..1 (full scale)"),
    "u_bands": Uniform(f"float[{N_BANDS}]", "band levels 0..1: sub, bass, low-mid, mid, high-mid, air"),
    "u_onset": Uniform("float", "onset strength: spectral flux over its running maximum, 0..1"),
    "u_beat_phase": Uniform("float", "beat phase 0..1: 0 on the beat, rising to 1 at the next"),
    "u_beat_pulse": Uniform("float", "1 on the beat, decaying over the beat; scaled by the tracker's confidence"),
    "u_tempo": Uniform("float", "tempo in BPM (60..200)"),
    "u_confidence": Uniform("float", "beat tracker confidence 0..1"),
    "u_beat": Uniform("float", "beats counted since the start, plus the phase: steps by 1 per beat"),
    "u_wave": Uniform(f"float[{N_WAVE}]", "the newest 64 ms of audio, -1..1, oldest first (the oscilloscope)"),
    "u_spectrum": Uniform(f"float[{N_SPECTRUM}]", "log-spaced magnitude bins 40 Hz..7.6 kHz, 0..1 (-72..0 dB)"),
    # --- the structure generator's scene parameters (shaders/structure_*.glsl; scenes/*.toml [structure]) ---
    "u_scale": Uniform("float", "size of the pattern: > 1 is finer (scene `scale`)"),
    "u_speed": Uniform("float", "how fast the pattern moves on its own, 1 = as designed (scene `speed`)"),
    "u_detail": Uniform("float", "fine detail 0..1 (scene `detail`)"),
    "u_count": Uniform("float", "how many: segments, cells, rings, lines (scene `count`)"),
    "u_hue": Uniform("float", "palette rotation 0..1 (scene `hue`)"),
    "u_palette": Uniform("vec3", "cosine palette phases per channel, 0..1 (scene `palette`)"),
    "u_drive": Uniform("float", "the routed feature that moves the generator (scene [route] structure), 0..1"),
    # --- feedback warp (warp.glsl) ---
    "u_prev": Uniform("sampler2D", "the previous frame (feedback)"),
    "u_structure": Uniform("sampler2D", "the structure generator's frame, mixed into the warped frame"),
    "u_zoom": Uniform("float", "scale about the centre per frame: > 1 moves content outward"),
    "u_rotate": Uniform("float", "rotation about the centre per frame, radians (counter-clockwise on screen)"),
    "u_translate": Uniform("vec2", "shift per frame in uv units (x right, y down)"),
    "u_pulse": Uniform("float", "radial ripple amplitude in uv units"),
    "u_structure_mix": Uniform("float", "how much of the structure frame replaces the warped one, 0..1"),
    "u_decay": Uniform("float", "feedback gain per frame, 0..1: lower fades trails faster"),
    # --- post (post.glsl) ---
    "u_image": Uniform("sampler2D", "the frame to finish"),
    "u_flash": Uniform("float", "exposure added on the beat, in stops, multiplied by u_beat_pulse"),
    "u_saturation": Uniform("float", "1 = unchanged, 0 = grey"),
    "u_contrast": Uniform("float", "1 = unchanged; pivots at mid grey"),
    "u_tint": Uniform("vec3", "RGB gain of the colour grade, (1, 1, 1) = neutral"),
    "u_vignette": Uniform("float", "darkening of the corners, 0 = none, 1 = black corners"),
    # --- crossfade (crossfade.glsl) ---
    "u_a": Uniform("sampler2D", "the older generator frame"),
    "u_b": Uniform("sampler2D", "the newer generator frame"),
    "u_mix": Uniform("float", "0 = u_a, 1 = u_b, linear in between"),
}


class ShaderError(PhospheneError):
    """A shader that does not compile or link: file:line, GL's message, then the whole log."""


def create_context():
    """A headless GL 3.3 core context on EGL (no window, no X server)."""
    import moderngl

    try:
        return moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as e:  # moderngl/glcontext raise plain Exceptions with the EGL error
        raise PhospheneError(
            f"cannot create a headless OpenGL 3.3 context with EGL ({e}); on Debian/Ubuntu install "
            f"libegl1 libgl1-mesa-dri libegl-mesa0 (Mesa's software renderer works without a GPU)"
        ) from None


def uniform_declarations() -> str:
    lines = []
    for name, u in UNIFORMS.items():
        base, _, size = u.glsl.partition("[")
        lines.append(f"uniform {base} {name}{'[' + size if size else ''};")
    return "\n".join(lines)


def with_uniforms(source: str) -> str:
    """Insert the uniform declarations after the `#version` line, keeping the file's line numbers."""
    lines = source.split("\n")
    if not lines or not lines[0].startswith("#version"):
        return source  # compiling it will fail and say so; there is no safe place to put them
    return "\n".join([lines[0], uniform_declarations(), "#line 2", *lines[1:]])


# GL logs name the line differently per driver: Mesa "0:12(5): error: ...", NVIDIA "0(12) : error ...",
# others "ERROR: 0:12: ...".
_LOG_LINE = re.compile(r"^(?:ERROR:\s*)?\d+(?::(\d+)(?:\(\d+\))?|\((\d+)\))\s*:\s*")
MAX_LOG_LINES = 20  # a single typo can make Mesa list 50 candidate overloads


def format_gl_log(path: Path, gl_log: str, stage: str) -> str:
    """One line: `file:line: message` for the first messages in GL's log, then the log itself."""
    lines = [line.strip() for line in gl_log.strip().splitlines() if line.strip()]
    located = []
    for line in lines:
        m = _LOG_LINE.match(line)
        if m and "error" in line.lower():
            located.append(f"{path}:{m.group(1) or m.group(2)}: {line[m.end() :]}")
    head = "; ".join(located[:3]) if located else f"{path}: {stage} failed"
    shown = lines[:MAX_LOG_LINES] + ([f"... {len(lines) - MAX_LOG_LINES} more lines"] if len(lines) > MAX_LOG_LINES else [])
    return f"{head} (GL log: {' | '.join(shown)})"


class ShaderProgram:
    """One fragment shader file (+ the shared vertex shader), compiled, and recompiled when either
    file changes on disk. The last program that compiled stays in use while an edit is broken."""

    def __init__(self, ctx, path: str | Path, *, vertex: str | Path | None = None):
        self.ctx = ctx
        self.path = Path(path)
        self.vertex_path = Path(vertex) if vertex is not None else self.path.parent / VERTEX_FILE
        self.last_error: str | None = None
        self._stamp = self._stamps()
        self.program = self._compile()  # raises ShaderError: at start-up a broken shader is fatal
        self._bind()

    def _bind(self) -> None:
        """The vertex array and the uniforms by name, looked up once per compile, not per frame."""
        self.vao = self.ctx.vertex_array(self.program, [])
        self.uniforms = {name: self.program[name] for name in UNIFORMS if name in self.program}  # the rest are optimised away
        self._values: dict = {}  # what each uniform holds now: an unchanged value is not sent again

    def _stamps(self):
        try:
            return tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in (self.path, self.vertex_path))
        except FileNotFoundError as e:
            raise ShaderError(f"shader file {e.filename} does not exist: check the path (shaders live in {SHADER_DIR})") from None

    def _compile(self):
        import moderngl

        sources = {}
        for key, p in (("vertex_shader", self.vertex_path), ("fragment_shader", self.path)):
            sources[key] = with_uniforms(p.read_text())
        try:
            return self.ctx.program(**sources)
        except moderngl.Error as e:
            # moderngl: "GLSL Compiler failed\n\nfragment_shader\n=====\n<GL log>" (or "GLSL Linker failed")
            lines = str(e).splitlines()
            culprit = self.vertex_path if "vertex_shader" in lines[:4] else self.path
            body = "\n".join(
                line
                for line in lines[1:]
                if line.strip() and line.strip() not in ("vertex_shader", "fragment_shader") and set(line.strip()) != {"="}
            )
            stage = "link" if "link" in lines[0].lower() else "compile"
            raise ShaderError(format_gl_log(culprit, body, stage)) from None

    def reload_if_changed(self) -> bool:
        """Recompile if a file changed. Returns True when a new program is in use. A broken edit
        logs one warning (file:line and GL's log) and keeps the last good program."""
        try:
            stamp = self._stamps()
        except ShaderError as e:  # a file deleted mid-edit (some editors save by replacing)
            self.last_error = str(e)
            return False
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            program = self._compile()
        except ShaderError as e:
            self.last_error = str(e)
            log.warning("shader edit not applied, keeping the last good program: %s", e)
            return False
        self.release()
        self.program = program
        self._bind()
        self.last_error = None
        log.info("reloaded %s", self.path.name)
        return True

    def release(self) -> None:
        self.vao.release()
        self.program.release()

    def set(self, values: dict) -> None:
        for name, value in values.items():
            uniform = self.uniforms.get(name)
            if uniform is None:
                if name not in UNIFORMS:
                    raise KeyError(f"{name} is not a uniform in live.draw.gl.UNIFORMS (add it there, and to docs/SHADERS.md)")
                continue  # declared, but this program does not read it
            if self._values.get(name) == value:
                continue
            self._values[name] = value
            if uniform.array_length > 1 and len(value) > uniform.array_length:
                value = value[: uniform.array_length]  # drivers trim an array to the elements a shader reads
            uniform.value = value

    def draw(self, target, values: dict, textures: dict | None = None) -> None:
        """Draw the fullscreen triangle into `target` (a framebuffer) with these uniforms and textures."""
        target.use()
        for unit, (name, texture) in enumerate((textures or {}).items()):
            texture.use(location=unit)
            values = {**values, name: unit}
        self.set(values)
        self.vao.render(vertices=3)


def new_texture(ctx, width: int, height: int, *, dtype: str = "f1", linear: bool = True):
    """RGBA texture; "f1" = 8-bit (I/O), "f2" = half float (feedback: no banding, no stuck trails)."""
    import moderngl

    tex = ctx.texture((width, height), 4, dtype=dtype)
    fbo = ctx.framebuffer([tex])  # GL leaves a new texture's contents undefined: the feedback's first
    fbo.clear(0.0, 0.0, 0.0, 0.0)  # frame reads it before any pass wrote it, so it starts black on every driver
    fbo.release()
    tex.filter = (moderngl.LINEAR, moderngl.LINEAR) if linear else (moderngl.NEAREST, moderngl.NEAREST)
    tex.repeat_x = tex.repeat_y = False  # clamp: a zoomed-out frame repeats its edge, not the far side
    return tex


def upload(texture, rgb: np.ndarray) -> None:
    """uint8 (H, W, 3) or float (H, W, 3) in [0, 1] -> texture, top row first."""
    h, w = rgb.shape[:2]
    if (w, h) != texture.size:
        raise ValueError(f"image is {w}x{h}, texture is {texture.size[0]}x{texture.size[1]}")
    alpha = np.full((h, w, 1), 255 if rgb.dtype == np.uint8 else 1.0, dtype=rgb.dtype)
    rgba = np.concatenate([rgb[..., :3], alpha], axis=2)
    if texture.dtype == "f1":
        rgba = rgba if rgba.dtype == np.uint8 else np.clip(np.rint(rgba * 255), 0, 255).astype(np.uint8)
    else:
        rgba = (rgba.astype(np.float32) / 255.0 if rgba.dtype == np.uint8 else rgba).astype(
            np.float16 if texture.dtype == "f2" else np.float32
        )
    texture.write(np.ascontiguousarray(rgba).tobytes())


def read_rgb(fbo) -> np.ndarray:
    """uint8 (H, W, 3), top row first, from an 8-bit framebuffer."""
    w, h = fbo.size
    data = fbo.read(components=3, alignment=1)
    return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3)


class PixelReader:
    """Asynchronous readback through pixel buffer objects: `submit(fbo)` starts a copy of the frame
    into the next of `depth` GL buffers (glReadPixels into a bound PBO returns at once) and hands back
    the frame submitted `depth - 1` calls before, mapped only now, when GL has long finished it; so
    the frame loop does not wait on each readback. `drain()` gives the ones still in flight, in order.
    `reads` counts readbacks started: none happen unless something submits (an output needs pixels).

        reader = PixelReader(ctx, (w, h))        # depth 3: two frames in flight while one is mapped
        for ...: engine.render(drive); rgb = reader.submit(engine.output_fbo)  # None for the first two
        for rgb in reader.drain(): ...
    """

    def __init__(self, ctx, size: tuple[int, int], depth: int = 3):
        if depth < 1:
            raise ValueError(f"depth={depth}: at least one buffer")
        self.size = (int(size[0]), int(size[1]))
        self.buffers = [ctx.buffer(reserve=self.size[0] * self.size[1] * 3) for _ in range(depth)]
        self.in_flight: list = []  # buffers holding frames not yet handed back, oldest first
        self.reads = 0

    def submit(self, fbo) -> np.ndarray | None:
        if tuple(fbo.size) != self.size:
            raise ValueError(f"framebuffer is {fbo.size[0]}x{fbo.size[1]}, the reader reads {self.size[0]}x{self.size[1]}")
        buffer = self.buffers[self.reads % len(self.buffers)]  # round robin: free since its frame went out
        fbo.read_into(buffer, components=3, alignment=1)
        self.reads += 1
        self.in_flight.append(buffer)
        if len(self.in_flight) < len(self.buffers):
            return None  # the ring is filling
        return self._map(self.in_flight.pop(0))

    def _map(self, buffer) -> np.ndarray:
        w, h = self.size
        return np.frombuffer(buffer.read(), dtype=np.uint8).reshape(h, w, 3)

    def drain(self):
        while self.in_flight:
            yield self._map(self.in_flight.pop(0))

    def release(self) -> None:
        for b in self.buffers:
            b.release()
