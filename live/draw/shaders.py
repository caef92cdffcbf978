"""The shader engine: pictures from the GLSL stages alone, driven by the audio features. No model
weights, no torch: the embedded default when diffusion weights cannot be found.

Per frame:  structure.glsl (features -> procedural image)
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from live.analysis.clock import Drive
from live.core.errors import PhospheneError
from live.core.units import size_text
from live.draw.gl import SHADER_DIR, ShaderProgram, create_context, new_texture, read_rgb, upload

log = logging.getLogger("phosphene")


@dataclass(frozen=True)
class ShaderLook:
    """How the features move the picture. Per-frame amounts assume 24 fps; they scale with fps."""

    zoom: float = 0.004  # zoom per frame at rest (content drifts outward)
    zoom_bass: float = 0.03  # extra zoom per frame at full bass
    rotate: float = 0.002  # radians per frame at rest
    rotate_mid: float = 0.02  # extra radians per frame at full mid
    drift: float = 0.002  # translation per frame (uv), circling with time
    pulse: float = 0.006  # ripple amplitude on the beat (uv)
    structure_mix: float = 0.08  # structure mixed in per frame at rest ...
    structure_onset: float = 0.35  # ... plus this at a full onset: the picture renews on hits
    decay: float = 0.985  # feedback gain per frame
    flash: float = 0.8  # stops of exposure on the beat (times confidence)
    beat_decay: float = 5.0  # the beat pulse falls as exp(-beat_decay * phase)
    saturation: float = 1.15
    contrast: float = 1.05
    tint: tuple[float, float, float] = (1.0, 0.97, 1.04)  # a cool grade
    vignette: float = 0.45


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
    }


def warp_uniforms(drive: Drive, look: ShaderLook, fps: float) -> dict:
    k = 24.0 / fps  # the look is tuned at 24 fps
    bass, mid = max(drive.bands[0], drive.bands[1]), drive.bands[3]
    angle = 0.3 * drive.time_s
    return {
        "u_zoom": 1.0 + k * (look.zoom + look.zoom_bass * bass),
        "u_rotate": k * (look.rotate + look.rotate_mid * mid),
        "u_translate": (k * look.drift * math.cos(angle), k * look.drift * math.sin(angle)),
        "u_pulse": look.pulse * math.exp(-look.beat_decay * drive.beat_phase) * min(1.0, 2.0 * drive.confidence),
        "u_structure_mix": min(1.0, k * (look.structure_mix + look.structure_onset * drive.onset)),
        "u_decay": look.decay**k,
    }


def post_uniforms(look: ShaderLook) -> dict:
    return {
        "u_flash": look.flash,
        "u_saturation": look.saturation,
        "u_contrast": look.contrast,
        "u_tint": look.tint,
        "u_vignette": look.vignette,
    }


MIN_SIZE, MAX_SIZE = 16, 8192  # px per side: below, the features have no room; above, GL drivers refuse the framebuffer


def check_size(width: int, height: int) -> None:
    for side, value in (("width", width), ("height", height)):
        if not MIN_SIZE <= value <= MAX_SIZE:
            raise PhospheneError(
                f"--size {size_text((width, height))}: the shader engine draws {MIN_SIZE} to {MAX_SIZE} px per side ({side} {value})"
            )


class ShaderEngine:
    """The four programs, their textures, and the feedback state, for one output size."""

    def __init__(
        self,
        width: int,
        height: int,
        *,
        look: ShaderLook = ShaderLook(),
        seed: int = 0,
        fps: float = 24.0,
        shader_dir: Path = SHADER_DIR,
        ctx=None,
    ):
        check_size(width, height)
        self.width, self.height, self.look, self.seed, self.fps = width, height, look, seed, fps
        self.ctx = ctx or create_context()
        self.programs = {name: ShaderProgram(self.ctx, shader_dir / f"{name}.glsl") for name in ("structure", "warp", "post", "crossfade")}
        size = (width, height)
        self.structure_tex = new_texture(self.ctx, *size, dtype="f2")
        self.feedback = [new_texture(self.ctx, *size, dtype="f2") for _ in range(2)]  # ping-pong: read one, write the other
        self.input_tex = [new_texture(self.ctx, *size, dtype="f2") for _ in range(2)]  # frames handed in (hooks, crossfade)
        self.output_tex = new_texture(self.ctx, *size, dtype="f1")
        self.structure_fbo = self.ctx.framebuffer([self.structure_tex])
        self.feedback_fbo = [self.ctx.framebuffer([t]) for t in self.feedback]
        self.output_fbo = self.ctx.framebuffer([self.output_tex])
        self.current = 0  # index of the feedback texture holding the latest frame

    def reload_if_changed(self) -> None:
        for program in self.programs.values():
            program.reload_if_changed()

    def _common(self, drive: Drive) -> dict:
        return audio_uniforms(drive, self.look, self.width, self.height, self.seed)

    def _structure(self, drive: Drive) -> None:
        self.programs["structure"].draw(self.structure_fbo, self._common(drive))

    def _warp(self, source, drive: Drive) -> None:
        """feedback[other] = warp(source) with the structure mixed in; it becomes the current frame."""
        target = 1 - self.current
        values = {**self._common(drive), **warp_uniforms(drive, self.look, self.fps)}
        self.programs["warp"].draw(self.feedback_fbo[target], values, {"u_prev": source, "u_structure": self.structure_tex})
        self.current = target

    def _post(self, source, drive: Drive) -> np.ndarray:
        values = {**self._common(drive), **post_uniforms(self.look)}
        self.programs["post"].draw(self.output_fbo, values, {"u_image": source})
        return read_rgb(self.output_fbo)

    def frame(self, drive: Drive) -> np.ndarray:
        """The next frame of the shader-only engine: uint8 (H, W, 3)."""
        self._structure(drive)
        self._warp(self.feedback[self.current], drive)
        return self._post(self.feedback[self.current], drive)

    def warp_frame(self, rgb: np.ndarray, drive: Drive) -> np.ndarray:
        """Warp a given frame (uint8, or float in [0, 1]) with the structure mixed in: float32 (H, W, 3) in [0, 1]."""
        upload(self.input_tex[0], rgb)
        self._structure(drive)
        self._warp(self.input_tex[0], drive)
        data = self.feedback_fbo[self.current].read(components=3, dtype="f4")
        return np.frombuffer(data, dtype=np.float32).reshape(self.height, self.width, 3)

    def post_frame(self, rgb: np.ndarray, drive: Drive) -> np.ndarray:
        upload(self.input_tex[0], rgb)
        return self._post(self.input_tex[0], drive)

    def crossfade(self, a: np.ndarray, b: np.ndarray, mix: float) -> np.ndarray:
        """Display-rate crossfade: mix = 0 gives a, 1 gives b. uint8 (H, W, 3)."""
        upload(self.input_tex[0], a)
        upload(self.input_tex[1], b)
        self.programs["crossfade"].draw(self.output_fbo, {"u_mix": float(mix)}, {"u_a": self.input_tex[0], "u_b": self.input_tex[1]})
        return read_rgb(self.output_fbo)

    def release(self) -> None:
        self.ctx.release()


def crossfade_mix(now_s: float, older_s: float, newer_s: float) -> float:
    """Where `now` lies between the times two generator frames became ready: the crossfade's u_mix.
    The newer frame fades in over the interval the generator took to make it."""
    span = newer_s - older_s
    return 1.0 if span <= 0 else min(1.0, max(0.0, (now_s - newer_s) / span))
