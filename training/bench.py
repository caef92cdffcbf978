"""`python -m training bench`: training samples per second and peak memory, per model.

Each model is timed in its own process (so each peak is its own): one warm-up step, then `steps`
timed optimiser steps of the real training step (fbank or waveform inputs from real music, forward,
the default loss mix, backward, AdamW). The targets are random tensors of the text width: the
frozen text encoder runs once per caption and is cached, so it is no part of a step's cost.

    tiny            the `fit --weights tiny` model (2-layer w2v-bert, 32 wide) in the tiny text space
    w2v-bert-2.0    full size (580 M + adapter + head, random weights) into a 1024-wide text space
    wav2vec2 / hubert / wavlm   their base sizes, random weights

Peak memory is the process's peak resident set (VmHWM) on the CPU, torch's peak allocation on CUDA.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass

from live.core.defaults import SAMPLE_RATE

MUSIC_SECONDS = 7.0  # pygame's house_lo, decoded once per process


@dataclass
class BenchResult:
    model: str
    parameters_m: float
    batch: int
    window_s: float
    checkpointing: bool
    seconds_per_step: float
    samples_per_s: float
    peak_mib: float
    device: str
    error: str = ""


def run_bench(models: list[str], *, batch_size: int = 4, window_s: float = 4.0, steps: int = 5, checkpointing: bool = False) -> int:
    import sys

    results = []
    for model in models:
        for gc in (False, True) if checkpointing else (False,):
            print(f"timing {model}{' with gradient checkpointing' if gc else ''}: {steps + 1} steps ...", file=sys.stderr, flush=True)
            results.append(_in_child(model, batch_size, window_s, steps, gc))
    print(format_table(results))
    return 0 if all(not r.error for r in results) else 1


def _in_child(model: str, batch_size: int, window_s: float, steps: int, checkpointing: bool) -> BenchResult:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, model, batch_size, window_s, steps, checkpointing))
    process.start()
    process.join()
    if process.exitcode != 0 or queue.empty():
        why = "killed: out of memory?" if process.exitcode and process.exitcode < 0 else f"exit {process.exitcode}"
        return BenchResult(model, 0, batch_size, window_s, checkpointing, 0, 0, 0, "", error=why)
    return queue.get()


def _child(queue, model: str, batch_size: int, window_s: float, steps: int, checkpointing: bool) -> None:
    try:
        queue.put(measure(model, batch_size, window_s, steps, checkpointing))
    except Exception as e:  # reported in the table; the other models still run
        queue.put(BenchResult(model, 0, batch_size, window_s, checkpointing, 0, 0, 0, "", error=f"{type(e).__name__}: {e}"))


def measure(model_name: str, batch_size: int, window_s: float, steps: int, checkpointing: bool) -> BenchResult:
    import torch

    from live.models.fbank import fbank_for
    from live.models.loading import quiet_model_loading
    from training.config import FitConfig
    from training.fit import Trainee, caption_ids, compute_losses
    from training.model import build_encoder, frame_multiple, model_inputs

    quiet_model_loading()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tiny = model_name == "tiny"
    width = 32 if tiny else 1024
    head = {"head_layers": 1, "head_heads": 2} if tiny else {}
    encoder, fe = build_encoder("w2v-bert-2.0" if tiny else model_name, width=width, weights="tiny" if tiny else "random", **head)
    if checkpointing:
        encoder.activation_checkpointing_enable()
    trainee = Trainee(encoder, clap=True).to(device).train()
    fbank = fbank_for(fe).to(device) if type(fe).__name__ == "SeamlessM4TFeatureExtractor" else None
    optimizer = torch.optim.AdamW(trainee.parameters(), lr=1e-5)
    config = FitConfig()

    waveforms, masks = _music_windows(batch_size, window_s)
    captions = [f"caption {i}" for i in range(batch_size)]
    ids = caption_ids(captions).to(device)
    torch.manual_seed(0)
    targets = torch.randn(batch_size, config.tokens, width, device=device)

    def step():
        inputs = {
            k: v.to(device) for k, v in model_inputs(fe, waveforms, masks, fbank=fbank, frame_multiple=frame_multiple(encoder)).items()
        }
        losses = compute_losses(trainee(**inputs), targets, ids, trainee, config)
        losses["loss"].backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up: allocations, optimiser state
    start = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = (time.perf_counter() - start) / steps
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else _vm_hwm_mib()
    params = sum(p.numel() for p in trainee.parameters()) / 1e6
    return BenchResult(model_name, params, batch_size, window_s, checkpointing, per_step, batch_size / per_step, peak, device.type)


def _music_windows(batch_size: int, window_s: float):
    """(B, S) windows of real music (house_lo, looped where a window runs past its end) and full masks."""
    import os
    from pathlib import Path

    import numpy as np
    import torch

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    from live.audio.decode import open_segment, stream

    music = np.concatenate(list(stream(open_segment(Path(pygame.__file__).parent / "examples/data/house_lo.ogg"), sr=SAMPLE_RATE)))[:, 0]
    length = round(window_s * SAMPLE_RATE)
    starts = np.linspace(0, len(music), batch_size, endpoint=False).astype(int)
    windows = np.stack([np.resize(np.roll(music, -s), length) for s in starts]).astype(np.float32)
    return torch.from_numpy(windows), torch.ones(windows.shape, dtype=torch.bool)


def _vm_hwm_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _row(r: BenchResult) -> str:
    if r.error:
        return f"| {r.model} | | {r.batch} x {r.window_s:g} s | {'yes' if r.checkpointing else 'no'} | failed: {r.error} | | |"
    return (
        f"| {r.model} | {r.parameters_m:.1f} M | {r.batch} x {r.window_s:g} s | {'yes' if r.checkpointing else 'no'} | "
        f"{r.seconds_per_step:.2f} s | {r.samples_per_s:.2f} | {r.peak_mib:.0f} MiB ({r.device}) |"
    )


def format_table(results: list[BenchResult]) -> str:
    head = "| model | parameters | batch | checkpointing | time per step | samples/s | peak memory |\n|---|---:|---|---|---:|---:|---:|"
    return "\n".join([head, *(_row(r) for r in results)])
