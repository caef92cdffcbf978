"""`python -m export bench`: milliseconds per window for every backend available here.

Models: the full-size w2v-bert-2.0 + audio2img's 2-layer adapter (built from its config with random
weights: no download; exported once to a temporary folder, with external data) and `tiny`. Windows
of 1, 2 and 3.76 s, batch 1, real music. Backends: torch eager fp32, torch bf16 (CPU), ONNX Runtime
on the CPU with an explicit intra_op_num_threads; on a CUDA machine also torch fp16 and ONNX Runtime
CUDA (when onnxruntime-gpu is installed). Times are medians; ratios are to torch eager fp32 of the
same model and window, the figure that travels between machines.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from live.core.defaults import SAMPLE_RATE

WINDOWS_S = (1.0, 2.0, 3.76)


def full_size_encoder():
    """w2v-bert-2.0's architecture (Wav2Vec2BertConfig defaults) with audio2img's adapter, random weights."""
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    from live.models.encoder import AUDIO2IMG_MAX_FRAMES, TorchEncoder, audio2img_meta

    torch.manual_seed(0)
    config = Wav2Vec2BertConfig(add_adapter=True, adapter_kernel_size=3, adapter_stride=2, num_adapter_layers=2)
    model = Wav2Vec2BertModel(config).eval()
    fe = SeamlessM4TFeatureExtractor(stride=2)
    return TorchEncoder(
        "w2v-bert-2.0+adapter (random)", audio2img_meta(config), model, fe, torch.device("cpu"), torch.float32, AUDIO2IMG_MAX_FRAMES
    )


def time_ms(encode, waves: np.ndarray, repeat: int) -> float:
    encode(waves)  # warm-up: allocations, ORT's first-run graph work, oneDNN primitive caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = encode(waves)
        if isinstance(out, torch.Tensor) and out.is_cuda:
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def backends(encoder, export_dir: Path, threads: int):
    """(label, encode) for each backend this machine has, torch eager fp32 first."""
    import copy

    from live.models.runtimes import OnnxEncoder

    yield "torch eager fp32", encoder.encode
    bf16 = replace(encoder, model=copy.deepcopy(encoder.model).to(torch.bfloat16), dtype=torch.bfloat16)
    yield "torch bf16 (CPU)", bf16.encode
    del bf16
    onnx_cpu = OnnxEncoder.load(export_dir, device=torch.device("cpu"), threads=threads)
    yield f"onnx CPU ({threads} threads)", onnx_cpu.encode
    del onnx_cpu
    if torch.cuda.is_available():
        cuda = replace(
            encoder,
            model=copy.deepcopy(encoder.model).to("cuda", torch.float16),
            device=torch.device("cuda"),
            dtype=torch.float16,
            fbank=None,
        )
        yield "torch CUDA fp16", cuda.encode
        del cuda
        onnx_cuda = OnnxEncoder.load(export_dir, device=torch.device("cuda"))
        if onnx_cuda.providers[0] == "CUDAExecutionProvider":
            yield "onnx CUDA", onnx_cuda.encode


def bench(models: list[str], *, repeat: int = 3, threads: int = 2) -> list[dict]:
    from export.onnx import export_encoder, tensors_sha256
    from export.verify import music_16k
    from live.models.encoder import load_torch_encoder

    music = music_16k()
    rows = []
    for name in models:
        encoder = full_size_encoder() if name == "full" else load_torch_encoder("tiny")
        label = "w2v-bert-2.0 + adapter" if name == "full" else "tiny"
        with tempfile.TemporaryDirectory(prefix="phosphene-bench-") as tmp:
            started = time.perf_counter()
            export_dir = export_encoder(encoder, Path(tmp) / "onnx", source=label, weights_sha256=tensors_sha256(encoder.model))
            print(f"# exported {label} in {time.perf_counter() - started:.0f} s", flush=True)
            base = {}
            for backend, encode in backends(encoder, export_dir, threads):
                for window_s in WINDOWS_S:
                    waves = music[None, 8000 : 8000 + round(window_s * SAMPLE_RATE)]  # (1, S)
                    ms = time_ms(encode, waves, repeat)
                    base.setdefault(window_s, ms)
                    rows.append({"model": label, "backend": backend, "window_s": window_s, "ms": ms, "ratio": ms / base[window_s]})
                    print(f"# {label:<24} {backend:<22} {window_s:>5.2f} s  {ms:9.1f} ms  x{ms / base[window_s]:.2f}", flush=True)
        del encoder
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"\n| model | backend | {' | '.join(f'{w:g} s window' for w in WINDOWS_S)} |")
    print(f"|---|---|{'---|' * len(WINDOWS_S)}")
    keys = list(dict.fromkeys((r["model"], r["backend"]) for r in rows))
    for model, backend in keys:
        cells = [next(r for r in rows if (r["model"], r["backend"], r["window_s"]) == (model, backend, w)) for w in WINDOWS_S]
        text = " | ".join(f"{c['ms']:.1f} ms (x{c['ratio']:.2f})" for c in cells)
        print(f"| {model} | {backend} | {text} |")
