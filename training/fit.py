"""`python -m training fit`: train the audio encoder into a diffusion model's text space.

    config = FitConfig(manifest="clips.csv", output="runs/a", weights="tiny", max_steps=200)
    fit(config)                 # or fit(config, resume=True) after a crash or a kill

One optimiser step: a batch of windows (random crops, padding masks) is augmented, turned into the
backbone's inputs, encoded to (B, L, D) tokens and pulled towards the frozen text encoder's tokens
for its captions (cached on disk, see targets.py) by a weighted sum of the losses in losses.py.
accelerate runs it on one CPU, one GPU or several (`accelerate launch -m training fit ...`), with
mixed precision and gradient accumulation.

The output folder:

    OUT/encoder/                 the newest checkpoint as an encoder: `--encoder OUT/encoder` in live and export
    OUT/checkpoints/step-NNNNNN/ accelerate state (model, optimiser, scheduler, RNG) + trainer.json + encoder/
    OUT/fit.json                 the resolved configuration (what --resume continues with)
    OUT/log.jsonl                one line per logged step: losses, accuracy, learning rate, samples/s
    OUT/logs/                    TensorBoard (`tensorboard --logdir OUT/logs`)

Checkpoints are written to a temporary folder and renamed, so a run killed at any moment leaves
either the previous checkpoint or the new one, never half of one. `--resume` loads the newest,
restores model, optimiser, scheduler and every RNG, and continues at the batch after the one it
saved: the same batches, crops, augmentations and dropout masks as a run that was never stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from live.core.errors import PhospheneError
from training.config import CONFIG_FILE, FitConfig, check_new_output, default_cache

log = logging.getLogger("phosphene")

CHECKPOINTS = "checkpoints"
ENCODER = "encoder"
STATE_FILE = "trainer.json"
LOG_FILE = "log.jsonl"


# --- the model being trained ----------------------------------------------------------------------


class Trainee(nn.Module):
    """The encoder plus the logit scale of the InfoNCE losses (CLAP's, the zero-shot one): everything
    the optimiser updates."""

    def __init__(self, encoder: nn.Module, clap: bool, clap_temperature: float | None = None):
        super().__init__()
        from training.losses import CLIP_INIT_TEMPERATURE, LogitScale

        self.encoder = encoder
        self.logit_scale = LogitScale(clap_temperature or CLIP_INIT_TEMPERATURE) if clap else None

    def forward(self, **inputs) -> torch.Tensor:
        return self.encoder(**inputs).last_hidden_state  # (B, L, D)


def build(config: FitConfig):
    """(config as used, trainee, feature extractor, fbank or None, text encoder, tokenizer, EncoderMeta) for a config.

    A new encoder is --weights on --backbone; --init-from starts from an encoder's backbone (and its
    head, when the sizes match), and gives the text space and head sizes not given; the config as
    used, which fit.json records, names them.
    """
    from live.models.audio_prompt import EncoderMeta
    from live.models.diffusion import load_text_encoder
    from live.models.encoder import load_torch_encoder
    from live.models.fbank import fbank_for
    from training.model import build_encoder, continue_encoder, freeze

    start = load_torch_encoder(config.init_from) if config.init_from is not None else None
    if start is not None:
        own = start.model.config if hasattr(start.model.config, "num_tokens") else None  # audio2img has no head
        config = config.starting_from(start.meta.text_encoder, (own.head_layers, own.head_heads) if own else None)
    text_encoder, tokenizer = load_text_encoder(config.text_encoder)
    width = int(text_encoder.config.hidden_size)
    if width % config.head_heads:
        raise PhospheneError(f"--head-heads {config.head_heads} must divide the text width {width} of '{config.text_encoder}'")
    head = {"tokens": config.tokens, "width": width, "head_layers": config.head_layers, "head_heads": config.head_heads}
    if start is None:
        encoder, fe = build_encoder(config.backbone, weights=config.weights, **head)
    else:
        encoder, fe, why = continue_encoder(start, **head)
        said = f"and a new token head ({why}; this run trains L={config.tokens} x D={width})" if why else "and its token head"
        log.info("--init-from %s: its backbone %s", config.init_from, said)
    trainable = freeze(encoder, feature_projection=config.freeze_feature_projection, layers=config.freeze_layers)
    if config.gradient_checkpointing:
        encoder.activation_checkpointing_enable()
    log.info("encoder: %.2f M parameters, %.2f M trainable", sum(p.numel() for p in encoder.parameters()) / 1e6, trainable / 1e6)
    fbank = fbank_for(fe) if type(fe).__name__ == "SeamlessM4TFeatureExtractor" else None
    meta = EncoderMeta(text_encoder=config.text_encoder, tokens=config.tokens, width=width, window_s=config.window_s)
    return (
        config,
        Trainee(encoder, clap=config.clap_weight > 0 or config.zero_shot_weight > 0, clap_temperature=config.clap_temperature),
        fe,
        fbank,
        text_encoder,
        tokenizer,
        meta,
    )


def caption_ids(captions: list[str]) -> torch.Tensor:
    """A stable 63-bit id per caption, so identical captions can be recognised across processes."""
    return torch.tensor([int.from_bytes(hashlib.blake2b(c.encode(), digest_size=8).digest(), "little") >> 1 for c in captions])


def compute_losses(
    pred: torch.Tensor, targets: torch.Tensor, ids: torch.Tensor, trainee: Trainee, config: FitConfig, prompts: tuple | None = None
) -> dict:
    """The weighted losses of one batch. pred, targets: (B, L, D); ids: (B,) caption ids; prompts:
    (rows, (K, L, D) targets, (K,) ids) of the labelled clips' zero-shot prompts, for the
    zero-shot loss (config.zero_shot_weight).

    Position 0 is the start token, the same state for every caption (a causal text encoder's first
    position sees only itself): the contrastive losses skip it, the token loss keeps it (the UNet
    reads all L positions).
    """
    from training.losses import audio2img_loss, clap_loss, token_cosine_loss, token_mse_loss

    parts, accuracy = {}, {}
    pred = pred.float()
    if config.audio2img_weight > 0:
        parts["audio2img"], accuracy["audio2img"] = audio2img_loss(pred[:, 1:], targets[:, 1:], config.temperature, caption_ids=ids)
    if config.clap_weight > 0:
        scale = trainee.logit_scale()
        parts["clap"], accuracy["clap"] = clap_loss(pred[:, 1:].mean(1), targets[:, 1:].mean(1), scale, caption_ids=ids)
    if config.token_weight > 0:
        distance = token_cosine_loss if config.token_loss == "cosine" else token_mse_loss
        parts["token"] = distance(pred, targets)
    if config.zero_shot_weight > 0 and prompts is not None:
        rows, prompt_targets, prompt_ids = prompts
        pooled = pred[rows, 1:].mean(1)
        parts["zero_shot"], accuracy["zero_shot"] = clap_loss(
            pooled, prompt_targets[:, 1:].mean(1), trainee.logit_scale(), caption_ids=prompt_ids
        )
    weights = {
        "audio2img": config.audio2img_weight,
        "clap": config.clap_weight,
        "token": config.token_weight,
        "zero_shot": config.zero_shot_weight,
    }
    total = sum(weights[k] * v for k, v in parts.items())
    return {"loss": total, **{f"loss/{k}": v for k, v in parts.items()}, **{f"accuracy/{k}": v for k, v in accuracy.items()}}


def zero_shot_prompts(original: list[str], captions: list[str], labels: list | None, cache, device) -> tuple | None:
    """(rows, targets, ids) of the zero-shot prompts ("This is a sound of {label}") of a batch's
    labelled clips, for the zero-shot loss; a clip the TANGO mix joined to another is left out (its
    label names one of two sounds). None when fewer than two clips are labelled."""
    from training.augment import label_prompt

    if not labels:
        return None
    rows = [
        i for i, (label, before, after) in enumerate(zip(labels, original, captions, strict=True))
        if label and after in (before, label_prompt(label))
    ]  # fmt: skip
    if len(rows) < 2:
        return None
    prompts = [label_prompt(labels[i]) for i in rows]
    return torch.tensor(rows, device=device), cache.get(prompts).to(device), caption_ids(prompts).to(device)


# --- what the encoder is trained towards -----------------------------------------------------------


class TextTarget:
    """--target text: the frozen text encoder's tokens for each caption (cached on disk, targets.py),
    reached by compute_losses. The loop asks a target for the model (build), the dataset, the fewest
    clips a batch needs, and a batch's losses; training/clip_image.py's ImageTarget is the other."""

    def __init__(self, config: FitConfig, device):
        from training.targets import TargetCache

        self.config, self.trainee, self.fe, self.fbank, text_encoder, tokenizer, self.meta = build(config)
        self.device = device
        self.cache = TargetCache(
            text_encoder.to(device),
            tokenizer,
            encoder_id=self.meta.text_encoder,
            folder=Path(self.config.cache_dir) if self.config.cache_dir else default_cache(),
            tokens=self.config.tokens,
        )
        self.least = 2 if self.config.audio2img_weight + self.config.clap_weight > 0 else 1  # contrastive losses need negatives

    def dataset(self, clips):
        """(dataset, collate function) of the run's windows."""
        from training.data import ClipDataset, collate

        c = self.config
        return ClipDataset(clips, window_s=c.window_s, seed=c.seed, random_crop=c.random_crop, active_crop=c.active_crop), collate

    def losses(self, pred: torch.Tensor, batch, captions: list[str], trainee: Trainee) -> dict:
        targets = self.cache.get(captions).to(self.device)
        prompts = zero_shot_prompts(batch.captions, captions, batch.labels, self.cache, self.device) if self.config.zero_shot_weight else None
        return compute_losses(pred, targets, caption_ids(captions).to(self.device), trainee, self.config, prompts)


