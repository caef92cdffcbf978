"""The VJ's keys in the live window: one table, read by the window (which key fires which action),
its HUD (the short line) and `run --help` (the long list), so none of them can leave a key out.
Standard library only: `--help` reads it without pygame.
"""

from __future__ import annotations

# (pygame key constants without K_, the label people read, the actions the keys fire in order,
#  what they do for --help, the word on the HUD); the window's own actions (fullscreen, hud,
#  blackout, freeze, quit) it applies itself, the others go to the live loop's control surface
KEYS = (
    (("f",), "F", ("fullscreen",), "fullscreen on/off", "fullscreen"),
    (("h",), "H", ("hud",), "HUD (these figures) on/off", "hud"),
    (("b",), "B", ("blackout",), "blackout", "blackout"),
    (("SPACE",), "Space", ("freeze",), "freeze the picture", "freeze"),
    (("LEFT", "RIGHT"), "Left/Right", ("previous_prompt", "next_prompt"), "previous / next prompt", "prompt"),
    (("UP", "DOWN"), "Up/Down", ("strength_up", "strength_down"), "strength up / down", "strength"),
    (("LEFTBRACKET", "RIGHTBRACKET"), "[ ]", ("weight_down", "weight_up"), "audio weight down / up", "weight"),
    (("t",), "T", ("tap",), "tap tempo (overrides the beat tracker until R)", "tap"),
    (("r",), "R", ("release_tap",), "release the tapped tempo", "untap"),
    (("o",), "O", ("half_beat",), "move the beat by half a beat (again: back)", "off-beat"),
    (("d",), "D", ("downbeat",), '"this is the one": the nearest beat starts the bar', "the one"),
    (("n", "p"), "N/P", ("scene_next", "scene_previous"), "next / previous scene (on the next bar; with --timeline: the next cue)", "scene"),
    (("c",), "C", ("scene_cue",), "cue the next scene (it fires on the next phrase)", "cue"),
    (("g",), "G", ("scene_go",), "go: the cued scene on the next beat", "go"),
    (("l",), "L", ("learn",), "MIDI learn on/off: touch a parameter (or pick one), then move a control", "learn"),
    (("PERIOD", "COMMA"), ". ,", ("learn_next", "learn_previous"), "MIDI learn: pick the next / previous parameter or action", "pick"),
    (("q", "ESCAPE"), "Q/Esc", ("quit", "quit"), "quit", "quit"),
)

WINDOW_ACTIONS = ("fullscreen", "hud", "blackout", "freeze", "quit")  # applied by the window itself

HUD_LINE = "  ".join(f"{label} {word}" for _, label, _, _, word in KEYS)


def key_actions(pygame) -> dict[int, str]:
    """pygame key code -> action."""
    return {getattr(pygame, "K_" + name): action for names, _, actions, _, _ in KEYS for name, action in zip(names, actions, strict=True)}


def describe_keys(width: int = 100) -> str:
    """The long list for `run --help`: `F fullscreen on/off   H HUD ...`, wrapped to `width`."""
    lines, line = [], ""
    for _, label, _, what, _ in KEYS:
        item = f"{label} {what}"
        if line and len(line) + 3 + len(item) > width:
            lines.append(line)
            line = ""
        line = f"{line}   {item}" if line else item
    return "\n".join([*lines, line])
