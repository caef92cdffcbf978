"""The shader engine: pictures from the GLSL stages alone, driven by the audio features. No model
weights, no torch: the embedded default when diffusion weights cannot be found.

Per frame:  structure.glsl (features -> procedural image, at half the size per side or its own STRUCTURE_SCALE)
            warp.glsl      (previous frame zoomed/rotated/shifted/rippled, structure mixed in) -> feedback
            post.glsl      (beat flash, colour grade, vignette; not fed back)           -> the output frame

    FeatureClock().advance(audio under the frame, t_s) -> Drive    features + beat clock, per video frame
    ShaderEngine(width, height).frame(drive)           -> uint8 (H, W, 3)
    render_shader(input, output, fps=24, size=512)     -> an MP4 with the audio muxed in

The diffusion path uses the same stages as hooks (`DiffusionHooks`): the warp + structure mix makes
the next img2img init image from the previous output, and post finishes each generated frame.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from live.analysis.clock import Drive
from live.core.errors import PhospheneError
from live.core.units import parse_size, size_text
from live.draw.gl import SHADER_DIR, ShaderProgram, create_context, new_texture, read_rgb, upload

log = logging.getLogger("phosphene")


FEATURES = ("bass", "low_mid", "mid", "high", "level", "peak", "onset", "beat", "none")  # what [route] may name


@dataclass(frozen=True)
class ShaderLook:
    """How the features move the picture. Per-frame amounts assume 24 fps; they scale with fps.
    The `*_by` fields route a feature (one of FEATURES) to each motion: the defaults are the
    look Phosphene always had (bass zooms, mid turns, onsets renew, the beat flashes)."""

    zoom: float = 0.004  # zoom per frame at rest (content drifts outward)
    zoom_bass: float = 0.03  # extra zoom per frame at full `zoom_by` (bass by default)
    rotate: float = 0.002  # radians per frame at rest
    rotate_mid: float = 0.02  # extra radians per frame at full `rotate_by` (mid by default)
    drift: float = 0.002  # translation per frame (uv), circling with time
    pulse: float = 0.006  # ripple amplitude at full `pulse_by` (the beat) (uv)
    structure_mix: float = 0.08  # structure mixed in per frame at rest ...
    structure_onset: float = 0.35  # ... plus this at a full `renew_by` (onset): the picture renews on hits
    decay: float = 0.985  # feedback gain per frame
    flash: float = 0.8  # stops of exposure at full `flash_by` (the beat, times confidence)
    beat_decay: float = 5.0  # the beat pulse falls as exp(-beat_decay * phase)
    saturation: float = 1.15
    contrast: float = 1.05
    tint: tuple[float, float, float] = (1.0, 0.97, 1.04)  # a cool grade
    vignette: float = 0.45
    zoom_by: str = "bass"
    rotate_by: str = "mid"
    renew_by: str = "onset"
    pulse_by: str = "beat"
    flash_by: str = "beat"


@dataclass(frozen=True)
class Structure:
    """Which structure generator draws (shaders/structure.glsl is `classic`, shaders/structure_NAME.glsl
    is NAME) and the parameters every generator reads in its own way."""

    generator: str = "classic"
    scale: float = 1.0  # > 1: a finer pattern
    speed: float = 1.0  # its own motion, 1 = as designed
    detail: float = 0.5  # fine detail 0..1
    count: float = 6.0  # segments, cells, rings, lines
    hue: float = 0.0  # palette rotation 0..1
    palette: tuple[float, float, float] = (0.0, 0.33, 0.67)  # cosine palette phases per channel
    drive_by: str = "bass"  # the feature that moves the generator (u_drive)


def generators(shader_dir: Path = SHADER_DIR) -> dict[str, Path]:
    """Generator name -> its file: `classic` (structure.glsl) and every structure_NAME.glsl."""
    found = {"classic": shader_dir / "structure.glsl"}
    found.update({p.stem.removeprefix("structure_"): p for p in sorted(shader_dir.glob("structure_*.glsl"))})
    return found


def beat_pulse(drive: Drive, look: ShaderLook) -> float:
    """1 on the beat, decaying over it, times the tracker's confidence."""
    return math.exp(-look.beat_decay * drive.beat_phase) * min(1.0, 2.0 * drive.confidence)


