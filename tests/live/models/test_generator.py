"""The img2img generator on the tiny model set (random weights: the numbers, not the pictures, matter)."""

import pytest
import torch

from live.core.errors import PhospheneError
from live.models.conditioning import encode_text
from live.models.diffusion import load_diffusion
from live.models.generator import Img2Img, to_uint8
from live.models.settings import GeneratorConfig


@pytest.fixture(scope="module")
def parts():
    return load_diffusion("tiny", "tiny")


@pytest.fixture(scope="module")
def embeds(parts):
    return encode_text(parts, "a red house by the sea", length=48).unsqueeze(0)  # (1, 48, D)


def frames(parts, embeds, n=3, **config):
    g = Img2Img(parts, GeneratorConfig(size=64, **config))
    return [to_uint8(g(embeds)) for _ in range(n)]


def test_unet_calls_must_be_at_least_one(parts):
    with pytest.raises(PhospheneError, match=r"int\(0\.4\) = 0 UNet calls.*--strength to at least 0\.5"):
        Img2Img(parts, GeneratorConfig(size=64, steps=2, strength=0.2))
    assert GeneratorConfig(steps=4, strength=0.5).unet_calls == 2


@pytest.mark.parametrize("size, nearest", [(60, "64"), (204, "200 or 208"), (8, "64"), (4096, "2048"), ((100, 60), "96x64 or 104x64")])
def test_sizes_the_model_cannot_take(parts, size, nearest):
    """The diffusion engine's rule, said as its own, with the nearest sizes it takes."""
    text = str(size) if isinstance(size, int) else f"{size[0]}x{size[1]}"
    with pytest.raises(PhospheneError) as e:
        Img2Img(parts, GeneratorConfig(size=size))
    assert str(e.value).startswith(f"--size {text}: this model takes sides in multiples of 8 px from 64 to 2048 (the diffusion engine's rule")
    assert str(e.value).endswith(f"nearest: {nearest}")


def test_any_multiple_of_8_runs_though_the_unet_halves_its_latents(parts):
    """72x64 px is 9x8 latents: the tiny UNet's downsampler rounds 9 up to 5 and its upsampler
    follows the skip connection's size, so the frame comes back at 72x64 (the old rule, the VAE's 8
    times the UNet's 2, refused it; the full-size UNet's 64 refused 1280x720 the same way)."""
    embeds = torch.zeros(1, 77, parts.width)
    assert to_uint8(Img2Img(parts, GeneratorConfig(size=(72, 64), steps=1, strength=1.0))(embeds)).shape == (64, 72, 3)


def test_timesteps_follow_diffusers_img2img(parts):
    # steps=2, strength=0.5 with sd-turbo's trailing spacing: the second of [999, 499]
    assert Img2Img(parts, GeneratorConfig(size=64)).timesteps.tolist() == [499]
    assert Img2Img(parts, GeneratorConfig(size=64, steps=4, strength=1.0)).timesteps.tolist() == [999, 749, 499, 249]


def test_same_seed_same_frames_other_seed_other_frames(parts, embeds):
    a, b = frames(parts, embeds, seed=3), frames(parts, embeds, seed=3)
    c = frames(parts, embeds, seed=4)
    for x, y in zip(a, b, strict=True):
        assert (x == y).all()
    assert abs(a[0].astype(int) - c[0].astype(int)).mean() > 1.0


def test_previous_frame_feeds_back(parts, embeds):
    """Same conditioning every call, yet frame 2 differs from frame 1: it started from frame 1."""
    f = frames(parts, embeds, n=2)
    assert abs(f[0].astype(int) - f[1].astype(int)).mean() > 0.5
    g = Img2Img(parts, GeneratorConfig(size=64))
    first = g(embeds)
    white = torch.ones_like(first)
    assert not torch.equal(g(embeds, init_image=white), Img2Img(parts, GeneratorConfig(size=64))(embeds))


def test_conditioning_changes_the_picture(parts, embeds):
    other = encode_text(parts, "an empty grey room", length=48).unsqueeze(0)
    a, b = frames(parts, embeds, n=1), frames(parts, other, n=1)
    assert abs(a[0].astype(int) - b[0].astype(int)).mean() > 0.5
    assert a[0].shape == (64, 64, 3) and a[0].dtype.name == "uint8"
