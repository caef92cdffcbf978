"""`python -m export onnx`: the encoder as one ONNX graph, waveforms (B, S) -> tokens (B, T, D).

An image-space encoder (`fit --target clip-image`, Wav2CLIP's road) exports the same way: its one
token is the CLIP image embedding, (B, 1, P); export.json records `target` and `clip`.

The fbank (live/models/fbank.py) is inside the graph, so a runtime needs nothing but ONNX Runtime or
TensorRT. The legacy TorchScript exporter (`dynamo=False`, opset 17) is the one that handles
Wav2Vec2Bert with dynamic batch and sample axes (DESIGN.md). Output folder:

    model.onnx            the graph (weights inline, or in model.onnx.data when over 2 GB)
    model.onnx.data       external weights, full-size models only
    export.json           sample rate, window, L, D, prepend_bos, text space, source and its weights'
                          sha256, opset, fp16, versions, and each file's size and sha256

Imported by the `onnx`, `verify` and `bench` commands only (it imports torch).
Everything is written to a hidden temporary folder beside the output and renamed at the end, so a
failed export leaves nothing behind.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from live.core.errors import PhospheneError
from live.models.hashing import file_sha256, files_sha256

log = logging.getLogger("phosphene")

OPSET = 17  # what DESIGN.md found to work for Wav2Vec2Bert with the legacy exporter
PROTOBUF_LIMIT = 2_000_000_000  # a protobuf holds at most 2 GiB; leave room for the graph itself
TRACE_SAMPLES = 40_000  # 2.5 s: any length works, the axes are dynamic
EXTERNAL_DATA = "model.onnx.data"


def check_output_folder(out: Path) -> Path:
    """-o names the export's folder: a new one, or an empty one (model.onnx and export.json go inside)."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise PhospheneError(
            f"-o {out} is a file: an export is a folder (model.onnx + export.json); give a new folder, e.g. -o {out.with_suffix('')}-onnx"
        )
    if out.is_dir() and any(out.iterdir()):
        raise PhospheneError(f"-o {out}: the folder exists and is not empty; give a new folder, or remove this one first")
    if not out.parent.is_dir():
        raise PhospheneError(f"-o {out}: folder {out.parent} does not exist; create it first (mkdir -p {out.parent}) or choose another -o")
    return out


def export_onnx(encoder_name: str, out: Path, *, fp16: bool = False, opset: int = OPSET) -> Path:
    """Load `encoder_name` (hub id, folder or tiny) in torch and export it to the folder `out`."""
    from live.models.encoder import load_torch_encoder
    from live.models.runtimes import find_export, read_export

    out = check_output_folder(out)
    if not 14 <= opset <= 20:
        raise PhospheneError(f"--opset {opset}: the exporter here supports 14-20; 17 is tested")
    export = find_export(encoder_name)
    if export is not None:
        source = read_export(export, hashes=False).get("source")
        raise PhospheneError(f"--encoder {encoder_name} is already an ONNX export; give the checkpoint it came from: --encoder {source}")
    encoder = load_torch_encoder(encoder_name, device="cpu", dtype=torch.float32)
    source = str(Path(encoder_name).expanduser().resolve()) if Path(encoder_name).expanduser().is_dir() else encoder_name
    return export_encoder(encoder, out, source=source, weights_sha256=weights_sha256(encoder_name, encoder.model), fp16=fp16, opset=opset)


