"""How well an audio encoder lands in the text space: retrieval against captions, zero-shot labels, token cosine.

    retrieval_metrics(audio, text, captions)           (N, D) x2 -> {"audio_to_text/R@1": ..., "text_to_audio/mAP@10": ...}
    zero_shot_accuracy(audio, label_emb, labels, classes)  (N, D), (C, D) -> share of labelled clips nearest their class
    pool_tokens(tokens, mask=None)                     (B, L, D) -> (B, D)   mean over real tokens
    mean_token_cosine(pred, target, mask=None)         (B, L, D) x2 -> float  mean cosine over real tokens

Retrieval follows the audio-retrieval papers (AudioCaps / Clotho, as CLAP reports them): similarity is
cosine, identical captions are one retrieval target (Clotho and AudioCaps repeat captions), R@k is the
share of queries with a relevant item in the top k, mAP@10 the mean of the queries' AP@10. Ties in
similarity count against the encoder (a relevant item tied with irrelevant ones ranks after them), so
an encoder that outputs one constant vector scores at or below chance, never at 100 %.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

ZERO_SHOT_PROMPT = "This is a sound of {label}"  # CLAP's zero-shot prompt; .format(label=...) per class
RECALL_KS = (1, 5, 10)  # the R@k every audio-retrieval paper reports
MAP_K = 10  # mAP@10, as in the DCASE language-based audio retrieval task
ROW_BLOCK = 1024  # queries ranked at once: bounds the (block, items) sort's memory for large test sets


def retrieval_metrics(audio_emb, text_emb, captions: list[str], ks=RECALL_KS, map_k: int = MAP_K) -> dict[str, float]:
    """Audio->text and text->audio retrieval of N clips against their U unique captions.

    audio_emb: (N, D), one row per clip; text_emb: (N, D), the embedding of each clip's caption;
    captions: the N caption strings. Identical captions are merged into one target (the first
    occurrence's embedding is kept).

    audio->text: each clip ranks the U captions; exactly one is relevant (its own).
        R@k = share of clips whose caption is in the top k;  AP@10 = 1/rank if rank <= 10 else 0.
    text->audio: each unique caption ranks the N clips; relevant are all clips with that caption.
        R@k = share of captions with at least one relevant clip in the top k;
        AP@10 = (1 / min(n_relevant, 10)) * sum over ranks r <= 10 holding a relevant clip of precision@r,
        where precision@r = (relevant clips in the top r) / r.
    mAP@10 is the mean of AP@10 over the queries.

    Also returned: "chance/audio_to_text/R@1" = 1/U and "chance/text_to_audio/R@1" = mean over
    captions of n_relevant/N (what a random ranking scores), "clips" N and "captions" U.
    """
    audio_emb, text_emb = _matrix(audio_emb, "audio_emb"), _matrix(text_emb, "text_emb")
    n = len(audio_emb)
    if text_emb.shape != audio_emb.shape or len(captions) != n:
        raise ValueError(
            f"audio_emb {tuple(audio_emb.shape)}, text_emb {tuple(text_emb.shape)} and {len(captions)} captions must agree: one (D,) row each per clip"
        )
    if n == 0:
        raise ValueError("retrieval needs at least one clip")
    first: dict[str, int] = {}  # caption -> its target number u, in order of first occurrence
    keep = []  # (U,) the clip whose text embedding stands for target u
    for i, caption in enumerate(captions):
        if caption not in first:
            first[caption] = len(first)
            keep.append(i)
    target = np.array([first[c] for c in captions])  # (N,) each clip's target number
    u = len(first)

    audio = F.normalize(audio_emb.float(), dim=-1)  # (N, D)
    text = F.normalize(text_emb[keep].float(), dim=-1)  # (U, D)
    similarity = (audio @ text.T).cpu().numpy()  # (N, U) cosine
    relevant = target[:, None] == np.arange(u)[None, :]  # (N, U) clip i's caption is u

    metrics: dict[str, float] = {}
    for direction, sim, rel in (("audio_to_text", similarity, relevant), ("text_to_audio", similarity.T, relevant.T)):
        hits = _ranked_relevance(sim, rel, max(max(ks), map_k))  # (Q, K) relevance of each query's top K
        for k in ks:
            metrics[f"{direction}/R@{k}"] = float(hits[:, :k].any(axis=1).mean())
        metrics[f"{direction}/mAP@{map_k}"] = float(_average_precision(hits[:, :map_k], rel.sum(axis=1)).mean())
    metrics["chance/audio_to_text/R@1"] = 1.0 / u
    metrics["chance/text_to_audio/R@1"] = float(relevant.sum(axis=0).mean() / n)
    metrics["clips"] = n
    metrics["captions"] = u
    return metrics


def _ranked_relevance(similarity: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """(Q, I) scores and relevance -> (Q, min(k, I)) relevance of each query's k best items, ties broken against the relevant."""
    rows = []
    for lo in range(0, len(similarity), ROW_BLOCK):
        sim, rel = similarity[lo : lo + ROW_BLOCK], relevant[lo : lo + ROW_BLOCK]
        order = np.lexsort((rel, -sim), axis=-1)[:, :k]  # by similarity, high first; among equals the irrelevant first
        rows.append(np.take_along_axis(rel, order, axis=-1))
    return np.concatenate(rows)


def _average_precision(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """(Q, K) relevance at ranks 1..K and (Q,) relevant counts -> (Q,) AP@K."""
    k = hits.shape[1]
    precision = np.cumsum(hits, axis=1) / np.arange(1, k + 1)  # (Q, K) precision@r
    return (precision * hits).sum(axis=1) / np.minimum(n_relevant, k)


def zero_shot_accuracy(audio_emb, label_emb, labels: list[str | None], classes: list[str]) -> float:
    """Share of labelled clips whose nearest class prompt (cosine) is their own label; None labels are skipped.

    audio_emb: (N, D); label_emb: (C, D), the embedding of ZERO_SHOT_PROMPT for each of `classes`;
    labels: N class names or None. A clip tied between its class and another counts as wrong.
    """
    audio_emb, label_emb = _matrix(audio_emb, "audio_emb"), _matrix(label_emb, "label_emb")
    if len(labels) != len(audio_emb) or len(classes) != len(label_emb) or audio_emb.shape[1] != label_emb.shape[1]:
        raise ValueError(
            f"audio_emb {tuple(audio_emb.shape)} with {len(labels)} labels and label_emb {tuple(label_emb.shape)} "
            f"with {len(classes)} classes do not agree: one row per clip, one per class, the same D"
        )
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({label for label in labels if label is not None and label not in index})
    if unknown:
        raise ValueError(f"labels {', '.join(map(repr, unknown))} are not among the {len(classes)} classes: add them to classes")
    clips = [i for i, label in enumerate(labels) if label is not None]
    if not clips:
        raise ValueError("no clip has a label: zero-shot accuracy needs labelled clips")
    audio = F.normalize(audio_emb[clips].float(), dim=-1)  # (M, D)
    prompts = F.normalize(label_emb.float(), dim=-1)  # (C, D)
    similarity = audio @ prompts.T  # (M, C)
    own = torch.tensor([index[labels[i]] for i in clips], device=similarity.device)  # (M,)
    own_sim = similarity.gather(1, own[:, None])  # (M, 1)
    others = similarity.scatter(1, own[:, None], -torch.inf)  # (M, C) own class masked out
    correct = own_sim[:, 0] > others.max(dim=1).values if len(classes) > 1 else torch.ones(len(clips), dtype=torch.bool)
    return float(correct.float().mean())


def pool_tokens(tokens, mask=None) -> torch.Tensor:
    """(B, L, D) -> (B, D): mean over the positions where mask (B, L) is True (all when None); a row with none is zeros."""
    tokens = torch.as_tensor(tokens)
    if tokens.dim() != 3:
        raise ValueError(f"tokens must be (B, L, D), got {tuple(tokens.shape)}")
    if mask is None:
        return tokens.mean(dim=1)
    weight = torch.as_tensor(mask, device=tokens.device).to(tokens.dtype)[..., None]  # (B, L, 1)
    return (tokens * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1)


@torch.no_grad()
def mean_token_cosine(pred, target, mask=None) -> float:
    """Mean cosine similarity of pred and target token by token, (B, L, D) each, over positions where mask (B, L) is True."""
    pred, target = torch.as_tensor(pred).float(), torch.as_tensor(target).float()
    if pred.shape != target.shape or pred.dim() != 3:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must both be (B, L, D)")
    cosine = F.cosine_similarity(pred, target, dim=-1)  # (B, L)
    if mask is None:
        return float(cosine.mean())
    mask = torch.as_tensor(mask, device=cosine.device, dtype=torch.bool)
    if not mask.any():
        raise ValueError("mask has no True position: nothing to average")
    return float(cosine[mask].mean())


def _matrix(x, name: str) -> torch.Tensor:
    x = torch.as_tensor(x).detach()
    if x.dim() != 2:
        raise ValueError(f"{name} must be (N, D), got {tuple(x.shape)}")
    return x
