"""`python -m training eval`: how well an encoder's tokens match the captions of held-out clips.

    report = evaluate("runs/a/encoder", clips, batch_size=16)
    print(format_report(report))

Each clip gives one window of `window_s`, the length the encoder was trained on (shorter clips are
encoded as they are): its most active window (`training.data.active_offsets`, the earliest of a tie;
a clip's silence between notes has no caption to match), or its first with `window_at="start"`. It is encoded with the same code the live path runs (live.models.encoder). Its
caption's target is the text encoder's tokens, from the text encoder the checkpoint names in its
metadata (`tiny`: the same seeded tiny text encoder training used), or `text_encoder` when given.

Compared positions: the start token is left out on both sides. Own checkpoints produce all L
positions, position 0 being the start token, the same for every caption; audio2img checkpoints
produce positions 1..47 only. So both formats are scored on the same positions and can be compared
on the same data.

Reported: retrieval R@1/5/10 and mAP@10 in both directions on mean-pooled tokens (identical
captions count as one target), zero-shot classification with "This is a sound of {label}" when
the clips have labels, and the mean per-token cosine to the targets.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from live.core.errors import ModelNotFound, PhospheneError
from live.core.progress import bar_output
from training.baseline import centroid_accuracy, fit_centroids, logmel_stats
from training.model import MIN_SAMPLES

log = logging.getLogger("phosphene")


def evaluate(
    encoder_name: str,
    clips,
    *,
    text_encoder: str | None = None,
    window_s: float | None = None,
    batch_size: int = 16,
    num_workers: int = 0,
    cache_dir: Path | None = None,
    device: str = "cpu",
    window_at: str = "active",
    baseline_clips=None,
    baseline_source: str = "",
) -> dict:
    """The report (see format_report). `baseline_clips` (labelled) fit the nearest-centroid baseline
    (training.baseline) that is scored on the same windows; `baseline_source` names them in the report."""
    from live.models.diffusion import load_text_encoder
    from live.models.encoder import load_encoder
    from training.config import default_cache
    from training.data import ClipDataset, collate
    from training.metrics import ZERO_SHOT_PROMPT, mean_token_cosine, pool_tokens, retrieval_metrics, zero_shot_accuracy
    from training.targets import TargetCache

    if not clips:
        raise PhospheneError("no clips to evaluate: check the manifest and --split")
    encoder = load_encoder(encoder_name, device=device)
    meta = encoder.meta
    text_name = text_encoder or meta.text_encoder
    try:
        text_model, tokenizer = load_text_encoder(text_name, device=device)
    except ModelNotFound as e:
        note = f"the encoder's targets came from '{meta.text_encoder}'; --text-encoder picks another"
        raise ModelNotFound(f"{e.problem} ({note})", e.tiny) from None
    if int(text_model.config.hidden_size) != meta.width:
        raise PhospheneError(
            f"text encoder '{text_name}' is {text_model.config.hidden_size} wide but encoder '{encoder_name}' gives {meta.width}-wide tokens"
        )
    # audio2img outputs the positions after the start token; own checkpoints output all L
    positions = meta.tokens + 1 if meta.prepend_bos else meta.tokens
    cache = TargetCache(text_model, tokenizer, encoder_id=text_name, folder=cache_dir or default_cache(), tokens=positions)
    compared = slice(0, None) if meta.prepend_bos else slice(1, None)

    if window_at not in ("active", "start"):
        raise PhospheneError(f"--window-at {window_at!r}: choose active or start")
    windows = {"window_s": window_s or meta.window_s, "random_crop": False, "active_crop": window_at == "active"}
    dataset = ClipDataset(clips, **windows)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=collate, num_workers=num_workers)
    preds, captions, labels, features, skipped = [], [], [], [], 0
    for batch in tqdm(loader, desc="eval", unit="batch", disable=None, **bar_output()):
        skipped += batch.skipped
        if len(batch):
            preds.append(_encode(encoder, batch.waveforms, batch.masks)[:, compared])
            captions += batch.captions
            labels += batch.labels
            features += [logmel_stats(w.numpy(), m.numpy()) for w, m in zip(batch.waveforms, batch.masks, strict=True)]
    if not captions:
        raise PhospheneError(f"none of the {len(clips)} clips could be read: {_skipped_list(dataset)}")
    pred = torch.cat(preds)  # (N, T, D)
    targets = cache.get(captions)[:, 1:]  # (N, T, D): the start position left out
    report = retrieval_metrics(pool_tokens(pred), pool_tokens(targets), captions)
    report["token_cosine"] = mean_token_cosine(pred, targets)
    classes = sorted({label for label in labels if label})
    if classes:
        prompts = cache.get([ZERO_SHOT_PROMPT.format(label=c) for c in classes])[:, 1:]
        report["zero_shot/accuracy"] = zero_shot_accuracy(pool_tokens(pred), pool_tokens(prompts), labels, classes)
        report["zero_shot/classes"] = len(classes)
        report["chance/zero_shot"] = 1 / len(classes)
        report.update(_baseline(baseline_clips, baseline_source, windows, features, labels))
    report.update(
        encoder=encoder_name, text_encoder=text_name, window_s=dataset.window_samples / dataset.sr, window_at=window_at, skipped=skipped
    )
    if skipped:
        log.warning("%d clips skipped: %s", skipped, _skipped_list(dataset))
    return report


@torch.inference_mode()
def _encode(encoder, waveforms: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(B, S) windows -> (B, T, D) float32 on the CPU; clips shorter than the window are encoded at their own length."""
    lengths = masks.sum(-1).tolist()
    full = [i for i, n in enumerate(lengths) if n == waveforms.shape[1]]
    out: list[torch.Tensor | None] = [None] * len(lengths)
    if full:
        for i, tokens in zip(full, encoder.encode(waveforms[full].numpy()), strict=True):
            out[i] = tokens
    for i, n in enumerate(lengths):
        if out[i] is None:
            out[i] = encoder.encode(waveforms[i : i + 1, : max(int(n), MIN_SAMPLES)].numpy())[0]
    return torch.stack(out).float().cpu()


