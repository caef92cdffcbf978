"""`python -m export trt`: a TensorRT engine from an ONNX export, for one latency profile.

    python -m export trt --onnx DIR --profile stage       # writes DIR/stage.engine and DIR/stage.engine.json

The engine goes into the export folder unless -o says otherwise: that is where `--encoder DIR
--encoder-backend auto` (live.models.runtimes.find_engine) looks for one; an engine written elsewhere
is used by naming the file itself as the encoder.

fp16, one optimisation profile whose batch and sample axes cover the latency profile's encoder
windows (min, opt = the live window, max), a timing cache file reused across builds (a rebuild
takes seconds instead of minutes), and `ENGINE.json` beside the engine: the export's sha256, the
shapes, the TensorRT version and GPU it was built on, and the encoder's metadata, so the runtime
(`live.models.encoder.TensorRTEncoder`) can refuse an engine that does not belong to its export.

The pure-Python parts (shapes, metadata) are imported without TensorRT; `build_engine` imports it
and refuses in one line when it or a GPU is missing. TensorRT 10.x API.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
from pathlib import Path

from live.core.errors import PhospheneError
from live.models.hashing import export_sha256, file_sha256

WORKSPACE_BYTES = 4 << 30  # builder scratch memory: w2v-bert's fp16 tactics fit; more only slows the search


def profile_shapes(profile) -> dict[str, list[list[int]]]:
    """{"waveforms": [min, opt, max]} as (batch, samples), from a LatencyProfile."""
    s_min, s_opt, s_max = profile.encoder_samples
    return {"waveforms": [[1, s_min], [profile.encoder_batch, s_opt], [profile.encoder_max_batch, s_max]]}


def engine_meta(
    onnx_dir: Path, info: dict, profile, shapes: dict, *, engine_bytes: int, engine_sha256: str, tensorrt_version: str, gpu: str
) -> dict:
    from live.models.runtimes import ENGINE_FORMAT

    return {
        "format": ENGINE_FORMAT,
        "version": 1,
        "onnx_dir": str(Path(onnx_dir).resolve()),
        "onnx_sha256": export_sha256(onnx_dir, info),  # ties the engine to the exact model.onnx (+ data)
        "profile": profile.name,
        "shapes": shapes,
        "fp16": True,
        "engine_bytes": engine_bytes,
        "engine_sha256": engine_sha256,  # a same-size corruption is caught at load too (read_engine_meta)
        "tensorrt": tensorrt_version,
        "gpu": gpu,
        "export": {
            **{k: info[k] for k in ("sample_rate", "window_s", "tokens", "width", "prepend_bos", "text_encoder", "source")},
            **{k: info[k] for k in ("target", "clip") if k in info},  # an image-space encoder's
        },
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def default_engine(onnx_dir, profile) -> Path:
    """DIR/PROFILE.engine: inside the export folder, where find_engine looks."""
    return Path(onnx_dir) / f"{profile.name}.engine"


def check_can_build() -> None:
    """One line, before anything is read or written, when this machine cannot build engines."""
    if importlib.util.find_spec("tensorrt") is None:
        raise PhospheneError(
            "`tensorrt` is not installed: TensorRT engines are built on a CUDA machine (pip install tensorrt; see docs/EXPORT.md)"
        )
    import torch

    if not torch.cuda.is_available():
        raise PhospheneError("no CUDA GPU is visible: TensorRT engines are built on the GPU that will run them")


def build_engine(onnx_dir: Path, profile_name: str, out: Path, *, timing_cache: Path | None = None) -> Path:
    from live.core.profiles import load_profile
    from live.models.runtimes import read_export

    onnx_dir, out = Path(onnx_dir), Path(out)
    info = read_export(onnx_dir)  # checks export.json and the files' sizes and sha256
    profile = load_profile(profile_name)
    if not out.parent.is_dir():
        raise PhospheneError(f"-o {out}: folder {out.parent} does not exist")
    check_can_build()
    import tensorrt as trt
    import torch

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch always
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_dir / "model.onnx")):  # reads model.onnx.data beside it
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise PhospheneError(f"TensorRT cannot parse {onnx_dir / 'model.onnx'}: {errors}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    config.set_flag(trt.BuilderFlag.FP16)
    shapes = profile_shapes(profile)
    opt_profile = builder.create_optimization_profile()
    opt_profile.set_shape("waveforms", *[tuple(s) for s in shapes["waveforms"]])
    config.add_optimization_profile(opt_profile)

    timing_cache = Path(timing_cache or out.with_name("timing.cache"))
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.exists() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)

    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise PhospheneError(f"TensorRT could not build an engine from {onnx_dir} for profile '{profile.name}' (see its log above)")
    tmp_engine, tmp_meta = out.with_name(f".{out.name}.tmp"), out.with_name(f".{out.name}.json.tmp")
    try:
        tmp_engine.write_bytes(bytes(serialized))
        meta = engine_meta(
            onnx_dir,
            info,
            profile,
            shapes,
            engine_bytes=tmp_engine.stat().st_size,
            engine_sha256=file_sha256(tmp_engine),
            tensorrt_version=trt.__version__,
            gpu=torch.cuda.get_device_name(),
        )
        tmp_meta.write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(tmp_engine, out)
        os.replace(tmp_meta, out.with_name(out.name + ".json"))
    finally:
        tmp_engine.unlink(missing_ok=True)
        tmp_meta.unlink(missing_ok=True)
    timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    return out
