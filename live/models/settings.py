"""The model stages' settings, torch-free: the CLI reads its defaults from these dataclasses (and
`--help` answers without importing torch); `generator.py` and `conditioning.py` run them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from live.core.errors import PhospheneError
from live.core.units import parse_size, size_text


@dataclass(frozen=True)
class ConditioningConfig:
    attack_s: float = 0.05  # time constant when the level rises: small = hits land on the frame they happen
    release_s: float = 0.40  # time constant when it falls: larger = pictures linger after a sound stops
    audio_weight: float = 1.0  # 1 = audio only, 0 = text prompt only; needs --prompt below 1
    condition: str = "text"  # text: the encoder's text-space tokens; image: its CLIP image embedding via IP-Adapter; both: image + --prompt
    image_scale: float = 1.0  # IP-Adapter scale for image / both: 0 = the text side only, 1 = the adapter's full weight
    PROMPT_AUDIO_WEIGHT = 0.5  # the audio weight when a prompt is given and no weight is: half each (not a field)

    @classmethod
    def default_audio_weight(cls, prompt: bool) -> float:
        """--audio-weight unset: audio only, or half audio, half prompt when there is a prompt."""
        return cls.PROMPT_AUDIO_WEIGHT if prompt else cls.audio_weight

    def __post_init__(self):
        if self.attack_s < 0 or self.release_s < 0:
            raise PhospheneError(f"attack ({self.attack_s} s) and release ({self.release_s} s) must be >= 0")
        if self.condition not in ("text", "image", "both"):
            raise PhospheneError(f"--condition {self.condition}: choose text, image or both")
        if not 0.0 <= self.image_scale <= 2.0:
            raise PhospheneError(f"--image-scale {self.image_scale}: must be between 0 (text only) and 2 (1 is the adapter's own weight)")
        if not 0.0 <= self.audio_weight <= 1.0:
            raise PhospheneError(f"--audio-weight {self.audio_weight}: must be between 0 (prompt only) and 1 (audio only)")


MAX_SIZE = 2048  # px; beyond this even an H100 is far from real time and TAESD tiles badly
VAE_FACTOR = 8  # px per latent of every SD-class VAE and TAESD: the size rule a command can check before the model loads
MIN_SIZE = 64  # px: 8 latents a side; smaller pictures are a few latents of mush


def nearest_sizes(wh: tuple[int, int], multiple: int, lo: int = MIN_SIZE, hi: int = MAX_SIZE) -> list[tuple[int, int]]:
    """The valid sizes next to `wh`: each side rounded down and up to the multiple (within lo-hi)."""
    def side(v: int, up: bool) -> int:
        v = (-(-v // multiple) if up else v // multiple) * multiple
        return min(max(v, lo), hi // multiple * multiple)

    found = []
    for up in (False, True):
        size = (side(wh[0], up), side(wh[1], up))
        if size not in found:
            found.append(size)
    return found


@dataclass(frozen=True)
class GeneratorConfig:
    size: int | tuple[int, int] = 512  # px: N (square) or (width, height); UNet time grows with the area
    steps: int = 2  # scheduler steps the strength is cut from; UNet calls per frame = int(steps * strength)
    strength: float = 0.5  # share of the schedule repainted each frame: lower keeps more of the last frame
    seed: int = 0  # fixes the noise (the same for every frame) and so the whole render

    @property
    def wh(self) -> tuple[int, int]:
        """(width, height) in px."""
        return parse_size(self.size)

    @property
    def unet_calls(self) -> int:
        return int(self.steps * self.strength)

    def validate(self, size_multiple: int, *, said: str | None = None) -> None:
        """The diffusion engine's size rule: sides in multiples of the VAE's factor (8 for every SD-class
        VAE and TAESD; the UNet takes any latent size, its upsamplers follow the skip connections),
        from MIN_SIZE to MAX_SIZE px. `said` names where the size was given (default: `--size WxH`)."""
        self.check_schedule()
        said = said or f"--size {size_text(self.wh)}"
        lo = max(MIN_SIZE, size_multiple)
        if any(side < lo or side % size_multiple or side > MAX_SIZE for side in self.wh):
            raise PhospheneError(
                f"{said}: this model takes sides in multiples of {size_multiple} px from {lo} to {MAX_SIZE} (the diffusion engine's "
                f"rule: its VAE works in {size_multiple} px blocks; the shader engine draws any size); nearest: "
                + " or ".join(size_text(s) for s in nearest_sizes(self.wh, size_multiple, lo))
            )

    def check_schedule(self) -> None:
        """The checks that need no model: run before anything loads."""
        if self.steps < 1:
            raise PhospheneError(f"--steps {self.steps}: must be at least 1")
        if not 0.0 < self.strength <= 1.0:
            raise PhospheneError(f"--strength {self.strength}: must be in (0, 1]")
        if self.unet_calls < 1:
            need = 1.0 / self.steps
            raise PhospheneError(
                f"--steps {self.steps} x --strength {self.strength} gives int({self.steps * self.strength:g}) = 0 UNet calls: "
                f"raise --strength to at least {need:g} or --steps to at least {math.ceil(1 / self.strength)}"
            )
