"""Few-step img2img over diffusers components, one frame per call.

Per frame (sd-turbo class at guidance 0, or SD 1.5 + LCM-LoRA at guidance 1 with LCMScheduler: one UNet
batch of 1 per step either way):

    init image (the previous frame, or whatever the shader stage made of it)
      -> VAE encode -> add the *same* noise every frame at the first timestep (temporal coherence)
      -> int(steps * strength) UNet + scheduler steps, conditioned on prompt_embeds
      -> VAE decode -> the frame, which becomes the next init image

The timesteps are those of diffusers' img2img pipeline: set_timesteps(steps), then keep the last
int(steps * strength) of them. sd-turbo's own example is steps=2, strength=0.5: one UNet call.
"""

from __future__ import annotations

import numpy as np
import torch

from live.core.timing import StageTimer
from live.models.diffusion import DiffusionParts
from live.models.settings import GeneratorConfig


class Img2Img:
    """The generator. Holds the fixed noise and the previous frame between calls."""

    def __init__(self, parts: DiffusionParts, config: GeneratorConfig, timer: StageTimer | None = None):
        config.validate(parts.vae_scale_factor)  # the UNet takes any latent size: only the VAE's 8 px blocks bind
        self.parts, self.config = parts, config
        self.timer = timer or StageTimer()  # sections: vae (encode + decode), vae_encode, vae_decode, unet
        self.device, self.dtype = parts.unet.device, parts.unet.dtype
        width, height = config.wh
        shape = (1, parts.unet.config.in_channels, height // parts.vae_scale_factor, width // parts.vae_scale_factor)  # (1, 4, h, w)
        cpu_rng = torch.Generator("cpu").manual_seed(config.seed)  # CPU noise: the same on every device
        self.noise = torch.randn(shape, generator=cpu_rng).to(self.device, self.dtype)
        self.previous: torch.Tensor | None = None  # (1, 3, H, W) in [-1, 1]
        self.scheduler = parts.scheduler
        self.scheduler.set_timesteps(config.steps, device=self.device)
        self.first_step = config.steps - min(config.unet_calls, config.steps)  # index into the schedule
        self.timesteps = self.scheduler.timesteps[self.first_step * self.scheduler.order :]
        if parts.family.guidance > 1.0:  # every family here runs without a classifier-free batch
            raise ValueError(f"{parts.family.name}: guidance {parts.family.guidance} needs a classifier-free batch, which Img2Img does not run")
        import inspect

        # LCM / TCD inject fresh noise between steps: a generator seeded per frame keeps a render deterministic
        self.step_takes_generator = "generator" in inspect.signature(self.scheduler.step).parameters

    def set_strength(self, strength: float) -> float:
        """Live control: change the strength (keeping at least one UNet call); returns the value used."""
        from dataclasses import replace

        lowest = 1.0 / self.config.steps  # int(steps * strength) >= 1
        config = replace(self.config, strength=float(min(1.0, max(lowest, strength))))
        self.config = config
        self.scheduler.set_timesteps(config.steps, device=self.device)
        self.first_step = config.steps - min(config.unet_calls, config.steps)
        self.timesteps = self.scheduler.timesteps[self.first_step * self.scheduler.order :]
        return config.strength

    @property
    def is_tiny_vae(self) -> bool:
        return hasattr(self.parts.vae.config, "encoder_block_out_channels")

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """(1, 3, H, W) in [-1, 1] -> latents (1, 4, h, w), deterministic (no sampling)."""
        vae = self.parts.vae
        if self.is_tiny_vae:
            return vae.encode(image).latents * vae.config.scaling_factor
        return vae.encode(image).latent_dist.mode() * vae.config.scaling_factor

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        vae = self.parts.vae
        return vae.decode(latents / vae.config.scaling_factor).sample.clamp(-1, 1)  # (1, 3, H, W)

    @torch.inference_mode()
    def __call__(self, prompt_embeds: torch.Tensor, init_image: torch.Tensor | None = None, image_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """prompt_embeds (1, L, D) -> the frame (1, 3, H, W) in [-1, 1]. `init_image` overrides the
        previous frame as the starting point (the shader stage's warp of it). `image_embeds` (1, P):
        a CLIP image embedding for the UNet's IP-Adapter (live/models/image_prompt.py), passed straight in."""
        image = init_image if init_image is not None else self.previous
        if image is None:  # first frame: start from mid-grey, so the noise alone shapes it
            image = torch.zeros((1, 3, self.config.wh[1], self.config.wh[0]), device=self.device, dtype=self.dtype)
        scheduler = self.scheduler
        scheduler.set_timesteps(self.config.steps, device=self.device)  # resets the step counter
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(self.first_step * scheduler.order)
        with self.timer.section("vae"), self.timer.section("vae_encode"):  # "vae": both halves, as render reports it
            latents = self.encode(image.to(self.device, self.dtype))
        latents = scheduler.add_noise(latents, self.noise, self.timesteps[:1])
        embeds = prompt_embeds.to(self.device, self.dtype)
        extra = {}
        if image_embeds is not None:  # IP-Adapter: [(1, 1, P)], no CLIP vision pass
            extra["added_cond_kwargs"] = {"image_embeds": [image_embeds.to(self.device, self.dtype).reshape(1, 1, -1)]}
        step_kwargs = {"generator": torch.Generator("cpu").manual_seed(self.config.seed)} if self.step_takes_generator else {}
        if step_kwargs and self.device.type != "cpu":
            step_kwargs["generator"] = torch.Generator(self.device).manual_seed(self.config.seed)
        with self.timer.section("unet"):
            for t in self.timesteps:
                model_input = scheduler.scale_model_input(latents, t)
                noise_pred = self.parts.unet(model_input, t, encoder_hidden_states=embeds, **extra).sample
                latents = scheduler.step(noise_pred, t, latents, **step_kwargs).prev_sample
        with self.timer.section("vae"), self.timer.section("vae_decode"):
            self.previous = self.decode(latents.to(self.dtype))
        return self.previous


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [-1, 1] -> (H, W, 3) uint8 RGB on the host."""
    rgb = ((image[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # (3, H, W)
    return rgb.permute(1, 2, 0).contiguous().cpu().numpy()