def target_for(config: FitConfig, device):
    """The run's target: the text space, or CLIP's image space (--target clip-image)."""
    from training.config import CLIP_IMAGE

    if config.target == CLIP_IMAGE:
        from training.clip_image import ImageTarget

        target = ImageTarget(config, device)
        target.trainee = Trainee(target.encoder, clap=True, clap_temperature=target.config.clap_temperature)
        return target
    return TextTarget(config, device)


# --- data order -----------------------------------------------------------------------------------


class EpochBatches(torch.utils.data.Sampler):
    """Full batches of a seeded permutation per epoch (drop_last: every process gets the same batch size)."""

    def __init__(self, size: int, batch_size: int, seed: int):
        if size < batch_size:
            raise PhospheneError(f"{size} clips cannot fill one batch of {batch_size}: lower --batch-size or add clips")
        self.size, self.batch_size, self.seed, self.epoch = size, batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)).tolist()
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[start : start + self.batch_size]

    def __len__(self) -> int:
        return self.size // self.batch_size


def read_clips(config: FitConfig):
    from training.config import CLIP_IMAGE
    from training.data import read_manifest

    if config.target == CLIP_IMAGE:  # rows of video, or audio + image (training/pictures.py)
        from training.pictures import read_picture_manifest

        if config.manifest is None:
            raise PhospheneError("--target clip-image reads a --manifest (rows video[,label] or audio,image[,label]), not a --dataset")
        clips = read_picture_manifest(config.manifest, window_s=config.window_s)
    elif config.manifest is not None:
        clips = read_manifest(config.manifest)
    else:
        from training.data import read_hf_dataset

        clips = read_hf_dataset(config.dataset)
    chosen = [c for c in clips if c.split in (None, "", config.split)]
    if not chosen:
        splits = sorted({str(c.split) for c in clips})
        raise PhospheneError(f"no clips in split '{config.split}' (the data has: {', '.join(splits)}); pass --split")
    return chosen


