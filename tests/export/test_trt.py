"""TensorRT's pure-Python parts (shapes, metadata, refusals); the build itself needs a CUDA machine."""

import importlib.util
import json

import pytest

from export.__main__ import main
from export.trt import default_engine, engine_meta, profile_shapes
from live.core.errors import PhospheneError
from live.core.profiles import load_profile
from live.models.encoder import load_encoder
from live.models.hashing import export_sha256, file_sha256
from live.models.runtimes import find_engine, read_engine_meta, read_export

needs_no_trt = pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here")


def test_profile_shapes_cover_the_latency_profile():
    shapes = profile_shapes(load_profile("stage"))
    assert shapes == {"waveforms": [[1, 16_000], [1, 32_000], [8, 60_160]]}  # (batch, samples): min, opt, max
    laptop = profile_shapes(load_profile("laptop"))["waveforms"]
    assert laptop[0] == [1, 16_000] and laptop[2] == [2, 32_000]


@needs_no_trt
def test_trt_refuses_without_tensorrt_in_one_line(exports, tmp_path, capsys):
    assert main(["trt", "--onnx", str(exports["own_onnx"]), "--profile", "stage", "-o", str(tmp_path / "e.engine")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`tensorrt` is not installed" in err and not (tmp_path / "e.engine").exists()
    assert main(["trt", "--onnx", str(exports["own_onnx"]), "--profile", "studio", "-o", str(tmp_path / "e.engine")]) == 2
    assert "no such preset; choose one of balanced, laptop, stage" in capsys.readouterr().err
    with pytest.raises(PhospheneError, match="needs the `tensorrt` package and a CUDA GPU"):
        load_encoder(str(exports["own_onnx"]), backend="tensorrt")


def test_default_engine_goes_where_auto_looks(exports, tmp_path, capsys):
    folder = exports["own_onnx"]
    engine = default_engine(folder, load_profile("stage"))
    assert engine == folder / "stage.engine"
    engine.write_bytes(b"\x00" * 100)  # a stand-in: only where it lies is tested here
    try:
        assert find_engine(str(folder)) == engine  # what `--encoder DIR --encoder-backend auto` runs
    finally:
        engine.unlink()
    if importlib.util.find_spec("tensorrt") is None:  # -o may be left out: past the parser to the TensorRT check
        assert main(["trt", "--onnx", str(folder), "--profile", "stage"]) == 2
        assert "`tensorrt` is not installed" in capsys.readouterr().err


def test_engine_metadata_ties_engine_to_its_export(exports, tmp_path):
    folder = exports["own_onnx"]
    info = read_export(folder)
    engine = tmp_path / "own.engine"
    engine.write_bytes(b"\x00" * 100)  # a stand-in: only its size and metadata are read here
    meta = engine_meta(
        folder,
        info,
        load_profile("balanced"),
        profile_shapes(load_profile("balanced")),
        engine_bytes=100,
        engine_sha256=file_sha256(engine),
        tensorrt_version="10.x",
        gpu="test",
    )
    assert meta["onnx_sha256"] == export_sha256(folder, info) and meta["export"]["width"] == 32
    (tmp_path / "own.engine.json").write_text(json.dumps(meta))
    assert read_engine_meta(engine)["profile"] == "balanced"

    (tmp_path / "own.engine.json").write_text(json.dumps({**meta, "onnx_sha256": "0" * 64}))
    with pytest.raises(PhospheneError, match="built from another version"):
        read_engine_meta(engine)
    engine.write_bytes(b"\x01" * 100)  # same size, other bytes
    with pytest.raises(PhospheneError, match="does not match its sha256 in own.engine.json"):
        read_engine_meta(engine)
    engine.write_bytes(b"\x00" * 100)
    (tmp_path / "own.engine.json").write_text(json.dumps({**meta, "engine_bytes": 200}))
    with pytest.raises(PhospheneError, match="truncated"):
        read_engine_meta(engine)
    (tmp_path / "own.engine.json").write_text(json.dumps({**meta, "export": {**meta["export"], "sample_rate": 22_050}}))
    with pytest.raises(PhospheneError, match="expects 22050 Hz"):
        read_engine_meta(engine)


def test_trt_on_what_is_not_an_export_says_what_it_is(exports, tmp_path, capsys):
    """It said "export.json: unreadable ([Errno 2] ...); re-run `python -m export onnx`"."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    cases = {
        exports["own"]: f"has no export.json: it is not an ONNX export; give a folder written by `python -m export onnx` "
        f"(make one: python -m export onnx --encoder {exports['own']} -o NEW_FOLDER)",
        tmp_path / "empty": "has no export.json: it is not an ONNX export",
        tmp_path / "notes.txt": "is a file, not an export folder",
        tmp_path / "nosuch": "does not exist",
    }
    for given, said in cases.items():
        assert main(["trt", "--onnx", str(given), "--profile", "stage"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {given} {said}") and len(err.splitlines()) == 1, err
