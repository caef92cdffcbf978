"""Encoder tokens over time -> the diffusion model's `prompt_embeds` for each frame.

Three steps, the same on the live and the offline clock:

1. `Timeline.at(t)`: the encoder runs once per hop; a frame between two hops gets the per-token
   slerp of the two embeddings around it, so the pictures glide instead of jumping at the hop rate.
2. `Smoother.step`: attack/release smoothing, like an envelope follower: when the music gets
   louder the state follows the audio within `attack_s`; when it gets quieter it lets go over
   `release_s`. The step is a slerp too, so token norms stay in the range the UNet was trained on.
3. `mix_prompt`: optionally slerp towards the embeddings of a text prompt, `audio_weight` = 1 for
   audio only, 0 for the prompt only.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import torch

from live.core.errors import PhospheneError
from live.models.settings import ConditioningConfig


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation per token: a, b (..., D); the angle is taken between directions and the
    norm is interpolated linearly. Falls back to lerp where the two are (anti)parallel."""
    a32, b32 = a.float(), b.float()
    a_norm, b_norm = a32.norm(dim=-1, keepdim=True), b32.norm(dim=-1, keepdim=True)  # (..., 1)
    a_dir, b_dir = a32 / a_norm.clamp_min(eps), b32 / b_norm.clamp_min(eps)
    cos = (a_dir * b_dir).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)  # (..., 1) angle between the two tokens
    sin_omega = torch.sin(omega)
    t = torch.as_tensor(t, dtype=torch.float32, device=a.device)
    safe = sin_omega.abs() > eps
    sin_omega = torch.where(safe, sin_omega, torch.ones_like(sin_omega))
    direction = torch.where(
        safe,
        (torch.sin((1 - t) * omega) * a_dir + torch.sin(t * omega) * b_dir) / sin_omega,
        (1 - t) * a_dir + t * b_dir,
    )
    norm = (1 - t) * a_norm + t * b_norm
    return (direction * norm).to(a.dtype)


@dataclass
class Embedding:
    time_s: float  # the audio time this embedding describes (its window's centre offline, its end live)
    sample_index: int  # int64 index (at 16 kHz) of the newest audio sample the window holds
    tokens: torch.Tensor  # (L, D)


class Timeline:
    """Embeddings in time order; `at(t)` interpolates to any instant between them."""

    def __init__(self, keep: int = 64):
        self.entries: deque[Embedding] = deque(maxlen=keep)  # bounded: old embeddings fall off

    def add(self, e: Embedding) -> None:
        if self.entries and e.time_s <= self.entries[-1].time_s:
            raise ValueError(f"embedding at {e.time_s} s is not after the last one ({self.entries[-1].time_s} s)")
        self.entries.append(e)

    @property
    def last_time_s(self) -> float:
        return self.entries[-1].time_s if self.entries else -math.inf

    def at(self, t_s: float) -> tuple[torch.Tensor, int]:
        """(tokens (L, D), newest sample index they depend on) at time t_s; held flat outside the range."""
        if not self.entries:
            raise LookupError("no embeddings yet")
        entries = list(self.entries)
        if t_s >= entries[-1].time_s:  # live asks for now: at or past the newest, hold it
            return entries[-1].tokens, entries[-1].sample_index
        for i in range(len(entries) - 1, 0, -1):  # newest pair first
            before, after = entries[i - 1], entries[i]
            if before.time_s <= t_s:
                frac = (t_s - before.time_s) / (after.time_s - before.time_s)
                return slerp(before.tokens, after.tokens, frac), after.sample_index
        return entries[0].tokens, entries[0].sample_index  # before the first: hold it


class Smoother:
    """Attack/release smoothing of the token state, driven by the audio level."""

    def __init__(self, config: ConditioningConfig):
        self.config = config
        self.state: torch.Tensor | None = None  # (L, D)
        self.level = 0.0

    def step(self, target: torch.Tensor, level: float, dt_s: float) -> torch.Tensor:
        if self.state is None:
            self.state, self.level = target, level
            return target
        tau = self.config.attack_s if level > self.level else self.config.release_s
        self.level = level
        alpha = 1.0 if tau <= 0 else 1.0 - math.exp(-dt_s / tau)  # share of the way to go this frame
        self.state = slerp(self.state, target, alpha)
        return self.state


def mix_prompt(audio: torch.Tensor, prompt: torch.Tensor | None, audio_weight: float) -> torch.Tensor:
    """audio (L, D) and prompt (P, D) in the same text space -> (L, D). Positions are the same token
    slots of a prompt, so they mix slot by slot; prompt slots past L are not used."""
    if prompt is None or audio_weight >= 1.0:
        return audio
    return slerp(prompt[: audio.shape[0]].to(audio.dtype), audio, audio_weight)


@torch.inference_mode()
def encode_text(parts, text: str, length: int | None = None) -> torch.Tensor:
    """The text encoder's last_hidden_state for `text`, padded to `length` tokens: (length, D)."""
    tokenizer = parts.tokenizer
    length = length or tokenizer.model_max_length
    ids = tokenizer(text, padding="max_length", max_length=length, truncation=True, return_tensors="pt").input_ids
    return parts.text_encoder(ids.to(parts.text_encoder.device)).last_hidden_state[0]  # (length, D)


class Conditioner:
    """Encoder tokens in, prompt_embeds (1, L, D) per frame out."""

    def __init__(self, config: ConditioningConfig, *, bos: torch.Tensor | None = None, prompt: torch.Tensor | None = None):
        if prompt is None and config.audio_weight < 1.0:
            raise PhospheneError("--audio-weight below 1 mixes in a text prompt: give one with --prompt TEXT")
        self.config = config
        self.bos = bos  # (D,): the start-token embedding audio2img-format tokens lack, or None
        self.prompt = prompt  # (P, D) or None
        self.timeline = Timeline()
        self.smoother = Smoother(config)

    def add(self, time_s: float, sample_index: int, tokens: torch.Tensor) -> None:
        """tokens (T, D) from the encoder for one window."""
        if self.bos is not None:
            tokens = torch.cat([self.bos.to(tokens.dtype).unsqueeze(0), tokens], dim=0)  # (T + 1, D)
        self.timeline.add(Embedding(time_s, sample_index, tokens))

    def at(self, t_s: float, level: float, dt_s: float) -> tuple[torch.Tensor, int]:
        """(prompt_embeds (1, L, D), sample index of the newest audio it depends on) for time t_s."""
        target, sample_index = self.timeline.at(t_s)
        smoothed = self.smoother.step(target, level, dt_s)
        return mix_prompt(smoothed, self.prompt, self.config.audio_weight).unsqueeze(0), sample_index
