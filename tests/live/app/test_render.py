"""End-to-end renders of real recorded music (pygame's house_lo.ogg) with the tiny models, checked
at the level of ffprobe with PyAV: streams, codecs, fps, frame count, duration. Every bad input
gives one line on stderr, exit status 2, no traceback and no output file."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from live.__main__ import main
from live.draw.video import probe
from live.models.diffusion import save_tiny_diffusion
from live.models.encoder import write_encoder_checkpoint

ROOT = Path(__file__).resolve().parents[3]
SMALL = ["--size", "64", "--fps", "12", "-q"]
FAST = ["--models", "tiny", *SMALL]


def decoded_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])  # (N, H, W, 3)


def run_cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "live", *map(str, args)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout
    )


def test_help_is_fast_and_does_not_import_torch():
    start = time.perf_counter()
    r = run_cli("render", "--help")
    assert r.returncode == 0 and "--strength" in r.stdout and "tiny" in r.stdout
    assert time.perf_counter() - start < 2.0
    probe_code = (
        "import sys, live.__main__ as m; m.build_parser().parse_args(['render', 'x', '-o', 'y.mp4']); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe_code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


def test_render_real_music_end_to_end(house_music, tmp_path):
    out = tmp_path / "house.mp4"
    stats = tmp_path / "stats.json"
    r = run_cli("render", house_music, "-o", out, *FAST, "--stats-json", stats)
    assert r.returncode == 0, r.stderr
    info = probe(out)
    audio_s = 7.104853  # house_lo.ogg, decoded
    assert info.video_codec == "h264" and info.fps == 12 and (info.width, info.height) == (64, 64)
    assert info.frames == round(audio_s * 12)
    assert abs(info.duration_s - audio_s) <= 1 / 12
    assert info.audio_codec == "aac" and info.audio_sr == 11025 and info.audio_channels == 1
    assert abs(info.audio_duration_s - audio_s) <= 0.1
    figures = json.loads(stats.read_text())
    assert figures["frames"] == info.frames and set(figures["stage_ms"]) >= {"decode", "encoder", "unet", "vae", "mux"}
    assert "pictures mean nothing" in r.stderr or "-q" in FAST  # the tiny notice is a warning
    assert not list(tmp_path.glob(".*partial*"))


def test_same_seed_same_frames_other_audio_other_frames(house_music, other_music, tmp_path):
    args = [*FAST, "--duration", "3"]
    assert main(["render", str(house_music), "-o", str(tmp_path / "a.mp4"), *args]) == 0
    assert main(["render", str(house_music), "-o", str(tmp_path / "b.mp4"), *args]) == 0
    assert main(["render", str(other_music), "-o", str(tmp_path / "c.mp4"), *args]) == 0
    assert main(["render", str(house_music), "-o", str(tmp_path / "d.mp4"), *args, "--seed", "1"]) == 0
    a, b, c, d = (decoded_frames(tmp_path / f"{n}.mp4").astype(int) for n in "abcd")
    assert a.shape == b.shape == c.shape == (36, 64, 64, 3)
    assert (a == b).all()  # reproducible
    assert np.abs(a - c).mean() > 2.0  # the music drives the pictures
    assert np.abs(a - d).mean() > 2.0  # the seed does too
    # the pictures move over time: later frames are not the first frame repeated
    assert np.abs(a[-1] - a[0]).mean() > 1.0


def test_segment_and_start(house_music, tmp_path):
    out = tmp_path / "seg.mp4"
    assert main(["render", str(house_music), "-o", str(out), *FAST, "--start", "2.5", "--duration", "2"]) == 0
    info = probe(out)
    assert info.frames == 24 and abs(info.duration_s - 2.0) <= 1 / 12 and abs(info.audio_duration_s - 2.0) < 0.1


def test_every_input_format(music_formats, tmp_path):
    for fmt, path in music_formats.items():
        out = tmp_path / f"{fmt}.mp4"
        assert main(["render", str(path), "-o", str(out), *FAST, "--duration", "1"]) == 0, fmt
        assert probe(out).frames == 12, fmt


def test_local_model_folders_render(house_music, tmp_path):
    """The real loaders on folders written by save_pretrained: audio2img and own formats."""
    diffusion = save_tiny_diffusion(tmp_path / "sd")
    for kind in ("audio2img", "own"):
        encoder = write_encoder_checkpoint(kind, tmp_path / kind)
        out = tmp_path / f"{kind}.mp4"
        args = [
            "render",
            str(house_music),
            "-o",
            str(out),
            "--encoder",
            str(encoder),
            "--diffusion",
            str(diffusion),
            "--vae",
            "full",
            "--size",
            "64",
            "--fps",
            "12",
            "--duration",
            "1",
            "-q",
        ]
        assert main(args) == 0, kind
        assert probe(out).frames == 12


def test_prompt_mix_changes_the_pictures(house_music, tmp_path):
    base = [*FAST, "--duration", "1"]
    assert main(["render", str(house_music), "-o", str(tmp_path / "a.mp4"), *base]) == 0
    assert main(["render", str(house_music), "-o", str(tmp_path / "p.mp4"), *base, "--prompt", "a lighthouse in a storm"]) == 0
    assert np.abs(decoded_frames(tmp_path / "a.mp4").astype(int) - decoded_frames(tmp_path / "p.mp4").astype(int)).mean() > 1.0


def test_odd_but_valid_audio_renders(bad_audio, tmp_path):
    for name in ("eight_ch_96k", "silence"):
        out = tmp_path / f"{name}.mp4"
        assert main(["render", str(bad_audio[name]), "-o", str(out), *FAST]) == 0, name
        assert probe(out).frames >= 12


def assert_one_line_error(capsys, rc, *needles):
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


BAD_AUDIO_CASES = [
    "missing",
    "directory",
    "empty",
    "text_wav",
    "truncated_mp3",
    "no_audio_stream",
    "zero_length",
    "nan_samples",
    "inf_samples",
]


@pytest.mark.parametrize("name", BAD_AUDIO_CASES)
def test_bad_audio_gives_one_line_and_no_file(bad_audio, tmp_path, capsys, name):
    out = tmp_path / "out.mp4"
    rc = main(["render", str(bad_audio[name]), "-o", str(out), *FAST])
    assert_one_line_error(capsys, rc, Path(bad_audio[name]).name)
    assert list(tmp_path.iterdir()) == []


def test_bad_options_give_one_line_and_no_file(house_music, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    cases = [
        (["--size", "100"], "--size 100"),
        (["--steps", "1", "--strength", "0.5"], "0 UNet calls"),
        (["--audio-weight", "0.5"], "--prompt"),
        (["--fps", "0"], "--fps 0"),
        (["--start", "60"], "past the end"),
    ]
    for extra, needle in cases:
        rc = main(["render", str(house_music), "-o", str(out), *FAST, *extra])
        assert_one_line_error(capsys, rc, needle)
        assert list(tmp_path.iterdir()) == [], extra


def test_bad_output_paths(house_music, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for out, needle in [(tmp_path / "nope" / "o.mp4", "nope"), (tmp_path / "file" / "o.mp4", "file"), (Path("/proc/o.mp4"), "/proc")]:
        rc = main(["render", str(house_music), "-o", str(out), *FAST])
        assert_one_line_error(capsys, rc, needle)


def test_checkpoint_with_missing_files(house_music, tmp_path, capsys):
    enc = write_encoder_checkpoint("own", tmp_path / "enc")
    (enc / "model.safetensors").unlink()
    out = tmp_path / "out.mp4"
    rc = main(["render", str(house_music), "-o", str(out), *SMALL, "--encoder", str(enc), "--diffusion", "tiny", "--vae", "tiny"])
    assert_one_line_error(capsys, rc, "missing model.safetensors")
    assert not out.exists()


def test_width_mismatch_refused_at_start_up(house_music, tmp_path, capsys):
    from live.models.audio_prompt import AudioPromptConfig, AudioPromptEncoder, EncoderMeta, save_encoder, tiny_backbone_config
    from live.models.encoder import tiny_own_encoder

    model, fe, _ = tiny_own_encoder()
    wide = AudioPromptEncoder(AudioPromptConfig(backbone=tiny_backbone_config(32), num_tokens=77, width=48, head_layers=1, head_heads=2))
    save_encoder(wide, fe, EncoderMeta(text_encoder="elsewhere/sdxl-ish", tokens=77, width=48), tmp_path / "wide")
    out = tmp_path / "out.mp4"
    rc = main(
        ["render", str(house_music), "-o", str(out), *SMALL, "--encoder", str(tmp_path / "wide"), "--diffusion", "tiny", "--vae", "tiny"]
    )
    assert_one_line_error(capsys, rc, "48-wide", "takes 32")
    assert not out.exists()


def test_subprocess_error_has_no_traceback(tmp_path):
    r = run_cli("render", tmp_path / "missing.wav", "-o", tmp_path / "o.mp4", "--models", "tiny")
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error: ") and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_demo_fallback_when_models_are_missing(house_music, tmp_path, monkeypatch):
    """The README's demo command: no weights here, so the shader engine draws, saying so."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    small = ["--duration", "1", "--size", "64", "--fps", "12"]
    out = tmp_path / "demo.mp4"
    r = run_cli("render", house_music, "-o", out, *small, "--fallback", "shader")
    assert r.returncode == 0, r.stderr
    warning = [line for line in r.stderr.splitlines() if "drawing with --engine shader" in line]
    assert len(warning) == 1 and "hf download" in warning[0]  # one line: what is missing, and what happens instead
    assert probe(out).frames == 12
    r = run_cli("render", house_music, "-o", tmp_path / "default.mp4", *small)  # the shader engine is the default fallback
    assert r.returncode == 0 and "drawing with --engine shader" in r.stderr
    r = run_cli("render", house_music, "-o", tmp_path / "tiny.mp4", *small, "--fallback", "tiny")
    assert r.returncode == 0 and "rendering with --models tiny instead" in r.stderr and "mean nothing" in r.stderr
    r = run_cli("render", house_music, "-o", tmp_path / "strict.mp4", "--duration", "1", "--fallback", "none")
    assert r.returncode == 2 and "hf download" in r.stderr and not (tmp_path / "strict.mp4").exists()