def feature(drive: Drive, name: str, look: ShaderLook) -> float:
    """The value (0..1) of one routable feature (FEATURES) at this frame."""
    b = drive.bands
    if name == "bass":
        return max(b[0], b[1])
    if name == "beat":
        return beat_pulse(drive, look)
    values = {"low_mid": b[2], "mid": b[3], "high": 0.5 * (b[4] + b[5]), "level": drive.level, "peak": drive.peak, "onset": drive.onset}
    return values.get(name, 0.0)  # "none"


def audio_uniforms(drive: Drive, look: ShaderLook, width: int, height: int, seed: int) -> dict:
    pulse = math.exp(-look.beat_decay * drive.beat_phase) * min(1.0, 2.0 * drive.confidence)
    return {
        "u_resolution": (float(width), float(height)),
        "u_time": drive.time_s,
        "u_seed": (seed * 0.618034) % 1.0,  # golden-ratio steps: neighbouring seeds look unrelated
        "u_level": drive.level,
        "u_peak": drive.peak,
        "u_bands": tuple(drive.bands),
        "u_onset": drive.onset,
        "u_beat_phase": drive.beat_phase,
        "u_beat_pulse": pulse,
        "u_tempo": drive.tempo_bpm,
        "u_confidence": drive.confidence,
        "u_wave": tuple(drive.wave),
        "u_spectrum": tuple(drive.spectrum),
    }


def structure_uniforms(structure: Structure, drive: Drive, look: ShaderLook, beats: float) -> dict:
    return {
        "u_beat": beats,
        "u_scale": structure.scale,
        "u_speed": structure.speed,
        "u_detail": structure.detail,
        "u_count": structure.count,
        "u_hue": structure.hue,
        "u_palette": tuple(structure.palette),
        "u_drive": feature(drive, structure.drive_by, look),
    }


def warp_uniforms(drive: Drive, look: ShaderLook, fps: float) -> dict:
    k = 24.0 / fps  # the look is tuned at 24 fps
    bass, mid = feature(drive, look.zoom_by, look), feature(drive, look.rotate_by, look)
    angle = 0.3 * drive.time_s
    if look.pulse_by == "beat":
        pulse = look.pulse * math.exp(-look.beat_decay * drive.beat_phase) * min(1.0, 2.0 * drive.confidence)
    else:
        pulse = look.pulse * feature(drive, look.pulse_by, look)
    return {
        "u_zoom": 1.0 + k * (look.zoom + look.zoom_bass * bass),
        "u_rotate": k * (look.rotate + look.rotate_mid * mid),
        "u_translate": (k * look.drift * math.cos(angle), k * look.drift * math.sin(angle)),
        "u_pulse": pulse,
        "u_structure_mix": min(1.0, k * (look.structure_mix + look.structure_onset * feature(drive, look.renew_by, look))),
        "u_decay": look.decay**k,
    }


def post_uniforms(look: ShaderLook, drive: Drive | None = None) -> dict:
    values = {
        "u_flash": look.flash,
        "u_saturation": look.saturation,
        "u_contrast": look.contrast,
        "u_tint": look.tint,
        "u_vignette": look.vignette,
    }
    if drive is not None and look.flash_by != "beat":  # the flash follows another feature than the beat pulse
        values["u_beat_pulse"] = feature(drive, look.flash_by, look)
    return values


def blend_looks(a: ShaderLook, b: ShaderLook, t: float) -> ShaderLook:
    """Every amount of the look linearly from a (t = 0) to b (t = 1); the routes are b's from the start."""
    values = {}
    for f in fields(ShaderLook):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(y, str):
            values[f.name] = y
        elif isinstance(y, tuple):
            values[f.name] = tuple((1 - t) * u + t * v for u, v in zip(x, y, strict=True))
        else:
            values[f.name] = (1 - t) * x + t * y
    return ShaderLook(**values)


MIN_SIZE, MAX_SIZE = 16, 8192  # px per side: below, the features have no room; above, GL drivers refuse the framebuffer


def check_size(size) -> None:
    """`size`: N, (width, height), or a Size as the user typed it (named so: `--size 7x7`)."""
    sides = parse_size(size)
    for side, value in zip(("width", "height"), sides, strict=True):
        if not MIN_SIZE <= value <= MAX_SIZE:
            raise PhospheneError(f"--size {size_text(sides)}: the shader engine draws {MIN_SIZE} to {MAX_SIZE} px per side ({side} {value})")


