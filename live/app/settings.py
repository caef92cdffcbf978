"""The offline render's settings, torch- and numpy-free: `python -m live render` reads its defaults
from here (and from `live.models.settings`), so they are stated once."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from live.core.errors import PhospheneError
from live.core.units import fps_text
from live.models.settings import ConditioningConfig, GeneratorConfig


@dataclass(frozen=True)
class RenderConfig:
    fps: int | Fraction = 24  # output frame rate, exact (30000/1001 for 29.97); the generator runs once per frame
    window_s: float | None = None  # encoder window; None = the length the encoder was trained on (3.76 s)
    hop_s: float = 0.125  # one embedding per hop (8 Hz, as live); frames between hops are slerped
    encoder_batch: int = 8  # windows per encoder call: larger is faster on a GPU and costs memory
    shaders: bool = True  # feedback warp + structure before img2img, beat flash + grade after (EGL)
    half_beat: bool = False  # the beat clock moved by half a period (the tracker on the off-beat)
    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)

    def validate(self, *, prompt: bool = False) -> None:
        """Every check that needs no model, so a bad flag fails before minutes of loading."""
        check_fps(self.fps)
        self.generator.check_schedule()
        if not prompt and self.conditioning.audio_weight < 1.0:
            raise PhospheneError("--audio-weight below 1 mixes in a text prompt: give one with --prompt TEXT")
        if self.window_s is not None and not 0.1 <= self.window_s <= 30.0:
            raise PhospheneError(f"--window {self.window_s} s: must be between 0.1 and 30 s")
        if not 0.01 <= self.hop_s <= 10.0:
            raise PhospheneError(f"--hop {self.hop_s} s: must be between 0.01 and 10 s")
        if self.encoder_batch < 1:
            raise PhospheneError(f"--encoder-batch {self.encoder_batch}: must be at least 1")


def check_fps(fps: int | Fraction) -> None:
    if not 1 <= fps <= 240:
        raise PhospheneError(f"--fps {fps_text(Fraction(fps))}: must be between 1 and 240")
