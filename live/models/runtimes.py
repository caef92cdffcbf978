"""The exported encoder's runtimes: the export-folder format (`model.onnx` + `export.json`, written
by `python -m export onnx`), ONNX Runtime, and TensorRT engines built by `python -m export trt`.

    OnnxEncoder.load(folder).encode(waveforms)      float32 (B, S) at 16 kHz -> (B, T, D)
    load_tensorrt_encoder(engine_or_folder, ...)    the same interface, CUDA only
    pick_backend(name, device)                      `auto`: tensorrt > onnx > torch, by what exists

The TensorRT path cannot run on the development and CI machines (no GPU): it is kept small.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from live.core.defaults import SAMPLE_RATE
from live.core.errors import PhospheneError
from live.models.audio_prompt import EncoderMeta
from live.models.hashing import export_sha256, known_sha256
from live.models.loading import EXPORT_FILE, first_line

# EXPORT_FILE (export.json, beside model.onnx: what the graph is and where it came from) is named in loading.py
EXPORT_FORMAT = "phosphene-encoder-export"
ENGINE_FORMAT = "phosphene-trt-engine"


def find_export(name: str) -> Path | None:
    """The export folder for `name`: `name` itself, or an `onnx/` folder inside a local checkpoint."""
    path = Path(name).expanduser()
    for folder in (path, path / "onnx"):
        if folder.is_dir() and (folder / EXPORT_FILE).exists():
            return folder
    return None


def read_export(folder: Path, *, hashes: bool = True) -> dict:
    """export.json, checked: the format, the sample rate, and that the files it lists are whole: their
    sizes, and with `hashes` their sha256 (what `python -m export verify` checks; each version of a
    file is hashed once, then the digest is read from the user's cache: live.models.hashing)."""
    folder = Path(folder)
    meta_file = folder / EXPORT_FILE
    if not folder.is_dir() or not meta_file.exists():
        if folder.is_file():
            what = "is a file, not an export folder"
        elif not folder.exists():
            what = "does not exist"
        else:
            what = f"has no {EXPORT_FILE}: it is not an ONNX export"
        fix = f"python -m export onnx --encoder {folder} -o NEW_FOLDER" if (folder / "config.json").is_file() else "python -m export onnx --encoder CHECKPOINT -o DIR"
        raise PhospheneError(f"{folder} {what}; give a folder written by `python -m export onnx` (make one: {fix})")
    try:
        info = json.loads(meta_file.read_text())
    except (OSError, ValueError) as e:
        raise PhospheneError(f"{meta_file}: unreadable ({first_line(e)}); re-run `python -m export onnx`") from None
    if not isinstance(info, dict) or info.get("format") != EXPORT_FORMAT:
        raise PhospheneError(f"{meta_file} is not a Phosphene export (format {info.get('format') if isinstance(info, dict) else None!r})")
    missing = [k for k in ("sample_rate", "tokens", "width", "window_s", "prepend_bos", "text_encoder", "files", "source") if k not in info]
    if missing:
        raise PhospheneError(f"{meta_file} lacks {', '.join(missing)}; re-run `python -m export onnx`")
    if info["sample_rate"] != SAMPLE_RATE:
        raise PhospheneError(f"{meta_file}: the graph expects {info['sample_rate']} Hz audio; Phosphene feeds {SAMPLE_RATE} Hz")
    for file, stated in info["files"].items():
        path = folder / file
        if not path.is_file():
            raise PhospheneError(f"export '{folder}' is missing {file}: copy the whole export folder")
        size = path.stat().st_size
        if size != stated["bytes"]:
            raise PhospheneError(
                f"export '{folder}': {file} is {size} bytes but {EXPORT_FILE} says {stated['bytes']} "
                "(truncated or replaced); copy it again or re-run `python -m export onnx`"
            )
    if hashes:
        for file, stated in info["files"].items():
            if known_sha256(folder / file) != stated.get("sha256"):
                raise PhospheneError(
                    f"export '{folder}': {file} does not match its sha256 in {EXPORT_FILE} (corrupted or changed since "
                    f"export, same size); copy the export again, or re-export: python -m export onnx --encoder {info['source']} -o NEW_FOLDER"
                )
    return info


def export_meta(info: dict) -> EncoderMeta:
    return EncoderMeta(
        text_encoder=info["text_encoder"],
        tokens=int(info["tokens"]),
        width=int(info["width"]),
        sample_rate=int(info["sample_rate"]),
        window_s=float(info["window_s"]),
        prepend_bos=bool(info["prepend_bos"]),
        target=info.get("target", "text"),  # exports made before the image road are text-space
        clip=info.get("clip"),
    )


def physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


def default_threads() -> int:
    """ORT's own default swings (0.5-1.3 s for one w2v-bert window here): physical cores, at most 4."""
    return max(1, min(4, physical_cores()))


def onnx_session(model_path: Path, *, device: torch.device, threads: int | None = None):
    """An ONNX Runtime session: CUDA when the device is CUDA and onnxruntime-gpu has it, else CPU."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise PhospheneError("the onnx backend needs onnxruntime: pip install onnxruntime (or onnxruntime-gpu)") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1  # one graph, run op by op: more threads here only contend
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: ORT warns about every unused initializer
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": device.index or 0}))
    try:
        return ort.InferenceSession(str(model_path), options, providers=providers)
    except Exception as e:  # ORT raises its own Fail / InvalidProtobuf / RuntimeException types
        raise PhospheneError(f"{model_path}: ONNX Runtime cannot load it ({first_line(e)}); re-run `python -m export onnx`") from None


@dataclass
class OnnxEncoder:
    name: str
    meta: EncoderMeta
    session: object  # onnxruntime.InferenceSession
    device: torch.device
    info: dict  # export.json
    backend: str = "onnx"

    @classmethod
    def load(cls, folder: Path, *, device="cpu", threads: int | None = None) -> OnnxEncoder:
        folder = Path(folder)
        info = read_export(folder)
        session = onnx_session(folder / "model.onnx", device=torch.device(device), threads=threads)
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if [i.name for i in inputs] != ["waveforms"] or len(inputs[0].shape) != 2 or len(outputs) != 1 or len(outputs[0].shape) != 3:
            raise PhospheneError(f"{folder / 'model.onnx'} is not an encoder graph waveforms (B, S) -> tokens (B, T, D); re-export it")
        width = outputs[0].shape[2]
        if width != info["width"]:
            raise PhospheneError(f"export '{folder}': model.onnx gives width {width} but {EXPORT_FILE} says {info['width']}; re-export it")
        return cls(str(folder), export_meta(info), session, torch.device(device), info)

    def encode(self, waveforms: np.ndarray) -> torch.Tensor:
        """float32 (B, S) at 16 kHz -> float32 (B, T, D) on self.device."""
        waveforms = np.ascontiguousarray(waveforms, dtype=np.float32)
        if waveforms.ndim != 2 or waveforms.shape[1] < 400:
            raise ValueError(f"encode takes (B, S >= 400) waveforms, got shape {waveforms.shape}")
        (tokens,) = self.session.run(["tokens"], {"waveforms": waveforms})
        return torch.from_numpy(tokens).to(self.device)  # (B, T, D)

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()


def find_engine(name: str) -> Path | None:
    """A TensorRT engine for `name`: the file itself, or the newest *.engine in its export folder."""
    path = Path(name).expanduser()
    if path.is_file() and path.suffix in (".engine", ".plan"):
        return path
    folder = find_export(name)
    engines = sorted(folder.glob("*.engine"), key=lambda p: p.stat().st_mtime) if folder else []
    return engines[-1] if engines else None


def tensorrt_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()


def read_engine_meta(engine: Path) -> dict:
    """The engine's metadata JSON, checked against the engine file (and its ONNX export when present)."""
    meta_file = engine.with_name(engine.name + ".json")
    try:
        info = json.loads(meta_file.read_text())
    except (OSError, ValueError) as e:
        raise PhospheneError(f"{meta_file}: unreadable ({first_line(e)}); rebuild with `python -m export trt`") from None
    if info.get("format") != ENGINE_FORMAT:
        raise PhospheneError(f"{meta_file} is not a Phosphene engine description (format {info.get('format')!r})")
    if engine.stat().st_size != info["engine_bytes"]:
        raise PhospheneError(
            f"{engine} is {engine.stat().st_size} bytes but {meta_file.name} says {info['engine_bytes']}: truncated; rebuild it"
        )
    if "engine_sha256" in info and known_sha256(engine) != info["engine_sha256"]:  # engines built before it was recorded have none
        raise PhospheneError(
            f"{engine} does not match its sha256 in {meta_file.name} (corrupted or changed, same size): "
            "rebuild it with `python -m export trt`"
        )
    if info["export"]["sample_rate"] != SAMPLE_RATE:
        raise PhospheneError(f"{meta_file}: the engine expects {info['export']['sample_rate']} Hz audio; Phosphene feeds {SAMPLE_RATE} Hz")
    onnx_dir = Path(info["onnx_dir"])
    if (onnx_dir / EXPORT_FILE).exists():
        if export_sha256(onnx_dir, read_export(onnx_dir, hashes=False)) != info["onnx_sha256"]:
            raise PhospheneError(
                f"{engine} was built from another version of {onnx_dir}/model.onnx: rebuild it with `python -m export trt`"
            )
    return info


@dataclass
class TensorRTEncoder:
    name: str
    meta: EncoderMeta
    engine: object  # tensorrt.ICudaEngine
    context: object  # tensorrt.IExecutionContext
    device: torch.device
    info: dict  # the engine's metadata JSON
    backend: str = "tensorrt"

    def encode(self, waveforms: np.ndarray) -> torch.Tensor:
        """float32 (B, S) at 16 kHz -> float32 (B, T, D) on the GPU."""
        shape = tuple(np.shape(waveforms))
        (b_min, s_min), _, (b_max, s_max) = self.info["shapes"]["waveforms"]
        if len(shape) != 2 or not (b_min <= shape[0] <= b_max and s_min <= shape[1] <= s_max):
            raise PhospheneError(
                f"engine '{self.name}' takes batches {b_min}-{b_max} of {s_min}-{s_max} samples, got {shape}: "
                f"rebuild it with a profile covering this window and batch"
            )
        x = torch.as_tensor(np.ascontiguousarray(waveforms, dtype=np.float32)).to(self.device)  # (B, S)
        self.context.set_input_shape("waveforms", shape)
        out = torch.empty(tuple(self.context.get_tensor_shape("tokens")), dtype=torch.float32, device=self.device)  # (B, T, D)
        self.context.set_tensor_address("waveforms", x.data_ptr())
        self.context.set_tensor_address("tokens", out.data_ptr())
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError(f"TensorRT engine '{self.name}' failed to run on input {shape}")
        stream.synchronize()
        return out


def load_tensorrt_encoder(name: str, *, device: torch.device) -> TensorRTEncoder:
    if not tensorrt_available():
        raise PhospheneError("the tensorrt backend needs the `tensorrt` package and a CUDA GPU; use --encoder-backend onnx or torch")
    engine_path = find_engine(name)
    if engine_path is None:
        raise PhospheneError(
            f"encoder '{name}': no TensorRT engine (*.engine): build one with `python -m export trt --onnx DIR --profile NAME -o ENGINE`"
        )
    info = read_engine_meta(engine_path)
    import tensorrt as trt

    device = device if device.type == "cuda" else torch.device("cuda")
    runtime = trt.Runtime(trt.Logger(trt.Logger.ERROR))
    engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
    if engine is None:
        raise PhospheneError(
            f"{engine_path}: TensorRT cannot deserialize it (corrupt, or built by another TensorRT version or GPU); rebuild it"
        )
    return TensorRTEncoder(str(engine_path), export_meta(info["export"]), engine, engine.create_execution_context(), device, info)


def pick_backend(name: str, device: torch.device) -> str:
    """`auto`: tensorrt if an engine and a GPU are there, onnx if an export is, else torch."""
    import importlib.util

    if device.type == "cuda" and find_engine(name) is not None and tensorrt_available():
        return "tensorrt"
    if find_export(name) is not None and importlib.util.find_spec("onnxruntime") is not None:
        return "onnx"
    return "torch"
