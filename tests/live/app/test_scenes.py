"""Scenes: the files load (and bad ones are refused in one line naming file, key and range), every
scene compiles and renders headless on EGL, every pair of scenes looks measurably different, and
`python -m live scenes` lists them and draws the contact sheet."""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from live.app.scenes import DEFAULT_SCENE, SCENE_DIR, Scene, load_library, load_scene
from live.core.errors import PhospheneError
from live.draw.shaders import ShaderLook, Structure, generators

ROOT = Path(__file__).resolve().parents[3]


def cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "live", *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout
    )


def test_the_shipped_scenes_load_and_classic_is_todays_look():
    library = load_library()
    assert len(library) >= 12
    used = {s.structure.generator for s in library.values()}
    assert len(used - {"classic"}) >= 6 and used <= set(generators())
    classic = library[DEFAULT_SCENE]
    assert classic.look == ShaderLook() and classic.structure == Structure()  # the file states every default: no drift
    assert all(s.description for s in library.values())


@pytest.mark.parametrize(
    "text, needle",
    [
        ("[warp]\nzom = 0.1\n", "unknown key [warp] zom (allowed in [warp]: zoom, zoom_bass"),
        ("[warp]\nzoom = 0.5\n", "[warp] zoom = 0.5 is out of range: allowed 0 to 0.03"),
        ("[grade]\ntint = [1, 1]\n", "[grade] tint = [1, 1]: give three numbers [r, g, b], each from 0 to 2"),
        ('[structure]\ngenerator = "sphere"\n', "[structure] generator = 'sphere': allowed classic, "),
        ('[route]\nzoom = "treble"\n', "[route] zoom = 'treble': allowed bass, low_mid, mid, high"),
        ('[structure]\ncount = "six"\n', "[structure] count = 'six': give a number from 1 to 32"),
        ("colour = 1\n", "unknown key 'colour' (allowed: description, [structure]"),
        ("[warp\n", "not valid TOML"),
    ],
)
def test_bad_scenes_are_refused_naming_file_key_and_range(tmp_path, text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PhospheneError) as e:
        load_scene(path)
    message = str(e.value)
    assert message.startswith(f"{path}:") and needle in message and "\n" not in message, message


def test_a_user_folder_adds_and_overrides_scenes(tmp_path):
    (tmp_path / "tunnel.toml").write_text('description = "mine"\n[structure]\ngenerator = "plasma"\n')
    (tmp_path / "extra.toml").write_text("[warp]\nzoom = 0.01\n")
    library = load_library(tmp_path)
    assert library["tunnel"].description == "mine" and library["tunnel"].structure.generator == "plasma"
    assert library["extra"].look.zoom == 0.01 and library["extra"].look.zoom_bass == ShaderLook().zoom_bass
    with pytest.raises(PhospheneError, match="--scenes .*: no such folder"):
        load_library(tmp_path / "missing")
    with pytest.raises(PhospheneError, match=r"--scenes .*tunnel.toml is a file: give a folder of NAME.toml scene files \(such as "):
        load_library(tmp_path / "tunnel.toml")  # one scene file given where its folder belongs


def test_every_generator_compiles_and_follows_the_features(ctx):
    """Each generator draws a picture (not a flat colour) that is brighter when the music is loud."""
    from live.analysis.clock import Drive
    from live.draw.shaders import ShaderEngine

    engine = ShaderEngine(64, 64, ctx=ctx)
    wave = tuple(0.8 * np.sin(np.linspace(0, 12 * np.pi, 128)))
    quiet = Drive(time_s=2.0, level=0.02, wave=tuple(0.02 * w for w in wave))
    loud = Drive(time_s=2.0, level=1.0, bands=(1.0,) * 6, onset=1.0, beat_phase=0.05, confidence=1.0, wave=wave, spectrum=(0.9,) * 32)
    for name in generators():
        engine.begin(ShaderLook(), Structure(generator=name), "cut")
        out = []
        for drive in (quiet, loud):
            engine._structure(drive)
            out.append(np.frombuffer(engine.structure_fbo.read(components=3, dtype="f4"), np.float32).reshape(*engine.structure_fbo.size[::-1], 3))
        assert out[1].std() > 0.02, name
        assert out[1].mean() > 1.3 * out[0].mean() + 0.005, (name, out[0].mean(), out[1].mean())


