"""The audio encoder: 16 kHz waveforms in, tokens in the diffusion model's text space out.

    encode(waveforms: float32 (B, S) at 16 kHz) -> (B, T, D)

Two checkpoint formats load behind that one interface:

- **audio2img** (`youzarsif/wav2vec2bert_2_diffusion`): a plain `Wav2Vec2BertModel` with a 2-layer
  stride-2 adapter. It gives T = 47 tokens for a 3.76 s window, the SD 2.1 text encoder's hidden
  states with the start token dropped; `meta.prepend_bos` tells the conditioning stage to put the
  start-token embedding of the empty prompt back in front, as its authors do.
- **own** (`training/model.py`): HF layout plus `phosphene.json` naming the text space (model id,
  L, D); it yields the whole L x D prompt.

Three backends give that `encode` (and `.meta`, `.name`):

- `TorchEncoder`: the checkpoint in torch. Its fbank features come from `live.fbank.Fbank` on the
  model's device (transformers' numpy extractor only for backbones that take raw waveforms).
- `OnnxEncoder`: an export folder (`model.onnx` + `export.json`, written by `python -m export onnx`)
  in ONNX Runtime, on CUDA when onnxruntime-gpu sees one, else on the CPU with an explicit thread count.
- `TensorRTEncoder`: an engine built by `python -m export trt`, beside its `.json` metadata.

`load_encoder(name, backend=...)` picks one; `auto` takes the fastest one available for `name`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from live.defaults import DEFAULT_ENCODER  # noqa: F401 (re-exported)
from live.errors import PhospheneError
from live.models import TINY, TINY_NOTICE, TINY_WIDTH, first_line, load_errors, require_files, resolve_folder
from training.model import META_FILE, AudioPromptEncoder, EncoderMeta, tiny_backbone_config

log = logging.getLogger("phosphene")

SAMPLE_RATE = 16_000
AUDIO2IMG_WINDOW_S = 3.76  # 375 fbank frames (padded to 376 = 188 x 2): what audio2img trained on
AUDIO2IMG_MAX_FRAMES = 375  # its feature extractor call: padding="max_length", max_length=375
FBANK_HOP = 160  # samples per fbank frame at 16 kHz (10 ms)


@dataclass
class TorchEncoder:
    name: str
    meta: EncoderMeta
    model: torch.nn.Module
    feature_extractor: object
    device: torch.device
    dtype: torch.dtype
    min_frames: int = 0  # pad fbank frames up to this (audio2img pads every clip to 375)
    fbank: torch.nn.Module | None = None  # built from feature_extractor when it is an fbank extractor
    backend: str = "torch"

    def __post_init__(self):
        from live.fbank import fbank_for

        self.device = torch.device(self.device)
        if self.fbank is None and type(self.feature_extractor).__name__ == "SeamlessM4TFeatureExtractor":
            self.fbank = fbank_for(self.feature_extractor, min_frames=self.min_frames)
        if self.fbank is not None:
            self.fbank = self.fbank.to(self.device)  # stays float32: a float16 power spectrum overflows

    @torch.inference_mode()
    def encode(self, waveforms: np.ndarray) -> torch.Tensor:
        """float32 (B, S) at 16 kHz -> (B, T, D) on self.device."""
        waveforms = np.asarray(waveforms, dtype=np.float32)
        if waveforms.ndim != 2:
            raise ValueError(f"encode takes (B, S) waveforms, got shape {waveforms.shape}")
        if self.fbank is not None:
            features = self.fbank(torch.from_numpy(waveforms).to(self.device))  # (B, F2, 160) float32
            return self.model(input_features=features.to(self.dtype)).last_hidden_state  # (B, T, D)
        return self.model(**self.extract(waveforms)).last_hidden_state  # (B, T, D)

    def extract(self, waveforms: np.ndarray) -> dict[str, torch.Tensor]:
        """transformers' numpy extractor: the reference Fbank is tested against, and the path for
        backbones that take raw waveforms (wav2vec2, HuBERT, WavLM)."""
        kwargs = {"padding": True}
        frames = 1 + (waveforms.shape[1] - 400) // FBANK_HOP  # Kaldi fbank, 25 ms window, 10 ms hop
        if self.min_frames and frames < self.min_frames:
            kwargs = {"padding": "max_length", "max_length": self.min_frames}
        inputs = self.feature_extractor(list(waveforms), sampling_rate=SAMPLE_RATE, return_tensors="pt", **kwargs)
        inputs = {k: v.to(self.device) for k, v in inputs.items() if k in ("input_features", "input_values")}
        return {k: v.to(self.dtype) if v.is_floating_point() else v for k, v in inputs.items()}

    def graph(self, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
        """waveforms (B, S) float32 -> tokens (B, T, D) float32 as one module, for the exporters."""
        if self.fbank is None:
            raise PhospheneError(
                f"encoder '{self.name}': its backbone takes raw waveforms ({type(self.feature_extractor).__name__}); "
                "only fbank (w2v-bert) encoders can be exported"
            )
        return EncoderGraph(self.fbank.cpu(), self.model.cpu().to(dtype), dtype)


class EncoderGraph(torch.nn.Module):
    """The exported computation: fbank in float32, the model in `dtype`, tokens out in float32."""

    def __init__(self, fbank: torch.nn.Module, model: torch.nn.Module, dtype: torch.dtype):
        super().__init__()
        self.fbank, self.model, self.dtype = fbank, model, dtype

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        features = self.fbank(waveforms).to(self.dtype)  # (B, F2, 160)
        return self.model(input_features=features).last_hidden_state.float()  # (B, T, D)


BACKENDS = ("torch", "onnx", "tensorrt", "auto")


def load_encoder(name: str, *, device="cpu", dtype=torch.float32, backend: str = "torch", threads: int | None = None):
    """An encoder by hub id, local folder, `tiny` (an audio2img-shaped model with random weights),
    export folder (has export.json) or TensorRT engine file, run by `backend`:

    torch     the checkpoint (for an export folder: the checkpoint it was exported from)
    onnx      ONNX Runtime on an export folder (`name` itself, or `name`/onnx/)
    tensorrt  a TensorRT engine (`name` itself, or an engine in the export folder), CUDA only
    auto      the fastest one available: tensorrt, then onnx (only where an export exists), then torch

    `threads` sets ONNX Runtime's intra_op_num_threads on the CPU (default: physical cores, at most 4).
    Every check that can fail (missing, truncated or mismatched files) runs here, at start-up.
    """
    from live.logs import quiet_model_loading

    quiet_model_loading()
    if backend not in BACKENDS:
        raise PhospheneError(f"encoder backend '{backend}': choose one of {', '.join(BACKENDS)}")
    device = torch.device(device)
    if backend == "auto":
        backend = pick_backend(name, device)
        log.info("encoder '%s': backend %s", name, backend)
    if backend == "tensorrt":
        return load_tensorrt_encoder(name, device=device)
    if backend == "onnx":
        folder = find_export(name)
        if folder is None:
            raise PhospheneError(
                f"encoder '{name}' has no ONNX export (a folder with {EXPORT_FILE}): run "
                f"`python -m export onnx --encoder {name} -o DIR` and pass --encoder DIR"
            )
        return OnnxEncoder.load(folder, device=device, threads=threads)
    export = find_export(name)
    if export is not None and Path(name).is_dir() and (Path(name) / EXPORT_FILE).exists():
        name = read_export(export)["source"]  # torch on an export folder: the checkpoint it came from
    return load_torch_encoder(name, device=device, dtype=dtype)


def load_torch_encoder(name: str, *, device="cpu", dtype=torch.float32) -> TorchEncoder:
    """The torch backend: a checkpoint by hub id, local folder or `tiny`."""
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

    if name == TINY:
        log.warning(TINY_NOTICE.format(what="encoder"))
        model, fe, meta = tiny_audio2img_encoder()
        return TorchEncoder(name, meta, model.to(device, dtype).eval(), fe, torch.device(device), dtype, AUDIO2IMG_MAX_FRAMES)

    folder = resolve_folder(name, "encoder", ["*.json", "*.safetensors"])
    if not (folder / "config.json").exists() and (folder / "encoder" / "config.json").exists():
        folder = folder / "encoder"  # a training run's output folder: its newest encoder
    require_files(
        folder,
        "encoder",
        {
            "config.json": ["config.json"],
            "model.safetensors": ["model.safetensors", "model.safetensors.index.json"],
            "preprocessor_config.json": ["preprocessor_config.json"],
        },
    )
    try:
        config = json.loads((folder / "config.json").read_text())
        if (folder / META_FILE).exists():
            meta = EncoderMeta.load(folder)
            model = AudioPromptEncoder.from_pretrained(folder, use_safetensors=True, dtype=dtype)
            from transformers import AutoFeatureExtractor

            fe = AutoFeatureExtractor.from_pretrained(folder)
            min_frames = 0
        elif config.get("model_type") == "wav2vec2-bert":
            model = Wav2Vec2BertModel.from_pretrained(folder, use_safetensors=True, dtype=dtype)
            fe = SeamlessM4TFeatureExtractor.from_pretrained(folder, stride=2)  # as audio2img's app does
            meta = audio2img_meta(model.config)
            min_frames = AUDIO2IMG_MAX_FRAMES
        else:
            raise PhospheneError(
                f"encoder '{name}': {folder} has no {META_FILE} and is not a Wav2Vec2Bert (audio2img) "
                f"checkpoint (model_type {config.get('model_type')!r}); train one with `python -m training fit`"
            )
    except PhospheneError:
        raise
    except load_errors() as e:
        raise PhospheneError(f"encoder '{name}' could not be loaded from {folder}: {first_line(e)}") from None
    if meta.sample_rate != SAMPLE_RATE:
        raise PhospheneError(f"encoder '{name}' expects {meta.sample_rate} Hz audio; Phosphene feeds {SAMPLE_RATE} Hz")
    width = model_width(model)
    if width != meta.width:
        raise PhospheneError(f"encoder '{name}': {META_FILE} says width {meta.width} but the model gives {width}")
    return TorchEncoder(name, meta, model.to(device).eval(), fe, torch.device(device), dtype, min_frames)


def model_width(model) -> int:
    c = model.config
    return int(c.width if hasattr(c, "num_tokens") else (c.output_hidden_size or c.hidden_size))


def audio2img_meta(config) -> EncoderMeta:
    """audio2img checkpoints carry no metadata: these are the facts of how they were trained."""
    return EncoderMeta(
        text_encoder="stabilityai/stable-diffusion-2-1",  # SD 2.1's text encoder; sd-turbo shares it
        tokens=47,
        width=int(config.output_hidden_size or config.hidden_size),
        window_s=AUDIO2IMG_WINDOW_S,
        prepend_bos=True,
    )


def tiny_audio2img_encoder():
    """A seeded w2v-bert with audio2img's adapter, TINY_WIDTH wide, and its feature extractor."""
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    torch.manual_seed(0)
    model = Wav2Vec2BertModel(Wav2Vec2BertConfig(**tiny_backbone_config(TINY_WIDTH)))
    fe = SeamlessM4TFeatureExtractor(stride=2)
    return model, fe, EncoderMeta(text_encoder=TINY, tokens=47, width=TINY_WIDTH, prepend_bos=True)


