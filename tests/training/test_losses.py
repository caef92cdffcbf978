"""Losses on constructed tensors whose right answer is known, and negatives gathered across two real processes."""

import math
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from training.losses import (
    LogitScale,
    audio2img_loss,
    clap_loss,
    gather_negatives,
    token_cosine_loss,
    token_mse_loss,
)

B, T, D = 8, 5, 16


def one_hot_tokens() -> torch.Tensor:
    """(B, T, D) text tokens: at every position, the B captions' tokens are orthogonal unit vectors."""
    eye = torch.eye(D)[:B]  # (B, D)
    return torch.stack([eye.roll(t, dims=1) for t in range(T)], dim=1)  # (B, T, D)


def reference_audio2img(audio, text, temperature):
    """The loss written out as a loop, in float64: -log softmax of the own caption, per (b, t)."""
    total = 0.0
    for t in range(audio.shape[1]):
        for b in range(audio.shape[0]):
            scores = [F.cosine_similarity(audio[b, t], text[k, t], dim=0).double() / temperature for k in range(text.shape[0])]
            total -= scores[b] - torch.logsumexp(torch.stack(scores), 0)
    return total / (audio.shape[0] * audio.shape[1])


def test_audio2img_perfect_alignment_reaches_its_known_minimum():
    text = one_hot_tokens()
    loss, accuracy = audio2img_loss(3 * text, text)  # same direction: cosine 1 with its own caption, 0 with the others
    assert loss.item() == pytest.approx(math.log(1 + (B - 1) * math.exp(-1 / 0.15)), rel=1e-4)  # 0.00887 (float32)
    assert accuracy.item() == 1.0
    shuffled, shuffled_accuracy = audio2img_loss(text.roll(1, dims=0), text)
    assert shuffled.item() == pytest.approx(math.log(1 + (B - 1) * math.exp(-1 / 0.15)) + 1 / 0.15, rel=1e-5)
    assert shuffled_accuracy.item() == 0.0


def test_audio2img_matches_the_written_out_loss_and_its_temperature():
    torch.manual_seed(0)
    audio, text = torch.randn(B, T, D), torch.randn(B, T, D)
    for temperature in (0.15, 1.0):
        loss, _ = audio2img_loss(audio, text, temperature)
        assert loss.item() == pytest.approx(reference_audio2img(audio, text, temperature).item(), rel=1e-5)
    text = one_hot_tokens()
    assert audio2img_loss(text, text, 1.0)[0].item() == pytest.approx(math.log(1 + (B - 1) / math.e), rel=1e-5)  # 1.2725


def test_audio2img_is_audio_to_text_only_and_has_no_padding_mask():
    torch.manual_seed(1)
    audio, text = torch.randn(B, T, D), torch.randn(B, T, D)
    assert abs(audio2img_loss(audio, text)[0].item() - audio2img_loss(text, audio)[0].item()) > 1e-3  # not symmetric
    padded = audio.clone()
    padded[:, -1] = torch.randn(B, D)  # a "padding" token still counts
    assert audio2img_loss(padded, text)[0].item() != pytest.approx(audio2img_loss(audio, text)[0].item(), abs=1e-4)
    with pytest.raises(ValueError, match="same"):
        audio2img_loss(audio[:, :-1], text)


def test_clap_loss_perfect_shuffled_and_symmetric():
    text = one_hot_tokens()[:, 0]  # (B, D), orthogonal captions
    scale = LogitScale()()
    assert scale.item() == pytest.approx(1 / 0.07, rel=1e-6)
    loss, accuracy = clap_loss(2 * text, text, scale)
    assert loss.item() == pytest.approx(math.log(1 + (B - 1) * math.exp(-1 / 0.07)), abs=1e-6)  # ~4e-6
    assert accuracy.item() == 1.0
    shuffled, shuffled_accuracy = clap_loss(text.roll(1, dims=0), text, scale)
    assert shuffled.item() > 14.0 and shuffled_accuracy.item() == 0.0  # ~ 1 / 0.07

    torch.manual_seed(2)
    audio, captions = torch.randn(B, D), torch.randn(B, D)
    assert clap_loss(audio, captions, scale)[0].item() == pytest.approx(clap_loss(captions, audio, scale)[0].item(), rel=1e-6)
    a, y = F.normalize(audio, dim=-1), F.normalize(captions, dim=-1)
    logits = scale * a @ y.T
    expected = (F.cross_entropy(logits, torch.arange(B)) + F.cross_entropy(logits.T, torch.arange(B))) / 2
    assert clap_loss(audio, captions, scale)[0].item() == pytest.approx(expected.item(), rel=1e-6)