TRANSITION_KINDS = ("cut", "crossfade", "dissolve")


RIPPLE_MIN_PX = 0.01  # a ripple that moves no pixel by more than this is not drawn (most of each beat)

STRUCTURE_SCALE = 0.5  # the structure pass draws at this fraction of the size per side (a quarter of the
# pixels) and the warp's bilinear lookup upscales it: it is mixed into the feedback a little per frame, so
# its finest detail is never on screen alone; tests/live/draw/test_looks.py holds every scene to its look.
# A generator whose picture is smoother says so in its file, `const float STRUCTURE_SCALE = 0.35;`.
_SCALE_LINE = re.compile(r"^\s*const\s+float\s+STRUCTURE_SCALE\s*=\s*([0-9]*\.?[0-9]+)\s*;", re.MULTILINE)


def structure_scale(path: Path) -> float:
    """The generator file's own STRUCTURE_SCALE (0.1 to 1), else the default."""
    m = _SCALE_LINE.search(path.read_text())
    return min(1.0, max(0.1, float(m.group(1)))) if m else STRUCTURE_SCALE


def structure_size(width: int, height: int, scale: float = STRUCTURE_SCALE) -> tuple[int, int]:
    return max(MIN_SIZE, round(width * scale)), max(MIN_SIZE, round(height * scale))


FEEDBACK_MAX_PX = 960 * 540  # the feedback (warp) pass draws at most this many pixels, the frame's aspect:
# above it (1920x1080 draws 960x540) post's bilinear lookup upscales it. The feedback is soft by
# nature (each frame a bilinear resample of the last) and the structure mixed in is drawn at half the
# size per side already, so 1080p's finest detail was never in it; 512x512 (a quarter of it) is untouched.


def feedback_size(width: int, height: int, max_px: int | None = None) -> tuple[int, int]:
    """The feedback's (width, height) within `max_px` (default FEEDBACK_MAX_PX, read at the call)."""
    max_px = FEEDBACK_MAX_PX if max_px is None else max_px
    if width * height <= max_px:
        return width, height
    scale = math.sqrt(max_px / (width * height))
    return max(MIN_SIZE, round(width * scale)), max(MIN_SIZE, round(height * scale))


class Layer:
    """One scene's running picture: its look, its structure generator and its feedback ping-pong
    (at `feedback` size: the frame's, or smaller above FEEDBACK_MAX_PX)."""

    def __init__(self, ctx, width: int, height: int, look: ShaderLook, structure: Structure, feedback: tuple[int, int] | None = None):
        self.look, self.structure = look, structure
        self.feedback = [new_texture(ctx, *(feedback or (width, height)), dtype="f2") for _ in range(2)]  # ping-pong: read one, write the other
        self.feedback_fbo = [ctx.framebuffer([t]) for t in self.feedback]
        self.out_tex = new_texture(ctx, width, height, dtype="f1")  # its finished frame, while it is crossfaded
        self.out_fbo = ctx.framebuffer([self.out_tex])
        self.current = 0  # index of the feedback texture holding the latest frame
        self.renew = False  # the next frame is all structure: a cut into this layer shows the new scene at once