def tiny_own_encoder(tokens: int = 77):
    """A seeded own-format encoder (tiny backbone + token head) in the tiny text space."""
    from transformers import SeamlessM4TFeatureExtractor

    from training.model import AudioPromptConfig

    torch.manual_seed(0)
    config = AudioPromptConfig(backbone=tiny_backbone_config(TINY_WIDTH), num_tokens=tokens, width=TINY_WIDTH, head_layers=1, head_heads=2)
    model = AudioPromptEncoder(config)
    fe = SeamlessM4TFeatureExtractor(stride=2)
    return model, fe, EncoderMeta(text_encoder=TINY, tokens=tokens, width=TINY_WIDTH)


def check_width(encoder: TorchEncoder, diffusion_name: str, diffusion_width: int) -> None:
    """Refuse, at start-up, tokens of a width the diffusion model cannot take."""
    if encoder.meta.width != diffusion_width:
        raise PhospheneError(
            f"encoder '{encoder.name}' gives {encoder.meta.width}-wide tokens (trained against "
            f"'{encoder.meta.text_encoder}') but diffusion model '{diffusion_name}' takes {diffusion_width}: "
            f"use an encoder trained for that model's text space, or a diffusion model of width {encoder.meta.width}"
        )
    if encoder.meta.text_encoder not in (diffusion_name, TINY) and diffusion_name != TINY:
        log.info(
            "encoder '%s' was trained against %s; using it with %s (same width %d)",
            encoder.name,
            encoder.meta.text_encoder,
            diffusion_name,
            diffusion_width,
        )