def export_encoder(encoder, out: Path, *, source: str, weights_sha256: str, fp16: bool = False, opset: int = OPSET) -> Path:
    """Export a loaded TorchEncoder (also used by the benchmark on a random full-size model)."""
    out = check_output_folder(out)
    dtype = torch.float16 if fp16 else torch.float32
    graph = swap_attention(encoder.graph(dtype).eval())
    n_bytes = sum(p.numel() * p.element_size() for p in graph.parameters())
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        scratch = tmp / "scratch"
        scratch.mkdir()
        waveforms = torch.randn(2, TRACE_SAMPLES) * 0.1
        log.info("exporting '%s' (%.0f MB of weights, %s) to ONNX opset %d", encoder.name, n_bytes / 1e6, "fp16" if fp16 else "fp32", opset)
        fastpath = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)  # nn.MultiheadAttention's fused kernel has no ONNX form (own head)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # TracerWarnings about shape-dependent Python ints the graph does not use
            torch.onnx.export(
                graph,
                (waveforms,),
                str(scratch / "model.onnx"),
                dynamo=False,
                opset_version=opset,
                input_names=["waveforms"],
                output_names=["tokens"],
                dynamic_axes={"waveforms": {0: "batch", 1: "samples"}, "tokens": {0: "batch", 1: "tokens"}},
                do_constant_folding=True,
            )
        torch.backends.mha.set_fastpath_enabled(fastpath)
        external = n_bytes > PROTOBUF_LIMIT or len(list(scratch.iterdir())) > 1
        final = tmp / "final"
        final.mkdir()
        save_model(scratch / "model.onnx", final / "model.onnx", external=external)
        shutil.rmtree(scratch)
        files = sorted(final.iterdir())
        info = export_info(encoder, source=source, weights_sha256=weights_sha256, fp16=fp16, opset=opset, external=external)
        info["files"] = {f.name: {"bytes": f.stat().st_size, "sha256": file_sha256(f)} for f in files}
        (final / "export.json").write_text(json.dumps(info, indent=2) + "\n")
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(final, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote %s (%s)", out, ", ".join(f"{f.name} {f.stat().st_size / 1e6:.1f} MB" for f in sorted(out.iterdir())))
    return out


class ExportableAttention(torch.nn.Module):
    """nn.MultiheadAttention (batch_first, no masks, as the own format's token head uses it) in
    plain ops: the legacy tracer bakes the key length and batch of nn.MultiheadAttention's
    reshapes into the graph, which then fails on any other window length or batch."""

    def __init__(self, mha):
        super().__init__()
        if not mha.batch_first or mha.bias_k is not None or not mha._qkv_same_embed_dim:
            raise ValueError("ExportableAttention covers batch_first attention with packed in-projection only")
        self.mha = mha
        self.batch_first = True  # nn.TransformerDecoder reads it

    def forward(self, query, key, value, attn_mask=None, key_padding_mask=None, need_weights=False, is_causal=False):
        if attn_mask is not None or key_padding_mask is not None:
            raise ValueError("ExportableAttention takes no masks")
        m = self.mha
        w_q, w_k, w_v = m.in_proj_weight.chunk(3)
        b_q, b_k, b_v = m.in_proj_bias.chunk(3) if m.in_proj_bias is not None else (None, None, None)
        heads = m.num_heads

        def split(x, w, b):  # (B, N, D) -> (B, heads, N, D / heads)
            x = torch.nn.functional.linear(x, w, b)
            return x.reshape(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)

        q, k, v = split(query, w_q, b_q), split(key, w_k, b_k), split(value, w_v, b_v)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v)  # (B, heads, L, D / heads)
        out = out.transpose(1, 2).reshape(query.shape[0], query.shape[1], -1)  # (B, L, D)
        return m.out_proj(out), None


def swap_attention(module):
    """Replace every nn.MultiheadAttention in `module` by its exportable twin (same weights)."""
    for name, child in list(module.named_children()):
        if isinstance(child, torch.nn.MultiheadAttention):
            setattr(module, name, ExportableAttention(child))
        else:
            swap_attention(child)
    return module


def save_model(src: Path, dst: Path, *, external: bool) -> None:
    """Check the graph, and store big weights in one external file instead of one file per tensor."""
    import onnx

    if not external:
        onnx.checker.check_model(str(src))
        shutil.move(src, dst)
        return
    model = onnx.load(str(src), load_external_data=True)
    onnx.save_model(model, str(dst), save_as_external_data=True, all_tensors_to_one_file=True, location=EXTERNAL_DATA, size_threshold=1024)
    del model
    onnx.checker.check_model(str(dst))  # by path: works past the 2 GB protobuf limit


def export_info(encoder, *, source: str, weights_sha256: str, fp16: bool, opset: int, external: bool) -> dict:
    import onnx
    import onnxruntime
    import transformers

    from live.models.runtimes import EXPORT_FORMAT

    meta = encoder.meta
    return {
        "format": EXPORT_FORMAT,
        "version": 1,
        "sample_rate": meta.sample_rate,  # Hz of the waveforms the graph takes
        "window_s": meta.window_s,  # the window the encoder was trained on
        "tokens": meta.tokens,  # L
        "width": meta.width,  # D: must equal the diffusion model's text width
        "prepend_bos": meta.prepend_bos,
        "text_encoder": meta.text_encoder,
        "target": meta.target,  # text: L x D tokens in a text space; clip-image: one CLIP image embedding (L = 1, D its width)
        "clip": meta.clip,  # clip-image: the CLIP model whose image space the embedding is in (None for text)
        "min_frames": encoder.min_frames,  # fbank frames short windows are zero-padded to (audio2img: 375 -> 376)
        "source": source,  # the checkpoint: hub id, absolute folder, or tiny
        "source_format": "own" if type(encoder.model).__name__ == "AudioPromptEncoder" else "audio2img",
        "weights_sha256": weights_sha256,
        "inputs": {"waveforms": ["batch", "samples"]},  # float32 at sample_rate
        "outputs": {"tokens": ["batch", "tokens", "width"]},  # float32 (fp16 compute when fp16); clip-image: tokens = 1, the image embedding
        "opset": opset,
        "fp16": fp16,
        "external_data": external,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def weights_sha256(name: str, model) -> str:
    """sha256 of the checkpoint's weight files; for `tiny` (no files), of its tensors' bytes."""
    from live.core.defaults import TINY
    from live.models.loading import resolve_folder

    if name != TINY:
        folder = resolve_folder(name, "encoder")
        files = [p for p in folder.glob("*.safetensors")] + [p for p in folder.glob("*.safetensors.index.json")]
        if files:
            return files_sha256(files)
    return tensors_sha256(model)


def tensors_sha256(model) -> str:
    import hashlib

    h = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