def test_a_scene_whose_shader_breaks_keeps_the_last_good_one(ctx, tmp_path, caplog):
    import shutil

    from live.analysis.clock import Drive
    from live.app.director import Director
    from live.app.render import direct
    from live.app.transition import parse_transition
    from live.draw.gl import SHADER_DIR
    from live.draw.shaders import ShaderEngine

    for f in SHADER_DIR.glob("*.glsl"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "structure_plasma.glsl").write_text("#version 330 core\nout vec4 colour;\nvoid main() { colour = vec4(1.0) + ; }\n")
    engine = ShaderEngine(32, 32, shader_dir=tmp_path, ctx=ctx)
    library = {"classic": Scene("classic"), "plasma": Scene("plasma", structure=Structure(generator="plasma"))}
    director = Director(library, "classic", transition=parse_transition("cut on now"))
    director.request("go", "plasma")
    direct(director, engine, Drive(time_s=0.1))
    assert engine.layer.structure.generator == "classic"  # still on screen
    assert any(
        "scene plasma not shown, keeping the last good one" in r.message and "structure_plasma.glsl:3" in r.message for r in caplog.records
    )
    engine.frame(Drive(time_s=0.2))  # and still draws


def ssim(a: np.ndarray, b: np.ndarray, k: int = 7) -> float:
    """Mean SSIM (Wang et al. 2004) of two grey images (float, 0..255) over k x k box windows."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def box(x):
        s = np.cumsum(np.cumsum(np.pad(x, ((1, 0), (1, 0))), 0), 1)
        return (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) / (k * k)

    ma, mb = box(a), box(b)
    va, vb, cov = box(a * a) - ma**2, box(b * b) - mb**2, box(a * b) - ma * mb
    return float((((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))).mean())


def colour_histogram(rgb: np.ndarray, bins: int = 8) -> np.ndarray:
    h, _ = np.histogramdd(rgb.reshape(-1, 3), bins=bins, range=[(0, 256)] * 3)
    return h.ravel() / h.sum()


def scene_distance(frames_a, frames_b) -> float:
    """Perceptual distance of two scenes over the same moments: the mean of (1 - SSIM of the luma)
    and of the colour-histogram distance (half the L1 distance of 8x8x8-bin RGB histograms, 0..1).
    0 for the same pictures; about 1 for unrelated pictures of unrelated colours."""
    grey = [0.2126, 0.7152, 0.0722]
    structure = np.mean(
        [1.0 - ssim(a.astype(np.float64) @ grey, b.astype(np.float64) @ grey) for a, b in zip(frames_a, frames_b, strict=True)]
    )
    colour = np.mean([0.5 * np.abs(colour_histogram(a) - colour_histogram(b)).sum() for a, b in zip(frames_a, frames_b, strict=True)])
    return 0.5 * (structure + colour)


DISTINCT = 0.3  # the threshold every pair of scenes must exceed


def test_every_pair_of_scenes_looks_different(ctx):
    """Every scene rendered on the demo track (96 px, 12 fps, frames at 4, 6, 8, 10 and 12 s);
    `scene_distance` between every pair must exceed DISTINCT = 0.3. Measured when written
    (14 scenes, 91 pairs): the closest pair is spectrum / sunburst at 0.48 (1 - SSIM 0.73,
    histogram 0.23), then halo / scope at 0.49; a scene against its own second render is 0."""
    from live.app.sheet import DEMO, scene_frames

    library = load_library()
    moments = [4.0, 6.0, 8.0, 10.0, 12.0]
    frames = {name: scene_frames(scene, DEMO, moments, size=96, fps=12, ctx=ctx) for name, scene in library.items()}
    again = scene_frames(library["tunnel"], DEMO, moments, size=96, fps=12, ctx=ctx)
    assert scene_distance(frames["tunnel"], again) < 1e-6  # the measure sees no difference where there is none
    distances = {(a, b): scene_distance(frames[a], frames[b]) for a, b in itertools.combinations(library, 2)}
    closest = min(distances, key=distances.get)
    assert distances[closest] > DISTINCT, (closest, distances[closest])


def test_scenes_lists_them_and_draws_a_contact_sheet(tmp_path):
    r = cli("scenes")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == len(list(SCENE_DIR.glob("*.toml")))
    assert any(line.split()[:2] == ["tunnel", "tunnel"] for line in lines)

    out = tmp_path / "sheet.png"
    r = cli("scenes", "--sheet", out, "--at", "2", "5", "--size", "48")
    assert r.returncode == 0, r.stderr
    import pygame

    image = pygame.surfarray.array3d(pygame.image.load(str(out)))  # (W, H, 3)
    n = len(lines)
    assert image.shape[:2] == (2 * (48 + 4) + 4, n * (48 + 18 + 4) + 4)
    assert image.std() > 20 and not list(tmp_path.glob(".*partial*"))  # pictures, and no leftover temporary file

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.toml").write_text("[warp]\ndecay = 2\n")
    r = cli("scenes", "--scenes", bad)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "x.toml: [warp] decay = 2 is out of range: allowed 0.8 to 1" in r.stderr