class ShaderEngine:
    """The programs, their textures, and the feedback state, for one output size. Scenes switch with
    `begin(look, structure, kind)` and move through the transition with `progress(t)`:

        cut        the active layer takes the new look and generator; its next frame is all structure
        crossfade  a second layer runs the new scene from its own structure; the two finished frames mix
        dissolve   one layer: the picture on screen warps on under the new scene's motion while the
                   new structure renews it (the look's amounts travel from old to new over the span)
    """

    def __init__(
        self,
        width: int,
        height: int,
        *,
        look: ShaderLook = ShaderLook(),
        structure: Structure = Structure(),
        seed: int = 0,
        fps: float = 24.0,
        shader_dir: Path = SHADER_DIR,
        ctx=None,
        full_feedback: bool = False,
    ):
        """`full_feedback`: the feedback at the frame's size whatever it is (the diffusion hooks read
        the warped frame back at the frame's size); else within FEEDBACK_MAX_PX."""
        check_size((width, height))
        self.width, self.height, self.seed, self.fps = width, height, seed, fps
        self.feedback_size = (width, height) if full_feedback else feedback_size(width, height)
        self.shader_dir = shader_dir
        self.ctx = ctx or create_context()
        self.programs = {name: ShaderProgram(self.ctx, shader_dir / f"{name}.glsl") for name in ("structure", "post", "crossfade")}
        self.programs["warp"] = ShaderProgram(self.ctx, shader_dir / "warp.glsl", vertex=shader_dir / "warp_vertex.glsl")
        self.structure_program(structure.generator)  # a generator that is missing or broken fails here, at start-up
        size = (width, height)
        self._scales: dict[str, float] = {}  # generator -> its STRUCTURE_SCALE
        self.structure_targets: dict[tuple[int, int], tuple] = {}  # size -> (texture, framebuffer), made once per size
        self.structure_tex, self.structure_fbo = self._structure_target(structure.generator)  # the last one drawn
        self.input_tex = [new_texture(self.ctx, *size, dtype="f2") for _ in range(2)]  # frames handed in (hooks, crossfade)
        self.output_tex = new_texture(self.ctx, *size, dtype="f1")
        self.output_fbo = self.ctx.framebuffer([self.output_tex])
        self.layers = [Layer(self.ctx, width, height, look, structure, self.feedback_size)]
        self.incoming: Layer | None = None  # the layer fading in during a crossfade
        self.kind, self.mix = "cut", 1.0  # the transition under way and how far through it (1: none)
        self.dissolve_from: ShaderLook | None = None  # a dissolve's look travels from this ...
        self.dissolve_to: ShaderLook = look  # ... to this
        self.beats, self._last_phase = 0, 0.0  # beats counted from the phase's wraps: u_beat
        self.pass_ms: dict[str, float] | None = None  # time_passes(): ms per pass, summed over frames

    # --- the active scene -------------------------------------------------------------------

    @property
    def layer(self) -> Layer:
        return self.layers[0]

    @property
    def look(self) -> ShaderLook:
        return self.layer.look

    @look.setter
    def look(self, look: ShaderLook) -> None:
        """What the controls set, from this frame on (the scene's look during a dissolve's travel)."""
        self.layer.look = look
        if self.kind == "dissolve" and self.mix < 1.0:
            self.dissolve_to = look

    @property
    def structure(self) -> Structure:
        return (self.incoming or self.layer).structure

    def structure_program(self, generator: str) -> ShaderProgram:
        """The generator's program, compiled on first use; raises ShaderError (or PhospheneError for
        an unknown name) without changing what is on screen."""
        key = "structure" if generator == "classic" else f"structure:{generator}"
        if key not in self.programs:
            path = generators(self.shader_dir).get(generator)
            if path is None:
                known = ", ".join(generators(self.shader_dir))
                raise PhospheneError(f"no structure generator {generator!r} in {self.shader_dir} (there are: {known})")
            self.programs[key] = ShaderProgram(self.ctx, path)
        return self.programs[key]

    def begin(self, look: ShaderLook, structure: Structure, kind: str = "cut") -> None:
        """Start a transition to a scene. A generator that does not compile raises ShaderError here,
        before anything changes: the last good scene stays on screen."""
        if kind not in TRANSITION_KINDS:
            raise ValueError(f"transition {kind!r}: one of {', '.join(TRANSITION_KINDS)}")
        self.structure_program(structure.generator)
        self.finish()
        if kind == "cut":
            self.layer.look, self.layer.structure, self.layer.renew = look, structure, True
        elif kind == "crossfade":
            if len(self.layers) < 2:
                self.layers.append(Layer(self.ctx, self.width, self.height, look, structure, self.feedback_size))
            self.incoming = self.layers[1]
            self.incoming.look, self.incoming.structure, self.incoming.renew = look, structure, True
            self.kind, self.mix = kind, 0.0
        else:  # dissolve: the picture on screen goes on, under the new motion
            self.dissolve_from, self.dissolve_to = self.layer.look, look
            self.layer.structure = structure
            self.layer.look = look
            self.kind, self.mix = kind, 0.0

    def progress(self, t: float) -> None:
        """How far (0..1) the transition under way has gone; 1 ends it."""
        if self.mix >= 1.0:
            return
        self.mix = min(1.0, max(0.0, float(t)))
        if self.mix >= 1.0:
            self.finish()

    def finish(self) -> None:
        if self.kind == "crossfade" and self.incoming is not None:
            self.layers.reverse()  # the incoming layer is the active one now
        if self.kind == "dissolve":
            self.layer.look = self.dissolve_to
        self.incoming, self.dissolve_from, self.kind, self.mix = None, None, "cut", 1.0

    def _look_of(self, layer: Layer) -> ShaderLook:
        if layer is self.layer and self.kind == "dissolve" and self.dissolve_from is not None:
            return blend_looks(self.dissolve_from, self.dissolve_to, self.mix)
        return layer.look

    # --- the stages ---------------------------------------------------------------------------

    def reload_if_changed(self) -> None:
        for program in self.programs.values():
            if program.reload_if_changed():
                self._scales.clear()

    def _count_beats(self, drive: Drive) -> None:
        if drive.beat_phase < self._last_phase - 0.5:  # the phase wrapped: a beat
            self.beats += 1
        self._last_phase = drive.beat_phase

    def _common(self, drive: Drive, look: ShaderLook | None = None) -> dict:
        return audio_uniforms(drive, look or self.look, self.width, self.height, self.seed)

    def _structure(self, drive: Drive, layer: Layer | None = None) -> None:
        layer = layer or self.layer
        look = self._look_of(layer)
        values = {**self._common(drive, look), **structure_uniforms(layer.structure, drive, look, self.beats + drive.beat_phase)}
        self.structure_tex, self.structure_fbo = self._structure_target(layer.structure.generator)
        values["u_resolution"] = tuple(float(n) for n in self.structure_tex.size)  # the pass's own (smaller) size
        self.structure_program(layer.structure.generator).draw(self.structure_fbo, values)

    def _structure_target(self, generator: str):
        if generator not in self._scales:  # read from the file once, and again after an edit (reload_if_changed)
            self._scales[generator] = structure_scale(self.structure_program(generator).path)
        size = structure_size(self.width, self.height, self._scales[generator])
        if size not in self.structure_targets:
            tex = new_texture(self.ctx, *size, dtype="f2")
            self.structure_targets[size] = (tex, self.ctx.framebuffer([tex]))
        return self.structure_targets[size]

    def _warp(self, source, drive: Drive, layer: Layer | None = None) -> None:
        """layer.feedback[other] = warp(source) with the structure mixed in; it becomes the current frame."""
        layer = layer or self.layer
        look = self._look_of(layer)
        target = 1 - layer.current
        values = {**self._common(drive, look), **warp_uniforms(drive, look, self.fps)}
        if abs(values["u_pulse"]) * max(self.width, self.height) < RIPPLE_MIN_PX:
            values["u_pulse"] = 0.0  # warp.glsl skips the ripple's per-pixel sine
        if layer.renew:  # the first frame after a cut: the new scene's structure alone
            values["u_structure_mix"], layer.renew = 1.0, False
        elif layer is self.layer and self.kind == "dissolve":  # the new structure comes in as the old picture warps away
            values["u_structure_mix"] *= self.mix
        self.programs["warp"].draw(layer.feedback_fbo[target], values, {"u_prev": source, "u_structure": self.structure_tex})
        layer.current = target

    def _post(self, source, drive: Drive, layer: Layer | None = None, fbo=None) -> np.ndarray | None:
        import moderngl

        look = self._look_of(layer or self.layer)
        values = {**self._common(drive, look), **post_uniforms(look, drive)}
        # post reads its source texel for texel (same size, pixel centres): nearest is exact there, and on
        # llvmpipe half the cost of a bilinear lookup; the warp samples the same texture bilinearly after
        linear = source.filter
        if tuple(source.size) == (self.width, self.height):  # a reduced feedback (FEEDBACK_MAX_PX) is upscaled bilinearly
            source.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.programs["post"].draw(fbo or self.output_fbo, values, {"u_image": source})
        source.filter = linear
        return read_rgb(self.output_fbo) if fbo is None else None

    def _run_layer(self, layer: Layer, drive: Drive) -> None:
        self._structure(drive, layer)
        self._timed("structure")
        self._warp(layer.feedback[layer.current], drive, layer)
        self._timed("warp")

    def render(self, drive: Drive) -> None:
        """Draw the next frame of the shader-only engine into `output_tex` (it stays in GL: the
        window draws it from there, and only outputs that need pixels read it back)."""
        if self.pass_ms is not None:
            self._mark = time.perf_counter()  # what ran before (the features) is not the first pass's
        self._count_beats(drive)
        self._run_layer(self.layer, drive)
        if self.incoming is None:
            self._post(self.layer.feedback[self.layer.current], drive, fbo=self.output_fbo)
            self._timed("post")
            return
        self._run_layer(self.incoming, drive)
        for layer in (self.layer, self.incoming):
            self._post(layer.feedback[layer.current], drive, layer, fbo=layer.out_fbo)
        self.programs["crossfade"].draw(self.output_fbo, {"u_mix": self.mix}, {"u_a": self.layer.out_tex, "u_b": self.incoming.out_tex})
        self._timed("post")

    def frame(self, drive: Drive) -> np.ndarray:
        """The next frame of the shader-only engine: uint8 (H, W, 3)."""
        self.render(drive)
        rgb = read_rgb(self.output_fbo)
        self._timed("readback")
        return rgb

    def time_passes(self) -> dict[str, float]:
        """From now on, wait for GL after each pass and add its milliseconds here (the bench's
        per-pass table; it costs the pipelining between passes, so only benches turn it on)."""
        self.pass_ms = {}
        self._mark = time.perf_counter()
        return self.pass_ms

    def _timed(self, name: str) -> None:
        if self.pass_ms is None:
            return
        self.ctx.finish()
        now = time.perf_counter()
        self.pass_ms[name] = self.pass_ms.get(name, 0.0) + 1000.0 * (now - self._mark)
        self._mark = now

    def warp_frame(self, rgb: np.ndarray, drive: Drive) -> np.ndarray:
        """Warp a given frame (uint8, or float in [0, 1]) with the structure mixed in: float32 (H, W, 3) in [0, 1].
        During a crossfade the diffusion path warps with the incoming scene (its feedback is the generator's)."""
        self._count_beats(drive)
        layer = self.incoming or self.layer
        upload(self.input_tex[0], rgb)
        self._structure(drive, layer)
        self._warp(self.input_tex[0], drive, layer)
        data = layer.feedback_fbo[layer.current].read(components=3, dtype="f4")
        w, h = self.feedback_size  # the frame's size unless the engine was made with a budget it exceeds
        return np.frombuffer(data, dtype=np.float32).reshape(h, w, 3)

    def post_frame(self, rgb: np.ndarray, drive: Drive) -> np.ndarray:
        upload(self.input_tex[0], rgb)
        return self._post(self.input_tex[0], drive, self.incoming or self.layer)

    def crossfade(self, a: np.ndarray, b: np.ndarray, mix: float) -> np.ndarray:
        """Display-rate crossfade: mix = 0 gives a, 1 gives b. uint8 (H, W, 3)."""
        upload(self.input_tex[0], a)
        upload(self.input_tex[1], b)
        self.programs["crossfade"].draw(self.output_fbo, {"u_mix": float(mix)}, {"u_a": self.input_tex[0], "u_b": self.input_tex[1]})
        return read_rgb(self.output_fbo)

    def release(self, *, context: bool = True) -> None:
        """Free the GL objects; `context=False` keeps a context the caller shares with others."""
        if context:
            self.ctx.release()
            return
        for layer in self.layers:
            for obj in (*layer.feedback_fbo, layer.out_fbo, *layer.feedback, layer.out_tex):
                obj.release()
        for obj in (*(o for target in self.structure_targets.values() for o in target[::-1]), self.output_fbo, *self.input_tex, self.output_tex):
            obj.release()
        for program in self.programs.values():
            program.release()


def crossfade_mix(now_s: float, older_s: float, newer_s: float) -> float:
    """Where `now` lies between the times two generator frames became ready: the crossfade's u_mix.
    The newer frame fades in over the interval the generator took to make it."""
    span = newer_s - older_s
    return 1.0 if span <= 0 else min(1.0, max(0.0, (now_s - newer_s) / span))