def test_shader_stage_shapes_the_diffusion_frames(house_music, tmp_path):
    args = [*FAST, "--duration", "2"]
    assert main(["render", str(house_music), "-o", str(tmp_path / "s.mp4"), *args]) == 0
    assert main(["render", str(house_music), "-o", str(tmp_path / "n.mp4"), *args, "--no-shaders"]) == 0
    with_shaders, without = decoded_frames(tmp_path / "s.mp4").astype(int), decoded_frames(tmp_path / "n.mp4").astype(int)
    assert (with_shaders[0] != without[0]).any()  # post effects from the first frame
    # the warp + beat flash make consecutive frames move more than plain feedback does
    assert np.abs(np.diff(with_shaders, axis=0)).mean() > np.abs(np.diff(without, axis=0)).mean()


def test_a_non_finite_conditioning_stops_the_render_and_writes_nothing(house_music, tmp_path):
    """The source guard, below the parser (which refuses --attack nan itself): a smoothing time of
    NaN makes every embedding after the first NaN, which img2img draws black. The render stops at
    the first such frame with one line naming it, and leaves no video and no partial file (the old
    code wrote a black video and said nothing)."""
    from live.app.render import render
    from live.app.settings import RenderConfig
    from live.core.errors import PhospheneError
    from live.models.loading import Models
    from live.models.settings import ConditioningConfig, GeneratorConfig

    conditioning = ConditioningConfig()
    object.__setattr__(conditioning, "attack_s", float("nan"))  # as a config that slipped past every check would be
    config = RenderConfig(fps=8, shaders=False, conditioning=conditioning, generator=GeneratorConfig(size=64, steps=2))
    out = tmp_path / "nan.mp4"
    with pytest.raises(PhospheneError, match=r"frame \d+ \(.* s\): the conditioning .* is not finite .*wrote no video"):
        render(house_music, out, models=Models.all_tiny(), config=config, duration_s=2.0, progress=False, device="cpu")
    assert list(tmp_path.iterdir()) == []