def _baseline(clips, source: str, windows: dict, features: list, labels: list) -> dict:
    """Nearest class centroid on log-mel statistics: fitted on `clips` (their windows, chosen as the
    evaluated ones are), scored on the evaluated windows that have a label. {} without labelled clips to fit."""
    from training.data import ClipDataset, Example

    fitting = ClipDataset([c for c in clips or [] if c.label], **windows)
    examples = [e for e in (fitting[i] for i in range(len(fitting))) if isinstance(e, Example)]
    scored = [(f, label) for f, label in zip(features, labels, strict=True) if label]
    if not examples or not scored:
        return {}
    centroids = fit_centroids(np.stack([logmel_stats(e.waveform.numpy(), e.mask.numpy()) for e in examples]), [e.label for e in examples])
    accuracy = centroid_accuracy(centroids, np.stack([f for f, _ in scored]), [label for _, label in scored])
    return {"baseline/accuracy": accuracy, "baseline/fitted_on": len(examples), "baseline/source": source}


def _skipped_list(dataset) -> str:
    return "; ".join(f"{path}: {why}" for path, why in list(dataset.skipped.items())[:10])


def format_report(report: dict) -> str:
    """The report as a table: one row per direction, chance beside R@1."""
    lines = [
        f"encoder {report['encoder']}  (targets: {report['text_encoder']}, window {report['window_s']:.2f} s, {report['window_at']})",
        f"{report['clips']} clips, {report['captions']} distinct captions"
        + (f", {report['skipped']} skipped" if report["skipped"] else ""),
        "",
        f"{'direction':<14} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'mAP@10':>7}   chance R@1",
    ]
    for direction, chance in (("audio_to_text", 1 / report["captions"]), ("text_to_audio", None)):
        row = [report[f"{direction}/{k}"] for k in ("R@1", "R@5", "R@10", "mAP@10")]
        chance_text = f"{chance:.3f}" if chance else ""
        lines.append(f"{direction.replace('_', ' '):<14} {row[0]:6.3f} {row[1]:6.3f} {row[2]:6.3f} {row[3]:7.3f}   {chance_text}")
    lines.append("")
    if "zero_shot/accuracy" in report:
        lines.append(
            f"zero-shot ('This is a sound of {{label}}'): {report['zero_shot/accuracy']:.3f} over "
            f"{report['zero_shot/classes']} classes (chance {report['chance/zero_shot']:.3f})"
        )
    if "baseline/accuracy" in report:
        lines.append(
            f"baseline (nearest class centroid on log-mel mean/std, fitted on {report['baseline/fitted_on']} clips "
            f"of {report['baseline/source']}): {report['baseline/accuracy']:.3f}"
        )
    lines.append(f"mean token cosine to the targets: {report['token_cosine']:.4f}")
    return "\n".join(lines)


def to_json(report: dict) -> dict:
    return {k: (float(v) if isinstance(v, np.floating | float) else v) for k, v in report.items()}
