"""The HUD's text (live.draw.display.hud_lines): what a VJ reads off the screen mid-set."""

import pytest

from live.draw.display import hud_lines

BASE = dict(
    fps=24.0, latency_ms=[100.0, 120.0], level=0.1, encoder_ms=1.0, unet_ms=2.0, overflows=0, dropped=0, input_lost=False, reconnects=0
)


def test_the_hud_says_what_drives_the_tempo_and_what_the_rig_sent():
    lines = hud_lines(
        {
            **BASE,
            "tempo": 128.0,
            "tempo_source": "link",
            "link": "link 128.0 BPM, 2 peers",
            "control": ("midi", "flash 2.5", 0.0),
            "control_ignored": 3,
            "outputs": ["ndi 240 sent, 1 dropped", "stream 240 sent, 0 dropped"],
            "learn": "LEARN cc 21 -> ?: touch a parameter or action (. , to pick), move a control",
            "control_lost": ["nanoKONTROL2"],
        }
    )
    text = "\n".join(lines)
    assert "tempo 128.0 BPM (link)" in text and "link 128.0 BPM, 2 peers" in text
    assert "control: flash 2.5 (midi)   ignored 3" in text
    assert "out: ndi 240 sent, 1 dropped   stream 240 sent, 0 dropped" in text
    assert any(line.startswith("LEARN cc 21 -> ?") for line in lines)
    assert "CONTROLLER LOST: nanoKONTROL2, reconnecting..." in lines


def test_a_quiet_hud_has_no_rig_lines():
    text = "\n".join(hud_lines(BASE))
    assert "link" not in text and "out:" not in text and "LEARN" not in text and "control:" not in text


def test_the_hud_shows_the_scene_the_bar_and_the_scene_cued_by_name():
    """A scene cued by name (OSC /phosphene/scene/cue) at 120 BPM: the HUD's scene line names the
    scene on, the bar and beat, the cued scene and the beats to its switch (the next phrase: bar 9)."""
    from live.analysis.clock import Drive
    from live.app.director import Director
    from live.app.scenes import Scene

    director = Director({n: Scene(n) for n in ("classic", "tunnel", "cells")}, "classic")
    for k in range(24 * 3):  # 12 frames a beat, the first at frame 12: the last frame is 0.92 into bar 2's first beat
        t = k / 24
        if k == 30:
            director.request("cue", "cells")
        director.step(Drive(time_s=t, beat_phase=(t * 2.0) % 1.0, tempo_bpm=120.0, confidence=1.0))
    lines = hud_lines({**BASE, "scene": director.status})
    scene_line = next(line for line in lines if line.startswith("scene "))
    assert scene_line.startswith("scene classic   bar 2.1") and "next cells in" in scene_line
    beats = float(scene_line.split("next cells in ")[1].split()[0])
    assert beats == pytest.approx(28 - 11 / 12, abs=0.06)  # 7 bars to bar 9, less the 0.92 beat gone
    assert not any(line.startswith("scene ") for line in hud_lines(BASE))