# --- the loop -------------------------------------------------------------------------------------


@dataclass
class Position:
    step: int = 0  # optimiser steps done
    epoch: int = 0
    batch: int = 0  # batches of this epoch consumed (micro-batches, counting accumulation)
    samples: int = 0
    skipped: int = 0  # examples dropped because their file could not be read


def fit(config: FitConfig, *, resume: bool = False) -> Path:
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration, set_seed
    from tqdm import tqdm
    from transformers import get_cosine_schedule_with_warmup

    from live.core.progress import bar_output
    from training.augment import AugmentConfig, Augmenter
    from training.model import frame_multiple, model_inputs

    config.check()
    out = Path(config.output)
    if not resume:
        check_new_output(out)
    clips = read_clips(config)
    accelerator = Accelerator(
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.grad_accum,
        log_with="tensorboard",
        project_config=ProjectConfiguration(project_dir=str(out), logging_dir=str(out / "logs")),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],  # frozen layers, layerdrop
    )
    main = accelerator.is_main_process
    set_seed(config.seed)
    target = target_for(config, accelerator.device)
    config, trainee, fe, fbank, meta = target.config, target.trainee, target.fe, target.fbank, target.meta  # config: with what --init-from gave
    dataset, collate = target.dataset(clips)
    batches = EpochBatches(len(dataset), config.batch_size, config.seed)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batches,
        collate_fn=collate,
        num_workers=config.num_workers,
        generator=torch.Generator().manual_seed(config.seed),  # the loader draws nothing from the global RNG
        persistent_workers=False,
    )
    head = [p for n, p in trainee.named_parameters() if p.requires_grad and not n.startswith("encoder.backbone.")]
    body = [p for n, p in trainee.named_parameters() if p.requires_grad and n.startswith("encoder.backbone.")]
    groups = [{"params": body, "lr": config.lr}, {"params": head, "lr": config.head_lr}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=config.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, min(config.warmup_steps, config.max_steps // 10 + 1), config.max_steps)
    trainee, optimizer, loader, scheduler = accelerator.prepare(trainee, optimizer, loader, scheduler)
    if fbank is not None:
        fbank = fbank.to(accelerator.device)
    multiple = frame_multiple(accelerator.unwrap_model(trainee).encoder)
    augment = AugmentConfig(mix=config.mix, gain=config.gain, noise=config.noise, shift=config.shift, label_prompts=config.label_prompts)
    augmenter = Augmenter(augment, seed=config.seed)

    position = Position()
    if resume:
        position = _restore(accelerator, out)
    elif main:
        _start(out, config)
    accelerator.wait_for_everyone()
    if main:
        accelerator.init_trackers(
            "fit", config={k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in dataclasses.asdict(config).items()}
        )

    bar = tqdm(total=config.max_steps, initial=position.step, desc="fit", unit="step", disable=not main, **bar_output())
    logged, tic, tic_samples = {}, time.perf_counter(), position.samples
    skipped: dict[str, str] = {}  # file -> why, for the report at the end
    least = target.least  # clips a batch needs: contrastive losses need negatives
    unusable = 0  # micro-batches in a row with fewer readable clips than that: a whole epoch of them means none ever will be
    trainee.train()
    with bar, stop_on_request(lambda: _stopped(out, position)) as stop:
        while position.step < config.max_steps:
            # accelerate's loader sets the epoch of its sampler and dataset from its own count of passes
            # when a pass starts; a resumed run's count starts at 0, so the loader is told the epoch (and
            # the sampler directly: a skipping loader wraps it in a sampler without set_epoch)
            epoch_loader = accelerator.skip_first_batches(loader, position.batch) if position.batch else loader
            epoch_loader.set_epoch(position.epoch)
            batches.set_epoch(position.epoch)
            dataset.set_epoch(position.epoch)
            for batch in epoch_loader:
                if stop.requested:
                    break
                position.batch += 1
                position.skipped += batch.skipped
                skipped.update({str(f.audio): f.reason for f in batch.skipped_files})
                if len(batch) < least:  # (nearly) every file of this batch was unreadable
                    unusable += 1
                    if unusable >= len(loader):
                        bar.close()  # before the list is logged
                        raise _nothing_readable(out, skipped, position, report=main)
                    continue
                unusable = 0
                # Every random draw of this micro-batch (augmentation, dropout) is seeded by the data position,
                # so a resumed run draws exactly what the unstopped run drew, whatever else used the RNGs.
                key = [config.seed, position.epoch, position.batch, accelerator.process_index]
                augmenter.rng = np.random.default_rng(key)
                torch.manual_seed(int(np.random.SeedSequence(key).generate_state(1)[0]))
                waveforms, masks, captions = augmenter(batch.waveforms, batch.masks, batch.captions, batch.labels)
                inputs = {
                    k: v.to(accelerator.device) for k, v in model_inputs(fe, waveforms, masks, fbank=fbank, frame_multiple=multiple).items()
                }
                with accelerator.accumulate(trainee):
                    pred = trainee(**inputs)
                    losses = target.losses(pred, batch, captions, accelerator.unwrap_model(trainee))
                    accelerator.backward(losses["loss"])
                    if accelerator.sync_gradients:
                        accelerator.clip_grad_norm_(trainee.parameters(), 1.0)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                position.samples += len(batch) * accelerator.num_processes
                for k, v in losses.items():
                    logged.setdefault(k, []).append(float(v.detach()))
                if not accelerator.sync_gradients:
                    continue
                position.step += 1
                bar.update(1)
                if position.step % config.log_every == 0 or position.step == config.max_steps:
                    rate = (position.samples - tic_samples) / max(time.perf_counter() - tic, 1e-9)
                    record = {k: float(np.mean(v)) for k, v in logged.items()} | {"lr": scheduler.get_last_lr()[-1], "samples_per_s": rate}
                    if scale := accelerator.unwrap_model(trainee).logit_scale:
                        record["logit_scale"] = float(scale().detach())
                    accelerator.log(record, step=position.step)
                    if main:
                        _append_log(out, {"step": position.step, "epoch": position.epoch, **record})
                        bar.set_postfix(loss=f"{record['loss']:.4f}")
                    logged, tic, tic_samples = {}, time.perf_counter(), position.samples
                if position.step % config.save_every == 0 or position.step == config.max_steps:
                    _save(accelerator, trainee, out, position, fe, meta, config.keep_checkpoints)
                if position.step >= config.max_steps:
                    break
            else:
                position.epoch, position.batch = position.epoch + 1, 0
                continue
            break
    accelerator.end_training()
    if main and skipped:
        report_skipped(out, skipped, position.skipped)
    return out / ENCODER


def report_skipped(out: Path, skipped: dict[str, str], examples: int) -> None:
    """List the unusable files at the end (and in OUT/skipped.txt): they were left out, not fatal."""
    (out / "skipped.txt").write_text("".join(f"{path}\t{why}\n" for path, why in sorted(skipped.items())))
    log.warning("%d files could not be read and were skipped (%d examples); listed in %s:", len(skipped), examples, out / "skipped.txt")
    for path, why in sorted(skipped.items())[:20]:
        log.warning("  %s: %s", path, why)


class StopRequest:
    """Set by the first Ctrl-C (SIGINT) or SIGTERM; a second one stops at once."""

    requested = False

    def __call__(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


@contextmanager
def stop_on_request(stopped: Callable[[], str]):
    """Ctrl-C or SIGTERM in the loop stops it at the next batch, then raises KeyboardInterrupt(stopped()).

    A KeyboardInterrupt raised wherever the signal lands can be swallowed by a fork hook while the
    loader starts its decoding workers (which get Ctrl-C too and die of it): a traceback about a
    worker that "exited unexpectedly", or a hang. Here the signal only sets a flag, and workers
    forked meanwhile inherit the handler, so they note the request and go on until the loop lets
    them go.
    """
    stop = StopRequest()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
        if stop.requested:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise KeyboardInterrupt(stopped()) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _nothing_readable(out: Path, skipped: dict[str, str], position: Position, *, report: bool) -> PhospheneError:
    """A whole epoch's batches in a row had too few readable clips: list the files and stop, rather than loop forever."""
    if report:  # the main process writes the list
        report_skipped(out, skipped, position.skipped)
    return PhospheneError(
        f"no batch of a whole epoch had enough readable clips to train on: {len(skipped)} files could not be used "
        f"(listed above and in {out / 'skipped.txt'}); fix or remove their rows, then add --resume to start the run again"
    )


def _stopped(out: Path, position: Position) -> str:
    """What Ctrl-C says: the step the run stopped at, the checkpoint it keeps, and how to go on."""
    checkpoint = latest_checkpoint(out)
    kept = f"the newest checkpoint is {checkpoint}" if checkpoint else "no checkpoint was written yet"
    return f"stopped at step {position.step}; {kept}; `python -m training fit --output {out} --resume` continues from it"


def _start(out: Path, config: FitConfig) -> None:
    """The run's folder and its settings (OUT/fit.json): what --resume continues with. fit() checked the folder first."""
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILE).write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")


def latest_checkpoint(out: Path) -> Path | None:
    done = sorted(p for p in (Path(out) / CHECKPOINTS).glob("step-*") if (p / STATE_FILE).exists())
    return done[-1] if done else None


def _restore(accelerator, out: Path) -> Position:
    checkpoint = latest_checkpoint(out)
    if checkpoint is None:
        log.info("--resume: no checkpoint in %s yet; starting from step 0", out)
        return Position()
    accelerator.load_state(str(checkpoint))
    position = Position(**json.loads((checkpoint / STATE_FILE).read_text()))
    log.info("resumed from %s: step %d, epoch %d, batch %d", checkpoint.name, position.step, position.epoch, position.batch)
    if accelerator.is_main_process:
        _truncate_log(out, position.step)
    return position


def _save(accelerator, trainee, out: Path, position: Position, fe, meta, keep: int) -> None:
    """Write checkpoints/step-N atomically (temporary folder, then rename), then point encoder/ at it."""
    from live.models.audio_prompt import save_encoder

    folder = out / CHECKPOINTS / f"step-{position.step:06d}"
    tmp = folder.with_name(f".{folder.name}.tmp")
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        encoder = accelerator.unwrap_model(trainee).encoder
        save_encoder(encoder, fe, meta, tmp / ENCODER)
        (tmp / STATE_FILE).write_text(json.dumps(dataclasses.asdict(position)) + "\n")
        _fsync_tree(tmp)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
        _publish_encoder(out, folder / ENCODER)
        for old in sorted(p for p in (out / CHECKPOINTS).glob("step-*") if p != folder)[: -keep or None] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _publish_encoder(out: Path, source: Path) -> None:
    """Copy the newest encoder to OUT/encoder: a temporary copy renamed into place."""
    target, tmp, old = out / ENCODER, out / f".{ENCODER}.tmp", out / f".{ENCODER}.old"
    for leftover in (tmp, old):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(source, tmp)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def _append_log(out: Path, record: dict) -> None:
    with open(out / LOG_FILE, "a") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_log(out: Path, step: int) -> None:
    """Drop log lines after the checkpoint being resumed: those steps are run again."""
    path = out / LOG_FILE
    if path.exists():
        lines = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in lines))
