import math

import pytest
import torch

from live.core.errors import PhospheneError
from live.models.conditioning import Conditioner, Embedding, Smoother, Timeline, mix_prompt, slerp
from live.models.settings import ConditioningConfig


def angle(a, b):
    return torch.arccos(torch.nn.functional.cosine_similarity(a, b, dim=-1).clamp(-1, 1))


def test_slerp_endpoints_and_midpoint():
    torch.manual_seed(0)
    a, b = torch.randn(5, 16), torch.randn(5, 16)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid = slerp(a, b, 0.5)
    # per token: the midpoint sits at half the angle, on the great circle between a and b
    assert torch.allclose(angle(a, mid), angle(a, b) / 2, atol=1e-4)
    assert torch.allclose(angle(mid, b), angle(a, b) / 2, atol=1e-4)
    assert torch.allclose(mid.norm(dim=-1), (a.norm(dim=-1) + b.norm(dim=-1)) / 2, atol=1e-4)


def test_slerp_keeps_norm_where_lerp_shrinks_it():
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[0.0, 1.0]])
    assert slerp(a, b, 0.5).norm().item() == pytest.approx(1.0, abs=1e-6)
    assert ((a + b) / 2).norm().item() == pytest.approx(math.sqrt(0.5), abs=1e-6)


def test_slerp_parallel_tokens_fall_back_to_lerp():
    a = torch.tensor([[2.0, 0.0]])
    out = slerp(a, a * 3, 0.5)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, torch.tensor([[4.0, 0.0]]), atol=1e-5)


def test_timeline_interpolates_between_hops_and_holds_outside():
    tl = Timeline()
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    tl.add(Embedding(0.0, 100, a))
    tl.add(Embedding(0.5, 200, b))
    tokens, idx = tl.at(0.25)
    assert idx == 200
    assert torch.allclose(tokens, slerp(a, b, 0.5))
    assert torch.allclose(tl.at(-1.0)[0], a) and torch.allclose(tl.at(9.0)[0], b)
    with pytest.raises(ValueError):
        tl.add(Embedding(0.5, 300, a))  # not after the last one


def test_attack_follows_faster_than_release():
    """Same jump in the tokens: when the level rises the state moves further in one frame."""
    cfg = ConditioningConfig(attack_s=0.02, release_s=0.5)
    start, target = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    moved = {}
    for name, level in (("attack", 1.0), ("release", 0.0)):
        s = Smoother(cfg)
        s.step(start, 0.5, 1 / 24)
        out = s.step(target, level, 1 / 24)
        moved[name] = angle(start, out).item() / angle(start, target).item()
    assert moved["attack"] == pytest.approx(1 - math.exp(-(1 / 24) / 0.02), abs=1e-3)
    assert moved["release"] == pytest.approx(1 - math.exp(-(1 / 24) / 0.5), abs=1e-3)
    assert moved["attack"] > 5 * moved["release"]


def test_prompt_mix_weights():
    torch.manual_seed(1)
    audio, prompt = torch.randn(48, 8), torch.randn(77, 8)
    assert torch.allclose(mix_prompt(audio, prompt, 1.0), audio)
    assert torch.allclose(mix_prompt(audio, prompt, 0.0), prompt[:48], atol=1e-5)
    half = mix_prompt(audio, prompt, 0.5)
    assert half.shape == (48, 8)
    assert torch.allclose(angle(half, audio), angle(half, prompt[:48]), atol=1e-4)


def test_conditioner_prepends_start_token_and_needs_prompt_for_mix():
    bos = torch.full((8,), 3.0)
    c = Conditioner(ConditioningConfig(), bos=bos)
    c.add(0.0, 10, torch.randn(47, 8))
    embeds, idx = c.at(0.0, 0.1, 1 / 24)
    assert embeds.shape == (1, 48, 8) and idx == 10
    assert torch.allclose(embeds[0, 0], bos)
    with pytest.raises(PhospheneError, match="--prompt"):
        Conditioner(ConditioningConfig(audio_weight=0.5))
    with pytest.raises(PhospheneError, match="audio-weight"):
        ConditioningConfig(audio_weight=1.5)
