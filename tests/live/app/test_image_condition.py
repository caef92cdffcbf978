"""`--condition image|both`: an image-space encoder (fit --target clip-image) steers the tiny UNet
through an IP-Adapter built from its config (live/models/image_prompt.py), on real recorded music.

The checkpoint is the tiny own-format encoder with one output token in the tiny CLIP's image space
(32 wide), written with save_pretrained and read back; its weights are untrained, which is enough to
show that the picture follows the embedding and nothing else."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from live.__main__ import main
from live.models.encoder import write_encoder_checkpoint
from tests.live.app.test_render import SMALL, decoded_frames

FAST = ["--models", "tiny", *SMALL, "--duration", "2", "--no-shaders", "--compute", "cpu"]


@pytest.fixture(scope="module")
def image_encoder(tmp_path_factory):
    return write_encoder_checkpoint("clip-image", tmp_path_factory.mktemp("clip_image") / "enc")


def test_two_image_embeddings_give_two_pictures_the_same_gives_the_same():
    from live.models.diffusion import load_diffusion
    from live.models.generator import Img2Img, to_uint8
    from live.models.image_prompt import attach_image_adapter, image_width_of, set_image_scale
    from live.models.settings import GeneratorConfig

    parts = load_diffusion("tiny", "tiny")
    assert attach_image_adapter(parts) == image_width_of(parts.unet) == 32
    text = torch.zeros(1, 77, 32)
    a, b = torch.randn(1, 32, generator=torch.Generator().manual_seed(1)), torch.randn(1, 32, generator=torch.Generator().manual_seed(2))

    def frame(embeds, scale=1.0):
        set_image_scale(parts.unet, scale)
        return to_uint8(Img2Img(parts, GeneratorConfig(size=64))(text, image_embeds=embeds)).astype(int)  # a fresh generator: same noise

    fa, fb, fa2 = frame(a), frame(b), frame(a)
    assert (fa == fa2).all()
    assert np.abs(fa - fb).mean() > 2.0, np.abs(fa - fb).mean()
    assert (frame(a, 0.0) == frame(b, 0.0)).all()  # scale 0: the adapter is off, the text side alone


def test_render_condition_image_follows_the_audio_embedding(image_encoder, house_music, other_music, tmp_path):
    args = [*FAST, "--encoder", str(image_encoder), "--condition", "image"]
    for name, music, extra in [("a", house_music, []), ("b", house_music, []), ("c", other_music, []),
                               ("a0", house_music, ["--image-scale", "0"]), ("c0", other_music, ["--image-scale", "0"])]:  # fmt: skip
        assert main(["render", str(music), "-o", str(tmp_path / f"{name}.mp4"), *args, *extra]) == 0
    a, b, c, a0, c0 = (decoded_frames(tmp_path / f"{n}.mp4").astype(int) for n in ("a", "b", "c", "a0", "c0"))
    assert a.shape == (24, 64, 64, 3)
    assert (a == b).all()  # the same audio, the same embeddings: the same frames
    assert np.abs(a - c).mean() > 1.0, np.abs(a - c).mean()  # other music, other image embeddings, other frames
    assert np.abs(a0 - c0).mean() < 0.05 * np.abs(a - c).mean()  # scale 0: the image side is off, so the music hardly shows (codec noise)


def test_both_blends_the_prompt_with_the_image(image_encoder, house_music, tmp_path):
    args = [*FAST, "--encoder", str(image_encoder)]
    assert main(["render", str(house_music), "-o", str(tmp_path / "i.mp4"), *args, "--condition", "image"]) == 0
    assert main(["render", str(house_music), "-o", str(tmp_path / "b.mp4"), *args, "--condition", "both", "--prompt", "a red lighthouse"]) == 0
    i, b = decoded_frames(tmp_path / "i.mp4").astype(int), decoded_frames(tmp_path / "b.mp4").astype(int)
    assert np.abs(i - b).mean() > 1.0  # the prompt's text side changes the picture


def test_wrong_roads_are_one_line_and_leave_nothing(image_encoder, house_music, tmp_path, capsys):
    from live.models.audio_prompt import AudioPromptConfig, AudioPromptEncoder, EncoderMeta, save_encoder, tiny_backbone_config
    from transformers import SeamlessM4TFeatureExtractor

    torch.manual_seed(0)
    narrow = AudioPromptEncoder(AudioPromptConfig(backbone=tiny_backbone_config(32), num_tokens=1, width=16, head_layers=1, head_heads=2))
    narrow_dir = save_encoder(narrow, SeamlessM4TFeatureExtractor(stride=2), EncoderMeta("tiny", 1, 16, target="clip-image", clip="x"), tmp_path / "n")
    out = tmp_path / "o.mp4"
    cases = [
        (["--condition", "image"], "--condition image needs an image-space encoder"),  # the tiny text-space encoder
        (["--encoder", str(image_encoder)], "gives CLIP image embeddings"),  # --condition text by default
        (["--encoder", str(image_encoder), "--condition", "both"], "--condition both blends the audio's picture with a text prompt"),
        (["--encoder", str(image_encoder), "--condition", "image", "--prompt", "x"], "--condition image takes no --prompt"),
        (["--encoder", str(narrow_dir), "--condition", "image"], "gives 16-wide image embeddings (CLIP x) but the IP-Adapter of 'tiny' takes 32"),
    ]
    for extra, expected in cases:
        rc = main(["render", str(house_music), "-o", str(out), *FAST, *extra])
        err = capsys.readouterr().err.strip().splitlines()
        err = [line for line in err if "seeded random weights" not in line]
        assert rc == 2 and len(err) == 1 and expected in err[0] and "Traceback" not in err[0], (extra, err)
        assert not out.exists()
    with pytest.raises(SystemExit) as stop:  # argparse's own refusal of a typed value
        main(["render", str(house_music), "-o", str(out), *FAST, "--image-scale", "3"])
    assert stop.value.code == 2 and "--image-scale 3: out of range" in capsys.readouterr().err and not out.exists()


def test_condition_setting_is_checked():
    from live.core.errors import PhospheneError
    from live.models.settings import ConditioningConfig

    with pytest.raises(PhospheneError, match="--condition sideways"):
        replace(ConditioningConfig(), condition="sideways")


def test_live_run_plays_the_image_road(image_encoder, house_music, tmp_path):
    """`run --condition image`: the live loop with the image embedding through the IP-Adapter."""
    import json
    import shutil

    if shutil.which("jackd") is None:
        pytest.skip("jackd (Debian jackd2) is not installed")
    from tests.live.app.test_run import run_cli

    stats_file = tmp_path / "stats.json"
    args = ["--input", house_music, "--windowed", "--profile", "laptop", "--models", "tiny", "--compute", "cpu", "--duration", 4]
    r = run_cli(*args, "--encoder", image_encoder, "--condition", "image", "--image-scale", "0.8", "--stats-json", stats_file, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    stats = json.loads(stats_file.read_text())
    assert stats["engine"] == "diffusion" and stats["frames"] > 0
    r = run_cli(*args, "--condition", "image", timeout=180)  # the tiny text-space encoder
    assert r.returncode == 2 and "--condition image needs an image-space encoder" in r.stderr and "Traceback" not in r.stderr


def test_a_scene_sets_the_image_scale(image_encoder, tmp_path):
    """A timeline cut from a scene with [diffusion] image_scale = 0.2 to one with 1.2 at 1.0 s: the
    render's stats give each frame's IP-Adapter scale (a cut at the scene's first frame)."""
    import json
    from pathlib import Path

    from live.app.director import Director
    from live.app.render import render
    from live.app.scenes import load_library
    from live.app.settings import RenderConfig
    from live.app.stats import write_stats
    from live.app.timeline import load_timeline
    from live.models.loading import Models
    from live.models.settings import ConditioningConfig, GeneratorConfig

    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for name, scale in (("dawn", 0.2), ("dusk", 1.2)):
        (scenes / f"{name}.toml").write_text(f"[diffusion]\nimage_scale = {scale}\n")
    timeline = tmp_path / "t.toml"
    timeline.write_text('[[cue]]\nat = "0:00"\nscene = "dawn"\n[[cue]]\nat = "0:01.0"\nscene = "dusk"\ntransition = "cut"\n')
    library = load_library(scenes)
    director = Director(library, "classic", cues=load_timeline(timeline, library, duration_s=2.0))
    config = RenderConfig(fps=8, shaders=False, conditioning=ConditioningConfig(condition="image"), generator=GeneratorConfig(size=64))
    models = replace(Models.all_tiny(), encoder=str(image_encoder))
    demo = Path(__file__).resolve().parents[3] / "demo" / "phosphene-demo.mp3"
    result = render(demo, tmp_path / "o.mp4", models=models, config=config, duration_s=2.0, progress=False, director=director)
    write_stats(tmp_path / "s.json", result)
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["scene_changes"][0] == [0, "dawn"] and stats["scene_changes"][1][1] == "dusk"
    switch = stats["scene_changes"][1][0]
    assert stats["image_scale_per_frame"] == [0.2] * switch + [1.2] * (16 - switch)  # a cut: the scale jumps with the scene

    # a crossfade: the scale travels from 0.2 to 1.2 over the transition, frame by frame, as the strength does
    timeline.write_text('[[cue]]\nat = "0:00"\nscene = "dawn"\n[[cue]]\nat = "0:00.5"\nscene = "dusk"\ntransition = "crossfade 2 beats on now"\n')
    director = Director(library, "classic", cues=load_timeline(timeline, library, duration_s=2.0))
    result = render(demo, tmp_path / "x.mp4", models=models, config=config, duration_s=2.0, progress=False, director=director)
    write_stats(tmp_path / "x.json", result)
    scales = json.loads((tmp_path / "x.json").read_text())["image_scale_per_frame"]
    between = [s for s in scales if 0.2 < s < 1.2]
    assert scales[0] == 0.2 and scales[-1] == pytest.approx(1.2) and scales == sorted(scales), scales
    assert len(between) >= 2, scales  # frames in between: not a cut