def write_encoder_checkpoint(kind: str, folder: Path) -> Path:
    """Save a tiny encoder of `kind` ("audio2img" or "own") with save_pretrained, for tests and demos."""
    from training.model import save_encoder

    model, fe, meta = tiny_audio2img_encoder() if kind == "audio2img" else tiny_own_encoder()
    if kind == "audio2img":  # audio2img's hub folder: no phosphene.json
        Path(folder).mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder, safe_serialization=True)
        fe.save_pretrained(folder)
        return Path(folder)
    return save_encoder(model, fe, meta, Path(folder))


# ---------------------------------------------------------------------------------------------
# Export folders and the ONNX Runtime / TensorRT backends

EXPORT_FILE = "export.json"  # beside model.onnx: what the graph is and where it came from
EXPORT_FORMAT = "phosphene-encoder-export"
ENGINE_FORMAT = "phosphene-trt-engine"


def find_export(name: str) -> Path | None:
    """The export folder for `name`: `name` itself, or an `onnx/` folder inside a local checkpoint."""
    path = Path(name).expanduser()
    for folder in (path, path / "onnx"):
        if folder.is_dir() and (folder / EXPORT_FILE).exists():
            return folder
    return None


def read_export(folder: Path) -> dict:
    """export.json, checked: the format, the sample rate, and that the files it lists are whole."""
    folder = Path(folder)
    meta_file = folder / EXPORT_FILE
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
    return info


def export_meta(info: dict) -> EncoderMeta:
    return EncoderMeta(
        text_encoder=info["text_encoder"],
        tokens=int(info["tokens"]),
        width=int(info["width"]),
        sample_rate=int(info["sample_rate"]),
        window_s=float(info["window_s"]),
        prepend_bos=bool(info["prepend_bos"]),
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
    if info["export"]["sample_rate"] != SAMPLE_RATE:
        raise PhospheneError(f"{meta_file}: the engine expects {info['export']['sample_rate']} Hz audio; Phosphene feeds {SAMPLE_RATE} Hz")
    onnx_dir = Path(info["onnx_dir"])
    if (onnx_dir / EXPORT_FILE).exists():
        from export.hashing import export_sha256

        if export_sha256(onnx_dir, read_export(onnx_dir)) != info["onnx_sha256"]:
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