def test_logit_scale_learns_and_is_clamped_at_100():
    torch.manual_seed(3)
    logit_scale = LogitScale()
    audio = torch.randn(B, D, requires_grad=True)
    loss, _ = clap_loss(audio, torch.randn(B, D), logit_scale())
    loss.backward()
    assert logit_scale.log_scale.grad is not None and abs(logit_scale.log_scale.grad.item()) > 1e-4
    assert audio.grad.abs().sum().item() > 0

    with torch.no_grad():
        logit_scale.log_scale.fill_(math.log(1000.0))
    assert logit_scale().item() == pytest.approx(100.0)
    logit_scale.log_scale.grad = None
    clap_loss(torch.randn(B, D), torch.randn(B, D), logit_scale())[0].backward()
    assert logit_scale.log_scale.grad.item() == 0.0  # past the clamp the scale stops growing, as in CLIP


def test_token_losses_respect_the_mask():
    torch.manual_seed(4)
    target = torch.randn(2, 4, D)
    mask = torch.tensor([[True, True, False, False], [True, True, True, False]])
    pred = target.clone()
    pred[~mask] = torch.randn(int((~mask).sum()), D)  # wrong only where the mask is False
    assert token_cosine_loss(pred, target, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert token_mse_loss(pred, target, mask).item() == pytest.approx(0.0, abs=1e-12)
    assert token_mse_loss(pred, target).item() > 0.1  # without the mask the padding counts

    assert token_mse_loss(target + 1.0, target, mask).item() == pytest.approx(1.0, rel=1e-6)
    assert token_cosine_loss(-target, target, mask).item() == pytest.approx(2.0, rel=1e-6)
    half = target.clone()
    half[0, 0] = -target[0, 0]  # one of the 5 real tokens points the wrong way: mean (1 - cos) = 2 / 5
    assert token_cosine_loss(half, target, mask).item() == pytest.approx(0.4, rel=1e-5)


def test_gather_negatives_is_the_identity_without_distributed():
    x = torch.randn(3, 4)
    assert gather_negatives(x) is x


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_ranks(rank: int, port: int, audio, text, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        local = slice(rank * B // 2, (rank + 1) * B // 2)
        a = audio[local].clone().requires_grad_()
        gathered = gather_negatives(a)
        clap, _ = clap_loss(a, text[local][:, 0], torch.tensor(1 / 0.07))
        clap.backward()
        results[rank] = {
            "gathered": gathered.detach(),
            "gathered_grad": gathered.requires_grad,
            "clap": clap.item(),
            "audio2img": audio2img_loss(audio[local].unsqueeze(1).expand(-1, T, -1), text[local])[0].item(),
            "grad_norm": a.grad.norm().item(),
        }
    finally:
        dist.destroy_process_group()


def test_negatives_are_gathered_across_two_processes():
    torch.manual_seed(5)
    audio, text = torch.randn(B, D), torch.randn(B, T, D)
    results = mp.Manager().dict()
    mp.spawn(_two_ranks, args=(_free_port(), audio, text, results), nprocs=2, join=True)
    for rank in (0, 1):
        assert torch.allclose(results[rank]["gathered"], audio)  # every rank sees the whole global batch, in rank order
        assert results[rank]["gathered_grad"] and results[rank]["grad_norm"] > 0  # the local shard keeps its gradient
    # each rank's loss covers its own rows against all B negatives, so the two average to the one-process loss
    scale = torch.tensor(1 / 0.07)
    assert (results[0]["clap"] + results[1]["clap"]) / 2 == pytest.approx(clap_loss(audio, text[:, 0], scale)[0].item(), rel=1e-5)
    full = audio2img_loss(audio.unsqueeze(1).expand(-1, T, -1), text)[0].item()
    assert (results[0]["audio2img"] + results[1]["audio2img"]) / 2 == pytest.approx(full, rel=1e-5)


def test_same_caption_clips_are_not_negatives_of_each_other():
    text = one_hot_tokens()
    text[1] = text[0]  # clips 0 and 1 share a caption, so their targets are identical
    audio = text.clone()
    ids = torch.tensor([7, 7, 1, 2, 3, 4, 5, 6])
    plain, _ = audio2img_loss(audio, text, 0.15)
    masked, accuracy = audio2img_loss(audio, text, 0.15, caption_ids=ids)
    # unmasked, clips 0 and 1 split their probability between two identical targets: at least log 2 each
    assert plain > 0.95 * 2 * math.log(2) / B
    assert masked < 0.01 and accuracy == 1.0
    pooled_a, pooled_t = audio.mean(1), text.mean(1)
    plain, _ = clap_loss(pooled_a, pooled_t, torch.tensor(100.0))
    masked, accuracy = clap_loss(pooled_a, pooled_t, torch.tensor(100.0), caption_ids=ids)
    assert plain > 0.95 * 2 * math.log(2) / B and masked < 0.01 and accuracy == 1.0


class _Cache:
    """TargetCache's get() for the test: fixed (L, D) tokens per text, one-hot, a dimension per text in
    the order they are first asked for (at most D texts)."""

    def __init__(self):
        self.seen: dict[str, int] = {}

    def get(self, texts):
        return torch.stack([torch.eye(D)[[self.seen.setdefault(t, len(self.seen))] * T] for t in texts])


def test_zero_shot_loss_ranks_the_labelled_clips_prompts():
    """fit's zero-shot term: an InfoNCE of the labelled clips (not a mixed one) against their classes'
    "This is a sound of {label}", in every batch, beside the caption losses."""
    from training.augment import label_prompt
    from training.config import FitConfig
    from training.fit import Trainee, compute_losses, zero_shot_prompts

    labels = ["dog", "bell", "", "rain", "dog"]
    original = ["a dog barks", "a bell rings", "wind", "rain falls", "a dog whines"]
    after = list(original)
    after[3] = "rain falls and a bell rings"  # the TANGO mix joined clip 3 to another: its label names one of two sounds
    cache = _Cache()
    rows, prompts, ids = zero_shot_prompts(original, after, labels, cache, "cpu")
    assert rows.tolist() == [0, 1, 4] and ids[0] == ids[2] != ids[1]  # two clips of one class share a prompt
    assert zero_shot_prompts(original, after, None, _Cache(), "cpu") is None
    assert zero_shot_prompts(original[:2], after[:2], ["dog", ""], _Cache(), "cpu") is None  # one labelled clip: no negatives

    config = FitConfig(output="x", manifest="m.csv", weights="tiny")
    assert config.zero_shot_weight == 2.0 and config.label_prompts == 0.0  # the tiny recipe's
    trainee = Trainee(torch.nn.Identity(), clap=True)
    targets = cache.get(original)
    right = torch.zeros(len(labels), T, D)
    right[rows] = prompts  # each labelled clip's output is its prompt
    wrong = right.clone()
    wrong[rows] = prompts[[1, 0, 1]]  # dog <-> bell
    losses = {
        name: compute_losses(pred, targets, torch.arange(5), trainee, config, (rows, prompts, ids))
        for name, pred in (("right", right), ("wrong", wrong))
    }
    assert losses["right"]["loss/zero_shot"] < losses["wrong"]["loss/zero_shot"] and losses["right"]["accuracy/zero_shot"] == 1
    assert label_prompt("dog") == "This is a sound of dog"
    full = FitConfig(output="x", manifest="m.csv")
    assert full.zero_shot_weight == 0.0 and "loss/zero_shot" not in compute_losses(
        right, targets, torch.arange(5), trainee, full, (rows, prompts, ids)
    )
