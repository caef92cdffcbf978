"""`python -m live scenes --sheet OUT.png`: every scene at a few moments of one track, on one image.

    frames = scene_frames(scene, "song.mp3", [3.0, 6.0, 9.0], size=160)   # uint8 (H, W, 3) each
    write_sheet("sheet.png", library, "song.mp3", [3.0, 6.0, 9.0])         # a row per scene, labelled

Each scene is rendered from the start of the audio on the offline clock (frame k at k / fps), as
`render --scene NAME` would draw it, and the frames nearest the moments are kept. The PNG is
written to a temporary file beside OUT and renamed when complete. `make sheet` redraws the
project's own, docs/scenes.png.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from live.analysis.clock import FeatureClock
from live.app.scenes import Scene
from live.audio.decode import open_segment, stream
from live.audio.windows import SampleBuffer
from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError
from live.draw.shaders import ShaderEngine

DEMO = Path(__file__).resolve().parents[2] / "demo" / "phosphene-demo.mp3"
LABEL_PX = 18  # the height of the label strip above each row


def scene_frames(
    scene: Scene, audio, moments_s: list[float], *, size: int = 160, fps: int = 24, seed: int = 0, ctx=None
) -> list[np.ndarray]:
    """The scene's frames at `moments_s` (seconds from the start of `audio`)."""
    segment = open_segment(audio, 0.0, None)
    if max(moments_s) > segment.duration_s:
        raise PhospheneError(f"{audio}: {segment.duration_s:.1f} s long, shorter than the moment {max(moments_s):g} s")
    fps = Fraction(fps)
    total = segment.samples(SAMPLE_RATE)
    buffer = SampleBuffer(stream(segment, sr=SAMPLE_RATE, channels=1, block_s=0.25), total)
    clock = FeatureClock(SAMPLE_RATE)
    engine = ShaderEngine(size, size, look=scene.look, structure=scene.structure, seed=seed, fps=float(fps), ctx=ctx)
    wanted = {min(round(t * fps), total * fps // SAMPLE_RATE - 1): i for i, t in enumerate(moments_s)}
    out: list[np.ndarray | None] = [None] * len(moments_s)
    for k in range(max(wanted) + 1):
        a, b = round(k * SAMPLE_RATE / fps), min(round((k + 1) * SAMPLE_RATE / fps), total)
        under_frame = buffer.get(a, max(a, b))
        buffer.forget_before(b)
        rgb = engine.frame(clock.advance(under_frame, float(k / fps)))
        if k in wanted:
            out[wanted[k]] = rgb.copy()
    if ctx is None:
        engine.release()
    return out


def write_sheet(output, library: dict[str, Scene], audio=DEMO, moments_s=(3.0, 6.0, 9.0, 12.0), *, size: int = 160) -> Path:
    """A row per scene (its name and generator above it), a column per moment: a PNG with no time or
    text chunk, so the same code (and GL driver) gives the same bytes (`make sheet` pins Mesa's)."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame's import: no banner on stdout
    import pygame

    from live.draw.gl import create_context

    output = Path(output)
    if output.suffix.lower() != ".png":
        raise PhospheneError(f"--sheet {output}: the contact sheet is a .png")
    if not output.parent.is_dir():
        raise PhospheneError(f"--sheet {output}: no folder {output.parent}")
    ctx = create_context()
    rows = []
    try:
        for scene in library.values():
            rows.append((scene, scene_frames(scene, audio, list(moments_s), size=size, ctx=ctx)))
    finally:
        ctx.release()
    gap = 4
    width = len(moments_s) * (size + gap) + gap
    height = len(rows) * (size + LABEL_PX + gap) + gap
    sheet = np.full((height, width, 3), 16, np.uint8)
    pygame.font.init()
    font = pygame.font.Font(None, LABEL_PX + 2)
    surface = pygame.Surface((width, height))
    for r, (_, frames) in enumerate(rows):
        y = gap + r * (size + LABEL_PX + gap)
        for c, rgb in enumerate(frames):
            x = gap + c * (size + gap)
            sheet[y + LABEL_PX : y + LABEL_PX + size, x : x + size] = rgb
    pygame.surfarray.blit_array(surface, sheet.transpose(1, 0, 2))
    for r, (scene, _) in enumerate(rows):
        y = gap + r * (size + LABEL_PX + gap)
        times = "  ".join(f"{t:g} s" for t in moments_s)
        surface.blit(font.render(f"{scene.name} ({scene.structure.generator})   {times}", True, (230, 230, 230)), (gap, y + 1))
    partial = output.with_name(f".{output.stem}.partial.png")
    try:
        pygame.image.save(surface, str(partial))
        os.replace(partial, output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return output
