"""`python -m training info NAME`: what a checkpoint folder, hub id or `tiny` declares and what its
model gives; for an ONNX export folder, its export.json (source, text space, graph, opset), the state
of its files' sha256, its TensorRT engines, and the shape its graph gives. Anything else (a file, an
empty folder, a folder of engines, a diffusion model) is one line saying what it is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError
from live.models.loading import EXPORT_FILE, folder_kind

READS = "`training info` reads encoder checkpoints (a folder from `python -m training fit` or `init`, an audio2img hub id or folder, tiny) and ONNX exports"


def info(name: str) -> int:
    path = Path(name).expanduser()
    if path.is_file():
        if path.suffix in (".engine", ".plan"):
            raise PhospheneError(f"{name} is a TensorRT engine ({engine_line(path)}), not a checkpoint; {READS}")
        raise PhospheneError(f"{name} is a file, not a checkpoint folder; {READS}")
    if (path / EXPORT_FILE).is_file():
        return export_info(path)
    kind = folder_kind(path)
    if kind is not None:
        engines = sorted(path.glob("*.engine")) + sorted(path.glob("*.plan"))
        if engines:
            kind = f"a folder of TensorRT engines ({'; '.join(f'{e.name}: {engine_line(e)}' for e in engines)})"
        raise PhospheneError(f"{name} is {kind}, not a checkpoint; {READS}")
    return checkpoint_info(name)


def checkpoint_info(name: str) -> int:
    from live.models.encoder import load_torch_encoder

    enc = load_torch_encoder(name)
    window = np.zeros((1, round(enc.meta.window_s * SAMPLE_RATE)), dtype=np.float32)
    shape = tuple(enc.encode(window).shape)
    params = sum(p.numel() for p in enc.model.parameters())
    m = enc.meta
    print(f"encoder       {name}")
    print(f"format        {'audio2img (no phosphene.json)' if m.prepend_bos else 'phosphene'}")
    print(f"text space    {m.text_encoder}: L={m.tokens}, D={m.width}{' (+ start token prepended)' if m.prepend_bos else ''}")
    print(f"audio         {m.sample_rate} Hz, trained window {m.window_s} s")
    print(f"parameters    {params / 1e6:.2f} M")
    print(f"output        {shape} for one {m.window_s} s window (B, T, D)")
    return 0


def export_info(folder: Path) -> int:
    """The export's manifest and files; a file whose sha256 does not match ends it with that one error."""
    from live.models.hashing import known_sha256
    from live.models.runtimes import OnnxEncoder, read_export

    info = read_export(folder, hashes=False)  # the format, the keys, the sizes: one line if any is wrong
    shape_of = lambda axes: f"({', '.join(axes)})" if isinstance(axes, list) else "?"  # noqa: E731
    print(f"export        {folder}  (an ONNX export, {info.get('created', 'date not recorded')})")
    print(f"source        {info['source']}  ({info.get('source_format', '?')} format; weights sha256 {str(info.get('weights_sha256', '?'))[:16]}...)")
    bos = " (+ start token prepended)" if info["prepend_bos"] else ""
    print(f"text space    {info['text_encoder']}: L={info['tokens']}, D={info['width']}{bos}")
    print(f"audio         {info['sample_rate']} Hz, trained window {info['window_s']} s")
    inputs, outputs = info.get("inputs", {}), info.get("outputs", {})
    graph = ", ".join(f"{k} {shape_of(v)}" for k, v in inputs.items()) + " -> " + ", ".join(f"{k} {shape_of(v)}" for k, v in outputs.items())
    print(f"graph         {graph}; opset {info.get('opset', '?')}, {'fp16' if info.get('fp16') else 'fp32'}")
    bad = []
    for file, stated in sorted(info["files"].items()):
        ok = known_sha256(folder / file) == stated.get("sha256")
        bad += [] if ok else [file]
        print(f"file          {file}  {stated['bytes'] / 1e6:.1f} MB, sha256 {'matches export.json' if ok else 'DOES NOT MATCH export.json'}")
    for engine in sorted(folder.glob("*.engine")):
        print(f"engine        {engine.name}: {engine_line(engine)}")
    versions = info.get("versions", {})
    if versions:
        print(f"made with     {', '.join(f'{k} {v}' for k, v in versions.items())}")
    if bad:
        raise PhospheneError(
            f"export '{folder}': {', '.join(bad)} does not match its sha256 in {EXPORT_FILE} (corrupted or changed since export); "
            f"copy the export again, or re-export: python -m export onnx --encoder {info['source']} -o NEW_FOLDER"
        )
    enc = OnnxEncoder.load(folder, threads=1)
    shape = tuple(enc.encode(np.zeros((1, round(enc.meta.window_s * SAMPLE_RATE)), dtype=np.float32)).shape)
    print(f"output        {shape} for one {enc.meta.window_s} s window (B, T, D), ONNX Runtime on {', '.join(enc.providers)}")
    return 0


def engine_line(engine: Path) -> str:
    """What built a TensorRT engine, in words, from the metadata JSON beside it."""
    try:
        meta = json.loads(engine.with_name(engine.name + ".json").read_text())
        return f"profile {meta['profile']}, TensorRT {meta['tensorrt']} on {meta['gpu']}, built from the export {meta['onnx_dir']}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"no readable {engine.name}.json beside it"
