"""The HUD's text (live.draw.display.hud_lines): what a VJ reads off the screen mid-set."""

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
