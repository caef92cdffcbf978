"""The GLSL stages on a real headless GL 3.3 core context (EGL; Mesa llvmpipe here): every shader
compiles, frames from chosen uniform values have the properties they should, compile errors name
file:line with GL's log, and an edit on disk reloads while a broken edit keeps the last good program."""

import os
import re
import shutil
import time

import numpy as np
import pytest

from live.analysis.clock import Drive
from live.draw.gl import SHADER_DIR, UNIFORMS, ShaderError, ShaderProgram, new_texture, read_rgb, upload
from live.draw.shaders import ShaderEngine, ShaderLook, audio_uniforms, post_uniforms

SIZE = 64


@pytest.fixture(scope="module")
def engine(ctx):
    return ShaderEngine(SIZE, SIZE, ctx=ctx)


def test_every_shader_compiles_and_uses_only_declared_uniforms(ctx):
    files = sorted(SHADER_DIR.glob("*.glsl"))
    assert {f.stem for f in files} >= {"structure", "warp", "post", "crossfade", "fullscreen_vertex"}
    vertex_for = {"warp": SHADER_DIR / "warp_vertex.glsl"}  # the fragment files drawn with another vertex stage
    for f in files:
        used = set(re.findall(r"\bu_[a-z_]+\b", f.read_text()))
        assert used <= set(UNIFORMS), (f.name, used - set(UNIFORMS))
        if not f.stem.endswith("_vertex"):
            ShaderProgram(ctx, f, vertex=vertex_for.get(f.stem))
    assert ctx.version_code >= 330


def test_structure_follows_the_features(engine):
    quiet = Drive(time_s=1.0, level=0.05)
    loud = Drive(time_s=1.0, level=1.0, bands=(1.0, 1.0, 0.5, 0.5, 0.5, 0.5), onset=1.0)
    out = []
    for d in (quiet, loud):
        engine._structure(d)
        w, h = engine.structure_fbo.size  # the structure pass's own size (STRUCTURE_SCALE of the frame)
        out.append(np.frombuffer(engine.structure_fbo.read(components=3, dtype="f4"), np.float32).reshape(h, w, 3))
    assert out[1].mean() > 1.5 * out[0].mean()  # louder music, brighter structure
    assert out[0].std() > 0.005  # a picture, not a flat colour


def test_a_beat_raises_mean_brightness(engine):
    rng = np.random.default_rng(0)
    image = (rng.random((SIZE, SIZE, 3)) * 120 + 40).astype(np.uint8)
    on_beat = engine.post_frame(image, Drive(beat_phase=0.0, confidence=1.0))
    off_beat = engine.post_frame(image, Drive(beat_phase=0.9, confidence=1.0))
    unsure = engine.post_frame(image, Drive(beat_phase=0.0, confidence=0.0))
    assert on_beat.mean() > off_beat.mean() + 15
    assert abs(unsure.mean() - off_beat.mean()) < 3  # no confidence, no flash


def test_zoom_warp_moves_a_marker_outward(ctx):
    prog = ShaderProgram(ctx, SHADER_DIR / "warp.glsl", vertex=SHADER_DIR / "warp_vertex.glsl")
    prev = new_texture(ctx, SIZE, SIZE)
    structure = new_texture(ctx, SIZE, SIZE)
    out = new_texture(ctx, SIZE, SIZE)
    fbo = ctx.framebuffer([out])
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[40:44, 44:48] = 255  # a marker right of and below the centre (32, 32)
    upload(prev, image)
    upload(structure, np.zeros_like(image))

    def centroid(zoom):
        values = {
            "u_resolution": (SIZE, SIZE),
            "u_zoom": zoom,
            "u_rotate": 0.0,
            "u_translate": (0.0, 0.0),
            "u_pulse": 0.0,
            "u_structure_mix": 0.0,
            "u_decay": 1.0,
        }
        prog.draw(fbo, values, {"u_prev": prev, "u_structure": structure})
        w = read_rgb(fbo)[..., 0].astype(float)
        ys, xs = np.mgrid[:SIZE, :SIZE]
        return np.array([(w * ys).sum(), (w * xs).sum()]) / w.sum()

    centre = np.array([SIZE / 2 - 0.5, SIZE / 2 - 0.5])
    still, zoomed = centroid(1.0), centroid(1.25)
    np.testing.assert_allclose(still, [41.5, 45.5], atol=0.01)  # zoom 1 is the identity
    np.testing.assert_allclose(zoomed - centre, (still - centre) * 1.25, atol=0.3)  # 25% further out, same direction


def test_crossfade_at_half_is_the_mean(engine):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    mid = engine.crossfade(a, b, 0.5).astype(int)
    assert np.abs(mid - (a.astype(int) + b) / 2).max() <= 1.0
    assert (engine.crossfade(a, b, 0.0) == a).all() and (engine.crossfade(a, b, 1.0) == b).all()


