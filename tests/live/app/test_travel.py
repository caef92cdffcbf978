"""Scenes on the diffusion engine: between two scenes the prompt embeddings travel by per-token slerp
over the transition's span (not a cut, not a lerp), strength and audio weight move with them; a
timeline's `travel` gives the prompt its own span; a tiny-model render does it frame by frame."""

import json
from pathlib import Path

import pytest
import torch

from live.analysis.clock import Drive
from live.app.director import Director
from live.app.scenes import Scene, load_library
from live.app.timeline import load_timeline
from live.app.transition import parse_transition
from live.app.travel import PromptTravel
from live.models.conditioning import slerp

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "demo" / "phosphene-demo.mp3"  # 12.5 s
DAWN, DUSK = "a pale dawn over a calm sea", "a red dusk over burning mountains"


def beats(n_frames: int, fps: float, bpm: float = 120.0):
    for k in range(n_frames):
        t = k / fps
        yield Drive(time_s=t, beat_phase=(t * bpm / 60.0) % 1.0, tempo_bpm=bpm, confidence=1.0)


def fake_encode(text: str) -> torch.Tensor:
    """(77, 16) embeddings, one seeded draw per text: far apart, as two prompts are."""
    g = torch.Generator().manual_seed(sum(map(ord, text)))
    return torch.randn(77, 16, generator=g) * (1.0 + 0.5 * torch.rand(77, 1, generator=g))


def lerp(a, b, t):
    return a + (b - a) * t


LIBRARY = {
    "dawn": Scene("dawn", prompts=(DAWN,), strength=0.6, audio_weight=0.3),
    "dusk": Scene("dusk", prompts=(DUSK,), strength=0.9, audio_weight=0.7),
    "plain": Scene("plain"),  # no prompt, no strength: the command's
}


def test_between_two_scenes_the_prompt_slerps_per_token_over_the_span():
    """120 BPM at 24 fps; a go to dusk (crossfade 4 beats, on now) at frame 30: at every frame of the
    48-frame span the prompt is the per-token slerp at the transition's progress, not a cut or a lerp;
    strength and audio weight move linearly between the scenes' own; at the middle t = 0.5."""
    director = Director(LIBRARY, "dawn", transition=parse_transition("crossfade 4 beats on now"))
    travel = PromptTravel(director, fake_encode, strength=0.5)
    a, b = fake_encode(DAWN), fake_encode(DUSK)
    first = travel.start()
    assert torch.equal(first.prompt, a) and (first.strength, first.audio_weight) == (0.6, 0.3)
    inside = []
    for k, drive in enumerate(beats(24 * 6, 24.0)):
        if k == 30:
            director.request("go", "dusk")
        state = director.step(drive)
        settings = travel.at(state)
        t = state.prompt[2]
        if k < 30:
            assert settings is None or torch.equal(settings.prompt, a)
            continue
        if settings is None:  # landed: nothing moves until the next switch
            assert t == 1.0
            continue
        assert state.scene == "dusk"
        assert settings.strength == pytest.approx(lerp(0.6, 0.9, t)) and settings.audio_weight == pytest.approx(lerp(0.3, 0.7, t))
        assert torch.allclose(settings.prompt, slerp(a, b, t), atol=1e-6)
        if 0.0 < t < 1.0:
            inside.append((k, t))
            assert (settings.prompt - lerp(a, b, t)).abs().max() > 0.05  # a lerp would shrink the tokens mid-way
            assert min((settings.prompt - a).abs().max(), (settings.prompt - b).abs().max()) > 0.05  # not a cut
    assert len(inside) >= 40  # the 4-beat span at 12 frames a beat
    k_mid = min(inside, key=lambda kt: abs(kt[1] - 0.5))
    assert abs(k_mid[1] - 0.5) <= 1 / 48 and 30 + 22 <= k_mid[0] <= 30 + 26


