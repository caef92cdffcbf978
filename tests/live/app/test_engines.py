"""Model selection, the one path `render` and `run` share: `--models tiny` sets every model, and a
model flag given beside it wins for that model (it used to be ignored without a word)."""

import json

import pytest

from live.__main__ import build_parser, main
from live.app.engines import select_models
from live.models.encoder import write_encoder_checkpoint
from live.models.loading import Models


def parsed(*argv):
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("command", [["render", "in.wav", "-o", "out.mp4"], ["run"]])
def test_defaults_come_from_models(command):
    assert select_models(parsed(*command)) == Models()
    assert select_models(parsed(*command, "--models", "tiny")) == Models("tiny", "tiny", "tiny")


@pytest.mark.parametrize("command", [["render", "in.wav", "-o", "out.mp4"], ["run"]])
def test_an_explicit_model_flag_wins_over_models_tiny(command):
    args = parsed(*command, "--models", "tiny", "--encoder", "my/encoder", "--encoder-backend", "onnx", "--encoder-threads", "3")
    assert select_models(args) == Models(diffusion="tiny", vae="tiny", encoder="my/encoder", encoder_backend="onnx", encoder_threads=3)
    assert select_models(parsed(*command, "--models", "tiny", "--vae", "full")) == Models("tiny", "full", "tiny")


def test_models_tiny_with_an_encoder_folder_renders_with_that_encoder(house_music, tmp_path, capsys):
    """End to end: the folder's encoder is the one loaded. A folder that cannot be read must fail,
    where the tiny encoder used to stand in for it silently."""
    small = ["--size", "64", "--fps", "12", "--duration", "1", "-q"]
    rc = main(["render", str(house_music), "-o", str(tmp_path / "a.mp4"), *small, "--models", "tiny", "--encoder", str(tmp_path / "none")])
    assert rc == 2 and "no such folder" in capsys.readouterr().err
    assert not (tmp_path / "a.mp4").exists()

    own = write_encoder_checkpoint("own", tmp_path / "own")
    stats = tmp_path / "stats.json"
    rc = main(
        [
            "render",
            str(house_music),
            "-o",
            str(tmp_path / "b.mp4"),
            *small,
            "--models",
            "tiny",
            "--encoder",
            str(own),
            "--stats-json",
            str(stats),
        ]
    )
    assert rc == 0 and json.loads(stats.read_text())["frames"] == 12
