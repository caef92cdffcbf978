"""`python -m training eval` of a clip-image encoder: audio <-> picture retrieval, zero-shot through CLIP's text tower, the baseline.

    report = evaluate_image("runs/w2c/encoder", clips, baseline_clips=train_clips)
    print(format_image_report(report))

Each clip gives one window (its most active, or its first with window_at="start", as the text
path's eval) and the picture at that window (the row's image, or its video's frame at the window's
middle). The audio embedding is scored against the CLIP image embeddings of the pictures: R@1/5/10
and mAP@10 both ways, pictures that look the same being one candidate (training/pictures.py). With
labels: zero-shot classification against CLIP's text embeddings of "a photo of {label}" and of the
label alone, the better of the two reported (and said which); and the baseline, each clip mapped to
the picture of its nearest training class by the log-mel centroid (training/baseline.py), scored
as audio -> image R@1.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from live.core.errors import PhospheneError
from live.core.progress import bar_output
from training.baseline import fit_centroids, logmel_stats, predict

log = logging.getLogger("phosphene")

PROMPTS = ("a photo of {label}", "{label}")  # CLIP's zero-shot prompt and the bare label; the better one per set is reported


def encoder_target(name: str) -> str:
    """The target a checkpoint declares in its phosphene.json (text when it has none): no torch loaded."""
    import json

    from live.models.audio_prompt import META_FILE

    path = Path(name).expanduser() / META_FILE
    try:
        return json.loads(path.read_text()).get("target", "text")
    except (OSError, ValueError, AttributeError):
        return "text"


def evaluate_image(
    encoder_name: str,
    clips,
    *,
    window_s: float | None = None,
    window_at: str = "active",
    batch_size: int = 16,
    num_workers: int = 0,
    device: str = "cpu",
    baseline_clips=None,
    baseline_source: str = "",
    clip: str | None = None,
) -> dict:
    from live.models.encoder import load_encoder
    from training.clip_image import clip_width, load_clip
    from training.eval import _encode
    from training.metrics import retrieval_metrics, zero_shot_accuracy
    from training.pictures import PictureDataset, collate_pictures

    if not clips:
        raise PhospheneError("no clips to evaluate: check the manifest and --split")
    encoder = load_encoder(encoder_name, device=device)
    meta = encoder.meta
    clip_name = clip or meta.clip
    model, processor, tokenizer = load_clip(clip_name, device=device)
    if clip_width(model) != meta.width:
        raise PhospheneError(
            f"CLIP '{clip_name}' embeds pictures {clip_width(model)} wide but encoder '{encoder_name}' gives {meta.width}: "
            f"evaluate with the CLIP it was trained against ({meta.clip})"
        )
    if window_at not in ("active", "start"):
        raise PhospheneError(f"--window-at {window_at!r}: choose active or start")
    windows = {"window_s": window_s or meta.window_s, "random_crop": False, "active_crop": window_at == "active"}
    dataset = PictureDataset(clips, processor=processor, **windows)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=collate_pictures, num_workers=num_workers)
    audio, images, pictures, labels, features, skipped = [], [], [], [], [], 0
    for batch in tqdm(loader, desc="eval", unit="batch", disable=None, **bar_output()):
        skipped += batch.skipped
        if not len(batch):
            continue
        audio.append(_encode(encoder, batch.waveforms, batch.masks)[:, 0])  # (B, P)
        with torch.inference_mode():
            images.append(_embeds(model.get_image_features(pixel_values=batch.pixels.to(device))))  # (B, P)
        pictures += [str(p) for p in batch.pictures.tolist()]
        labels += batch.labels
        features += [logmel_stats(w.numpy(), m.numpy()) for w, m in zip(batch.waveforms, batch.masks, strict=True)]
    if not pictures:
        raise PhospheneError(f"none of the {len(clips)} clips could be read: " + "; ".join(f"{p}: {w}" for p, w in list(dataset.skipped.items())[:10]))
    audio_emb, image_emb = torch.cat(audio), torch.cat(images)
    scores = retrieval_metrics(audio_emb, image_emb, pictures)
    report = {k.replace("audio_to_text", "audio_to_image").replace("text_to_audio", "image_to_audio"): v for k, v in scores.items()}
    report["pictures"] = report.pop("captions")
    classes = sorted({label for label in labels if label})
    if classes:
        by_prompt = {}
        for prompt in PROMPTS:
            ids = tokenizer([prompt.format(label=c) for c in classes], padding=True, return_tensors="pt")
            with torch.inference_mode():
                text = _embeds(model.get_text_features(**{k: v.to(device) for k, v in ids.items()}))  # (C, P)
            by_prompt[prompt] = zero_shot_accuracy(audio_emb, text, labels, classes)
        best = max(PROMPTS, key=lambda p: by_prompt[p])
        report.update({"zero_shot/accuracy": by_prompt[best], "zero_shot/prompt": best, "zero_shot/classes": len(classes),
                       "chance/zero_shot": 1 / len(classes), **{f"zero_shot/{p}": a for p, a in by_prompt.items()}})  # fmt: skip
    report.update(_baseline(baseline_clips, baseline_source, model, processor, windows, features, pictures, image_emb))
    report.update(encoder=encoder_name, clip=clip_name, window_s=dataset.window_samples / dataset.sr, window_at=window_at, skipped=skipped)
    if skipped:
        log.warning("%d clips skipped: %s", skipped, "; ".join(f"{p}: {w}" for p, w in list(dataset.skipped.items())[:10]))
    return report


def _embeds(out) -> torch.Tensor:
    """(B, P) float32 on the CPU from get_image/text_features: a tensor in older transformers, an output whose pooler_output is projected in newer ones."""
    return (out if isinstance(out, torch.Tensor) else out.pooler_output).float().cpu()


def _baseline(clips, source: str, model, processor, windows: dict, features: list, pictures: list[str], image_emb: torch.Tensor) -> dict:
    """Each evaluated clip mapped to the picture of its nearest training class (log-mel centroid): audio -> image R@1.

    A class's picture is the evaluated picture nearest (CLIP cosine) the mean embedding of that class's
    training pictures: so a class whose training rows mix stills and video frames still names the one
    candidate that looks like them. {} without labelled clips to fit."""
    from training.pictures import PictureDataset, PictureExample

    fitting = PictureDataset([c for c in clips or [] if c.label], processor=processor, **windows)
    examples = [e for e in (fitting[i] for i in range(len(fitting))) if isinstance(e, PictureExample)]
    if not examples:
        return {}
    labels = [e.label for e in examples]
    centroids = fit_centroids(np.stack([logmel_stats(e.waveform.numpy(), e.mask.numpy()) for e in examples]), labels)
    with torch.inference_mode():
        shown = _embeds(model.get_image_features(pixel_values=torch.stack([e.pixels for e in examples]).to(model.device)))  # (K, P)
    shown = torch.nn.functional.normalize(shown, dim=-1)
    first = {p: i for i, p in reversed(list(enumerate(pictures)))}  # picture -> a clip showing it
    candidates = list(first)
    cand_emb = torch.nn.functional.normalize(image_emb[[first[p] for p in candidates]], dim=-1)  # (U, P)
    picture_of = {}
    for label in set(labels):
        mean = shown[[i for i, x in enumerate(labels) if x == label]].mean(0)
        picture_of[label] = candidates[int((cand_emb @ mean).argmax())]
    guessed = [picture_of[label] for label in predict(centroids, np.stack(features))]
    hits = float(np.mean([g == p for g, p in zip(guessed, pictures, strict=True)]))
    return {"baseline/audio_to_image/R@1": hits, "baseline/fitted_on": len(examples), "baseline/source": source}


def format_image_report(report: dict) -> str:
    lines = [
        f"encoder {report['encoder']}  (CLIP image space of {report['clip']}, window {report['window_s']:.2f} s, {report['window_at']})",
        f"{report['clips']} clips, {report['pictures']} distinct pictures" + (f", {report['skipped']} skipped" if report["skipped"] else ""),
        "",
    ]
    for direction in ("audio_to_image", "image_to_audio"):
        figures = "  ".join(f"{k} {report[f'{direction}/{k}']:.3f}" for k in ("R@1", "R@5", "R@10", "mAP@10"))
        lines.append(f"{direction.replace('_', ' ')}  {figures}  (chance R@1 {report[f'chance/{direction}/R@1']:.3f})")
    lines.append("")
    if "zero_shot/accuracy" in report:
        others = ", ".join(f"'{p}' {report[f'zero_shot/{p}']:.3f}" for p in PROMPTS if p != report["zero_shot/prompt"])
        lines.append(
            f"zero-shot through CLIP's text tower ('{report['zero_shot/prompt']}'): {report['zero_shot/accuracy']:.3f} over "
            f"{report['zero_shot/classes']} classes (chance {report['chance/zero_shot']:.3f}; {others})"
        )
    if "baseline/audio_to_image/R@1" in report:
        lines.append(
            f"baseline (each clip mapped to the picture of its nearest training class by the log-mel centroid, fitted on "
            f"{report['baseline/fitted_on']} clips of {report['baseline/source']}): audio to image R@1 {report['baseline/audio_to_image/R@1']:.3f}"
        )
    return "\n".join(lines)