def test_broken_shader_names_file_and_line_and_keeps_the_last_good(ctx, tmp_path, caplog):
    for name in ("post.glsl", "fullscreen_vertex.glsl"):
        shutil.copy(SHADER_DIR / name, tmp_path / name)
    path = tmp_path / "post.glsl"
    good = path.read_text()
    broken = good.replace("c = (c - 0.5) * u_contrast + 0.5;", "c = (c - 0.5) * u_contrast + ;")
    line = good.splitlines().index("    c = (c - 0.5) * u_contrast + 0.5;") + 1

    path.write_text(broken)
    with pytest.raises(ShaderError) as e:
        ShaderProgram(ctx, path)
    assert f"{path}:{line}:" in str(e.value) and "GL log:" in str(e.value) and "syntax error" in str(e.value)

    path.write_text(good)
    prog = ShaderProgram(ctx, path)
    first = prog.program
    fbo = ctx.framebuffer([new_texture(ctx, SIZE, SIZE)])
    image_tex = new_texture(ctx, SIZE, SIZE)
    upload(image_tex, np.full((SIZE, SIZE, 3), 100, np.uint8))
    values = {**post_uniforms(ShaderLook(vignette=0.0)), **audio_uniforms(Drive(beat_phase=0.9), ShaderLook(), SIZE, SIZE, 0)}

    bump = time.time() + 5
    path.write_text(broken)
    os.utime(path, (bump, bump))
    assert prog.reload_if_changed() is False
    assert prog.program is first and f"{path}:{line}:" in prog.last_error
    assert any("keeping the last good program" in r.message for r in caplog.records)
    prog.draw(fbo, values, {"u_image": image_tex})  # still draws, with the old program
    assert abs(read_rgb(fbo).mean() - 100 * 1.05 * 1.0) < 12

    path.write_text(good.replace("vec3 c = texture(u_image, v_uv).rgb;", "vec3 c = 1.0 - texture(u_image, v_uv).rgb;"))
    os.utime(path, (bump + 5, bump + 5))
    assert prog.reload_if_changed() is True and prog.last_error is None
    prog.draw(fbo, values, {"u_image": image_tex})
    assert read_rgb(fbo).mean() > 140  # the edit (an inverted image) is live


def test_the_shader_doc_lists_every_uniform_and_generator():
    """docs/SHADERS.md's tables: a row per uniform of live.draw.gl.UNIFORMS (its GLSL type as there)
    and per structure file in shaders/."""
    from pathlib import Path

    from live.draw.gl import UNIFORMS

    root = Path(__file__).resolve().parents[3]
    doc = (root / "docs" / "SHADERS.md").read_text()
    missing = [n for n, u in UNIFORMS.items() if f"| `{n}` | `{u.glsl}` |" not in doc]
    missing += [p.name for p in (root / "shaders").glob("structure*.glsl") if f"| `{p.name}` |" not in doc]
    assert not missing, f"docs/SHADERS.md lacks {missing}"


def test_a_generator_states_its_own_internal_size_and_an_edit_changes_it(ctx, tmp_path):
    """structure.glsl says `const float STRUCTURE_SCALE = 0.35;`: its pass draws 0.35 of the size per
    side; a generator that says nothing draws at the default (half); an edited scale applies on reload."""
    from live.draw.shaders import STRUCTURE_SCALE, Structure

    for name in os.listdir(SHADER_DIR):
        shutil.copy(SHADER_DIR / name, tmp_path / name)
    engine = ShaderEngine(200, 100, shader_dir=tmp_path, ctx=ctx)
    engine.render(Drive(time_s=1.0))
    assert engine.structure_fbo.size == (70, 35)  # classic: 0.35
    engine.begin(ShaderLook(), Structure(generator="voronoi"), "cut")
    engine.render(Drive(time_s=1.0))
    assert STRUCTURE_SCALE == 0.5 and engine.structure_fbo.size == (100, 50)
    path = tmp_path / "structure_voronoi.glsl"
    path.write_text(path.read_text().replace("out vec4 colour;\n", "out vec4 colour;\nconst float STRUCTURE_SCALE = 0.25;\n", 1))
    bump = time.time() + 5
    os.utime(path, (bump, bump))
    engine.reload_if_changed()
    engine.render(Drive(time_s=1.0))
    assert engine.structure_fbo.size == (50, 25)


def test_pixel_reader_hands_back_every_frame_in_order_and_reads_only_what_is_submitted(ctx):
    """Asynchronous readback (PBOs, 3 in flight): the frames come back as read_rgb gives them, in
    order, two submits late; drain() gives the rest; nothing is read unless submitted."""
    from live.draw.gl import PixelReader

    tex = new_texture(ctx, 32, 16, dtype="f1")
    fbo = ctx.framebuffer([tex])
    reader = PixelReader(ctx, (32, 16), depth=3)
    assert reader.reads == 0  # made, nothing read: an engine with no pixel output reads nothing
    expected, got = [], []
    for k in range(7):
        fbo.clear(k / 10, 1 - k / 10, 0.5, 1.0)
        expected.append(read_rgb(fbo).copy())
        rgb = reader.submit(fbo)
        if k < 2:
            assert rgb is None  # the ring fills first
        else:
            got.append(rgb.copy())
    got += [rgb.copy() for rgb in reader.drain()]
    assert reader.reads == 7 and len(got) == 7 and all((g == e).all() for g, e in zip(got, expected, strict=True))
    assert len({int(e[0, 0, 0]) for e in expected}) == 7  # seven distinct frames, so order is checked
    with pytest.raises(ValueError, match="64x64"):
        reader.submit(ctx.framebuffer([new_texture(ctx, 64, 64, dtype="f1")]))
    reader.release()
