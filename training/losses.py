"""Losses that pull the audio encoder's output towards the text encoder's, and the negatives they need.

    audio2img_loss(audio, text, temperature=0.15)     (B, T, D) x2 -> (loss, accuracy)   per token, audio->text
    clap_loss(audio, text, logit_scale)               (B, D) x2    -> (loss, accuracy)   symmetric InfoNCE
        both take caption_ids=(B,) ints: other clips with the same caption are then not counted as negatives
    LogitScale()                                      learnable CLIP/CLAP scale: starts at 1/0.07, at most 100
    token_cosine_loss(pred, target, mask=None)        mean (1 - cos) over real tokens
    token_mse_loss(pred, target, mask=None)           mean squared error over real tokens
    gather_negatives(x)                               all ranks' x, concatenated (identity without torch.distributed)

Contrastive losses here score the local batch against the whole global batch: with several processes
the text (and, for CLAP, audio) embeddings of every rank are gathered, and the positives of rank r
sit at rows r*B .. r*B + B - 1. Every rank must then use the same batch size (drop_last=True).
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

AUDIO2IMG_TEMPERATURE = 0.15  # audio2img's value
CLIP_INIT_TEMPERATURE = 0.07  # CLIP and CLAP start the logit scale at 1 / 0.07
CLIP_MAX_LOGIT_SCALE = 100.0  # CLIP clamps the scale here, so a collapsing temperature cannot blow up the logits


def gather_negatives(x: torch.Tensor) -> torch.Tensor:
    """(B, ...) on each rank -> (world * B, ...), rank order; the local shard keeps its gradient.

    The other ranks' rows arrive without gradient (each rank back-propagates through its own rows;
    DDP's gradient averaging does the rest), as open_clip's `gather_features(local_loss=False)`.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    shards = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(shards, x.detach().contiguous())
    shards[dist.get_rank()] = x  # the local rows, with their graph
    return torch.cat(shards)


def _first_positive() -> int:
    """Row of this rank's first positive in a gathered batch, divided by B."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def same_caption_mask(caption_ids: torch.Tensor | None, targets: torch.Tensor) -> torch.Tensor | None:
    """(B, N) True where column n holds the same caption as row b but is not its positive.

    Many clips share a class-like caption; their identical targets would otherwise be scored as
    negatives of each other, a loss no model can lower. audio2img's recipe does not mask them.
    """
    if caption_ids is None:
        return None
    everyone = gather_negatives(caption_ids)  # (N,)
    same = caption_ids[:, None] == everyone[None, :]  # (B, N)
    same[torch.arange(len(caption_ids), device=same.device), targets] = False
    return same


def audio2img_loss(
    audio: torch.Tensor, text: torch.Tensor, temperature: float = AUDIO2IMG_TEMPERATURE, caption_ids: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """audio2img's per-token contrastive loss, audio -> text only, no padding mask.

    For each token position t, audio token (b, t) is scored by cosine / temperature against token t
    of every text target in the (global) batch; target b is the positive, the others the negatives.
    Checked against the authors' notebook (kardSIM/audio2img, train_me.ipynb, `Contrastive_loss`):
    cross_entropy over cosine_similarity(audio[:, None], text[None], dim=-1) / 0.15, (B, B, T)
    logits with the class on dim 1, target i for audio i at every position: the same computation.
    The loss is the cross-entropy averaged over batch and positions; accuracy is the share of
    (b, t) whose best-scoring text is its own.
    audio, text: (B, T, D) with the same T (the audio head yields exactly the text's token count).
    """
    if audio.shape != text.shape:
        raise ValueError(f"audio {tuple(audio.shape)} and text {tuple(text.shape)} tokens must have the same (B, T, D)")
    batch = audio.shape[0]
    text = gather_negatives(text)  # (N, T, D), N = world * B
    a = F.normalize(audio, dim=-1).transpose(0, 1)  # (T, B, D)
    y = F.normalize(text, dim=-1).transpose(0, 1)  # (T, N, D)
    logits = a @ y.transpose(1, 2) / temperature  # (T, B, N)
    targets = torch.arange(batch, device=audio.device) + _first_positive() * batch  # (B,)
    same = same_caption_mask(caption_ids, targets)
    if same is not None:
        logits = logits.masked_fill(same, float("-inf"))
    targets = targets.expand(logits.shape[0], batch)  # (T, B)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    accuracy = (logits.argmax(-1) == targets).float().mean()
    return loss, accuracy


class LogitScale(nn.Module):
    """CLIP's learnable inverse temperature, kept as a log so it stays positive; clamped at 100 when used."""

    def __init__(self, init_temperature: float = CLIP_INIT_TEMPERATURE, max_scale: float = CLIP_MAX_LOGIT_SCALE):
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / init_temperature)))
        self.max_scale = max_scale

    def forward(self) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=self.max_scale)


def clap_loss(
    audio: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor, caption_ids: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric InfoNCE on pooled embeddings (B, D): mean of the audio->text and text->audio cross-entropies.

    Accuracy is the mean of both directions' top-1 accuracy.
    """
    if audio.shape != text.shape or audio.dim() != 2:
        raise ValueError(f"audio {tuple(audio.shape)} and text {tuple(text.shape)} must both be (B, D)")
    batch = audio.shape[0]
    a, y = F.normalize(audio, dim=-1), F.normalize(text, dim=-1)
    all_a, all_y = gather_negatives(a), gather_negatives(y)  # (N, D)
    audio_to_text = logit_scale * a @ all_y.T  # (B, N)
    text_to_audio = logit_scale * y @ all_a.T  # (B, N)
    targets = torch.arange(batch, device=audio.device) + _first_positive() * batch
    same = same_caption_mask(caption_ids, targets)
    if same is not None:
        audio_to_text = audio_to_text.masked_fill(same, float("-inf"))
        text_to_audio = text_to_audio.masked_fill(same, float("-inf"))
    loss = (F.cross_entropy(audio_to_text, targets) + F.cross_entropy(text_to_audio, targets)) / 2
    accuracy = ((audio_to_text.argmax(-1) == targets).float().mean() + (text_to_audio.argmax(-1) == targets).float().mean()) / 2
    return loss, accuracy


def token_cosine_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of 1 - cos(pred, target) over the tokens where mask (B, T) is True; pred, target (B, T, D)."""
    per_token = 1 - F.cosine_similarity(pred, target, dim=-1)  # (B, T)
    return _masked_mean(per_token, mask)


def token_mse_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error per element, averaged over the tokens where mask (B, T) is True."""
    per_token = (pred - target).square().mean(-1)  # (B, T)
    return _masked_mean(per_token, mask)


def _masked_mean(per_token: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return per_token.mean()
    if mask.shape != per_token.shape:
        raise ValueError(f"mask {tuple(mask.shape)} must be (B, T) = {tuple(per_token.shape)}")
    weights = mask.to(per_token.dtype)
    return (per_token * weights).sum() / weights.sum().clamp(min=1)