def test_a_non_finite_picture_stops_the_render(house_music, tmp_path, monkeypatch):
    """A generator whose output turns NaN (as a broken model's would): one line, nothing written."""
    from live.app.render import render
    from live.app.settings import RenderConfig
    from live.core.errors import PhospheneError
    from live.models.generator import Img2Img
    from live.models.loading import Models
    from live.models.settings import GeneratorConfig

    original = Img2Img.__call__
    calls = []

    def broken(self, *args, **kwargs):
        image = original(self, *args, **kwargs)
        calls.append(1)
        return image * float("nan") if len(calls) >= 3 else image

    monkeypatch.setattr(Img2Img, "__call__", broken)
    config = RenderConfig(fps=8, shaders=False, generator=GeneratorConfig(size=64, steps=2))
    with pytest.raises(PhospheneError, match=r"frame 2 \(0.25 s\): the picture img2img made is not finite"):
        render(house_music, tmp_path / "nan.mp4", models=Models.all_tiny(), config=config, duration_s=2.0, progress=False, device="cpu")
    assert list(tmp_path.iterdir()) == []


def test_a_non_finite_shader_uniform_is_refused_not_drawn_black(house_music, tmp_path):
    """The shader engine: a look (a scene's numbers, which feed the uniforms) holding NaN is refused
    before any output exists, and a scene switched to mid-render with one stops the render there;
    neither leaves a file."""
    from live.app.director import Director
    from live.app.render import render_shader
    from live.app.scenes import Scene
    from live.app.transition import parse_transition
    from live.core.errors import PhospheneError
    from live.draw.shaders import ShaderLook

    bad = Scene("bad", look=ShaderLook(flash=float("nan")))
    with pytest.raises(PhospheneError, match="the look of scene bad: flash not finite"):
        render_shader(house_music, tmp_path / "a.mp4", size=32, fps=12, scene=bad, progress=False)
    director = Director({"classic": Scene("classic"), "bad": bad}, "classic", transition=parse_transition("cut on now"), auto_bars=1)
    with pytest.raises(PhospheneError, match="the look of scene bad: flash not finite"):
        render_shader(house_music, tmp_path / "b.mp4", size=32, fps=12, director=director, progress=False)
    assert list(tmp_path.iterdir()) == []


def partials(folder: Path, stem: str) -> list[Path]:
    return sorted(folder.glob(f".{stem}.partial-*.mp4"))


def test_a_killed_renders_partial_is_removed_by_the_next_render_of_that_output(house_music, tmp_path):
    """kill -9 mid-render leaves `.NAME.partial-HOST-PID.mp4` (nothing can clean up after SIGKILL);
    the next render of the same output removes it, as the process is gone, and keeps one whose
    process is alive (this test's own pid: a render still running)."""
    import signal

    from live.draw.video import partial_path

    out = tmp_path / "video.mp4"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "live", "render", str(house_music), "-o", str(out), "--engine", "shader", "--size", "512", "-q"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not partials(tmp_path, "video") and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    stale = partials(tmp_path, "video")
    assert len(stale) == 1 and stale[0].name.endswith(f"-{proc.pid}.mp4") and not out.exists()
    alive = partial_path(out, os.getpid())  # a render in progress, as far as anyone can tell
    alive.write_bytes(b"still being written")
    r = run_cli("render", house_music, "-o", out, "--engine", "shader", "--size", "32", "--duration", "1", "-q")
    assert r.returncode == 0, r.stderr
    assert out.exists() and partials(tmp_path, "video") == [alive]