def test_a_scene_without_a_prompt_fades_the_prompt_in_with_the_weight():
    """From `plain` (no prompt: the audio alone) to dawn: the prompt is dawn's throughout, the audio
    weight goes from 1 to dawn's 0.3, the strength from the command's 0.5 to dawn's 0.6."""
    director = Director(LIBRARY, "plain", transition=parse_transition("crossfade 2 beats on now"))
    travel = PromptTravel(director, fake_encode, strength=0.5)
    assert travel.start().prompt is None and travel.start().audio_weight == 1.0
    seen = []
    for k, drive in enumerate(beats(24 * 3, 24.0)):
        if k == 6:
            director.request("go", "dawn")
        settings = travel.at(director.step(drive))
        if k >= 6 and settings is not None:
            seen.append(settings)
    assert all(torch.equal(s.prompt, fake_encode(DAWN)) for s in seen)
    weights = [s.audio_weight for s in seen]
    assert weights[0] == pytest.approx(1.0) and weights[-1] == pytest.approx(0.3) and weights == sorted(weights, reverse=True)
    assert seen[-1].strength == pytest.approx(0.6) and 0.4 < weights[len(weights) // 2] < 0.9


def test_a_timeline_prompt_travels_over_its_own_span(tmp_path):
    """A cue with a cut and `travel = "2 bars"`: the pictures cut at once, the prompt travels over
    8 beats (4/4), half way after 4; the same run twice gives the same prompts."""
    timeline = tmp_path / "t.toml"
    timeline.write_text(
        f'[[cue]]\nat = "0:00"\nscene = "dawn"\n[[cue]]\nat = "0:02.0"\nprompt = "{DUSK}"\ntransition = "cut on now"\ntravel = "2 bars"\n'
    )
    runs = []
    for _ in range(2):
        director = Director(LIBRARY, "plain", cues=load_timeline(timeline, LIBRARY, duration_s=12.0))
        travel = PromptTravel(director, fake_encode, strength=0.5)
        rows = []
        for drive in beats(24 * 8, 24.0):
            state = director.step(drive)
            settings = travel.at(state)
            rows.append((state.progress, state.prompt[2], None if settings is None else settings.prompt))
        runs.append(rows)
    rows = runs[0]
    k0 = next(k for k, (_, t, _) in enumerate(rows) if t < 1.0)  # the cue fired here (2.0 s, on now)
    assert k0 == 48 and rows[k0][0] == 1.0  # the cut is done at once ...
    t_half = rows[k0 + 48][1]  # ... four beats later the prompt is half way (12 frames a beat)
    assert t_half == pytest.approx(0.5, abs=1 / 96)
    assert torch.allclose(rows[k0 + 48][2], slerp(fake_encode(DAWN), fake_encode(DUSK), t_half), atol=1e-6)
    assert rows[k0 + 96 + 1][1] == 1.0
    assert all((x[2] is None) == (y[2] is None) and (x[2] is None or torch.equal(x[2], y[2])) for x, y in zip(*runs, strict=True))


def test_a_tiny_model_render_travels_between_scenes(tmp_path, monkeypatch):
    """A real render (tiny models, 64 px, 8 fps, 3 s of the demo track) over a scene change at 1.0 s
    (crossfade 2 beats, on now): the conditioning's prompt embeddings at frames inside the span are
    the per-token slerp of the two scenes' text embeddings (not a cut, not a lerp); the stats give
    each frame's scene, strength and audio weight (each scene's own outside the span)."""
    from live.app.render import render
    from live.app.settings import RenderConfig
    from live.app.stats import write_stats
    from live.models.conditioning import Conditioner, encode_text
    from live.models.loading import Models
    from live.models.settings import GeneratorConfig

    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for name, prompt, strength, weight in (("dawn", DAWN, 0.6, 0.3), ("dusk", DUSK, 0.9, 0.7)):
        (scenes / f"{name}.toml").write_text(f'[diffusion]\nprompt = "{prompt}"\nstrength = {strength}\naudio_weight = {weight}\n')
    timeline = tmp_path / "t.toml"
    timeline.write_text(
        '[[cue]]\nat = "0:00"\nscene = "dawn"\n[[cue]]\nat = "0:01.0"\nscene = "dusk"\ntransition = "crossfade 2 beats on now"\n'
    )
    library = load_library(scenes)
    director = Director(library, "classic", cues=load_timeline(timeline, library, duration_s=3.0))
    seen = []  # per frame: the prompt embeddings and audio weight the conditioning mixes
    original = Conditioner.at

    def recording(self, t_s, level, dt_s):
        seen.append((self.prompt.clone(), self.config.audio_weight))
        return original(self, t_s, level, dt_s)

    monkeypatch.setattr(Conditioner, "at", recording)
    states, step = [], director.step
    monkeypatch.setattr(director, "step", lambda drive: states.append(step(drive)) or states[-1])
    config = RenderConfig(fps=8, shaders=False, generator=GeneratorConfig(size=64, steps=2, strength=0.5))
    result = render(DEMO, tmp_path / "o.mp4", models=Models.all_tiny(), config=config, duration_s=3.0, progress=False, director=director)
    write_stats(tmp_path / "s.json", result)
    stats = json.loads((tmp_path / "s.json").read_text())

    from live.models.diffusion import load_diffusion

    parts = load_diffusion("tiny", "tiny", device=torch.device("cpu"), dtype=torch.float32)
    a, b = encode_text(parts, DAWN), encode_text(parts, DUSK)
    assert len(seen) == len(states) == 24 and stats["scene_changes"] == [[0, "dawn"], [8, "dusk"]]
    inside = 0
    for k, ((prompt, weight), state) in enumerate(zip(seen, states, strict=True)):
        t = state.prompt[2]
        if k < 8:
            assert torch.allclose(prompt, a, atol=1e-6) and weight == pytest.approx(0.3) and stats["strength_per_frame"][k] == 0.6
        elif t >= 1.0:
            assert torch.allclose(prompt, b, atol=1e-6) and weight == pytest.approx(0.7) and stats["strength_per_frame"][k] == 0.9
        else:
            inside += t > 0.0  # the switch's first frame is at t = 0: the prompt before, exactly
            assert torch.allclose(prompt, slerp(a, b, t), atol=1e-5)
            assert (
                t == 0.0 or (prompt - lerp(a, b, t)).abs().max() > 1e-3 and min((prompt - a).abs().max(), (prompt - b).abs().max()) > 1e-2
            )
            assert weight == pytest.approx(lerp(0.3, 0.7, t)) and stats["audio_weight_per_frame"][k] == pytest.approx(weight)
            assert stats["strength_per_frame"][k] == pytest.approx(max(0.5, lerp(0.6, 0.9, t)))
    assert inside >= 3  # 2 beats of the demo track at 8 fps
    assert stats["scene_per_frame"][-1] == "dusk" and stats["strength_per_frame"][-1] == 0.9


def test_the_image_scale_travels_over_the_transition():
    """The image road's IP-Adapter scale (a scene's [diffusion] image_scale, else --image-scale) moves
    linearly over a crossfade like the strength, not a cut: 0.2 -> 1.2 over 4 beats; a scene without
    one travels back to the command's 0.8; the live controls' value starts a travel (`current`)."""
    library = {"dawn": Scene("dawn", image_scale=0.2), "dusk": Scene("dusk", image_scale=1.2), "plain": Scene("plain")}
    director = Director(library, "dawn", transition=parse_transition("crossfade 4 beats on now"))
    travel = PromptTravel(director, fake_encode, strength=0.5, image_scale=0.8)
    assert travel.start().image_scale == 0.2
    inside, landed = [], None
    for k, drive in enumerate(beats(24 * 8, 24.0)):
        if k == 12:
            director.request("go", "dusk")
        if k == 120:
            director.request("go", "plain")
        state = director.step(drive)
        settings = travel.at(state, current=(0.5, 1.0, 0.4) if k == 120 else None)  # at 120 a control had moved it to 0.4
        if settings is None or k < 12:
            continue
        t = state.prompt[2]
        if k < 120:
            assert settings.image_scale == pytest.approx(lerp(0.2, 1.2, t))
            if 0.0 < t < 1.0:
                inside.append(settings.image_scale)
            landed = settings.image_scale
        else:
            assert settings.image_scale == pytest.approx(lerp(0.4, 0.8, t))  # from the control's value to the command's
    assert len(inside) >= 40 and inside == sorted(inside) and 0.2 < inside[0] < 0.3 and 1.1 < inside[-1] < 1.2
    assert landed == pytest.approx(1.2)
