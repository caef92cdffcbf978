"""The live window: pygame, fullscreen on a chosen display, a HUD, and the VJ's keys.

The window is drawn by OpenGL (live/draw/window_gl.py: the frame scaled and letterboxed by GL, the
HUD a texture over it); where SDL cannot give a GL window, one line says so at start and pygame's
software path draws it (smoothscale and blits on the CPU).

The keys are one table, live/draw/keys.py (also shown by the HUD and by `run --help`).
"""

from __future__ import annotations

import logging
import os
import sys

import numpy as np

from live.core.errors import PhospheneError
from live.draw.keys import HUD_LINE, WINDOW_ACTIONS, key_actions

CLEAR = (12, 0, 24)  # the clear colour: a deep violet, so "nothing drawn yet" is told from black
HUD_POINTS = 22  # the HUD's font size in a large window; it shrinks to fit a small one
HIDDEN_DRIVERS = ("dummy", "offscreen")  # SDL video drivers that draw into memory only
KEYS_HELP = HUD_LINE  # the keys, short, as the HUD's last line

log = logging.getLogger("phosphene")


def _pygame():
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return pygame


def no_session() -> bool:
    """Linux with neither an X nor a Wayland display and no driver chosen: SDL would fall back to
    drawing offscreen (and print an XDG_RUNTIME_DIR line), which a set must never do."""
    env = os.environ
    return sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("SDL_VIDEODRIVER"))


def hud_lines(hud: dict) -> list[str]:
    """The HUD's text, one line per fact (warnings start with their capitals), the keys last."""
    lat = np.array(hud["latency_ms"]) if hud["latency_ms"] else None
    p50, p95 = (np.percentile(lat, 50), np.percentile(lat, 95)) if lat is not None else (float("nan"), float("nan"))
    lines = [
        f"{hud['fps']:5.1f} fps   latency p50 {p50:4.0f} ms  p95 {p95:4.0f} ms",
        f"encoder {hud['encoder_ms']:5.1f} ms   unet {hud['unet_ms']:5.1f} ms   tempo {hud.get('tempo', 0.0):5.1f} BPM"
        + f" ({hud.get('tempo_source', 'audio')})"
        + ("  (beat moved half a beat: O)" if hud.get("half_beat") else ""),
        f"overflows {hud['overflows']}   dropped {hud['dropped']}   reconnects {hud['reconnects']}",
    ]
    if hud["input_lost"]:
        lines.append("INPUT LOST: holding the last picture, reconnecting...")
    if hud.get("error"):
        lines.append(f"encoder error: {hud['error'][:80]}")
    if hud.get("prompt"):
        lines.append(f"prompt: {hud['prompt'][:60]}   strength {hud['strength']:.2f}  audio weight {hud['audio_weight']:.2f}")
    if hud.get("scene"):
        lines.append(hud["scene"])  # current and cued scene, beats to the switch
    if hud.get("link"):
        lines.append(hud["link"])
    if hud.get("outputs"):
        lines.append("out: " + "   ".join(hud["outputs"]))
    if hud.get("learn"):
        lines.append(hud["learn"][:100])
    if hud.get("control"):
        source, what, _ = hud["control"]
        lines.append(f"control: {what} ({source})   ignored {hud.get('control_ignored', 0)}")
    for name in hud.get("control_lost", []):
        lines.append(f"CONTROLLER LOST: {name}, reconnecting...")
    lines.append(KEYS_HELP)
    return lines


class Display:
    def __init__(
        self,
        *,
        display: int = 0,
        windowed: bool = False,
        size: int | tuple[int, int] = 512,
        headless: bool = False,
        hud: bool | None = None,
        gl: bool = True,
    ):
        """Checks that a display exists before anything else opens (the audio input, the models).
        `headless` draws to SDL's dummy driver (benches, tests); without it, SDL falling back to a
        driver that shows nothing (dummy, offscreen) is refused: a set must not play to nowhere.
        `hud` None: on in a window (rehearsal), off fullscreen (the audience sees the screen); H toggles it.
        `gl` False: pygame's software path even where a GL window could be had (headless always is)."""
        if headless:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        elif os.environ.get("SDL_VIDEODRIVER", "").lower() in HIDDEN_DRIVERS or no_session():
            raise PhospheneError(
                "no display to draw on (no DISPLAY or WAYLAND_DISPLAY, or SDL_VIDEODRIVER names a driver that shows nothing): "
                "run under a desktop session or set DISPLAY; --headless draws without a window on purpose"
            )
        pg = _pygame()
        try:
            pg.display.init()
        except pg.error as e:
            raise PhospheneError(f"no display to draw on ({e}): run under a desktop session or set DISPLAY") from None
        driver = pg.display.get_driver()
        if driver in HIDDEN_DRIVERS and not headless:
            pg.display.quit()
            raise PhospheneError(
                f"no display to draw on (SDL chose its '{driver}' video driver, which shows nothing): run under a desktop "
                "session or set DISPLAY; --headless draws without a window on purpose"
            )
        count = pg.display.get_num_displays()
        if not 0 <= display < count:
            raise PhospheneError(f"--display {display}: this machine has {count} display(s), numbered 0 to {count - 1}")
        self.display, self.windowed = display, windowed
        self.size = (size, size) if isinstance(size, int) else tuple(size)  # (width, height) of the window
        self.screen = None
        self.gl = gl and not headless  # a GL window wanted; False after it could not be had
        self.gl_screen = None  # window_gl.GLScreen while the window is a GL one
        self._hud_surface, self._hud_key = None, None
        self.hud_on = windowed if hud is None else hud
        self.blackout, self.frozen, self.quit_requested = False, False, False
        self.actions: list[str] = []  # prompt/strength/weight changes for the loop to apply

    def open(self) -> None:
        pg = _pygame()
        pg.font.init()
        self.fonts = {}  # point size -> Font: the HUD shrinks to fit a small window
        self._set_mode()
        pg.display.set_caption("Phosphene")
        pg.mouse.set_visible(self.windowed)

    def _set_mode(self) -> None:
        pg = _pygame()
        if self.gl_screen is not None:
            self.gl_screen.release()
            self.gl_screen = None
        if self.gl:
            flags = pg.OPENGL | pg.DOUBLEBUF | (pg.RESIZABLE if self.windowed else pg.FULLSCREEN)
            try:
                from live.draw.window_gl import GLScreen

                for attribute, value in (("GL_CONTEXT_MAJOR_VERSION", 3), ("GL_CONTEXT_MINOR_VERSION", 3)):
                    pg.display.gl_set_attribute(getattr(pg, attribute), value)
                pg.display.gl_set_attribute(pg.GL_CONTEXT_PROFILE_MASK, pg.GL_CONTEXT_PROFILE_CORE)
                if self.screen is not None:  # F: SDL keeps a GL window's old size on a new mode; a fresh window takes it
                    pg.display.quit()
                    pg.display.init()
                self.screen = pg.display.set_mode(self.size if self.windowed else (0, 0), flags, display=self.display)
                pg.display.set_caption("Phosphene")
                pg.mouse.set_visible(self.windowed)
                self.gl_screen = GLScreen()
                return
            except Exception as e:  # no GLX / GL 3.3 here: the software path, said once
                self.gl = False
                log.warning("no OpenGL window here (%s): drawing the window with pygame's software path (CPU scaling)", str(e).splitlines()[0] if str(e) else type(e).__name__)
        if self.windowed:
            self.screen = pg.display.set_mode(self.size, pg.RESIZABLE, display=self.display)
        else:  # (0, 0): the display's own resolution; no window manager needed under Xvfb
            self.screen = pg.display.set_mode((0, 0), pg.FULLSCREEN, display=self.display)

    def handle_events(self) -> None:
        pg = _pygame()
        for event in pg.event.get():
            if event.type == pg.QUIT:
                self.quit_requested = True
            elif event.type == pg.KEYDOWN:
                action = key_actions(pg).get(event.key)
                if action in WINDOW_ACTIONS:
                    self.apply(action)
                elif action:
                    self.actions.append(action)

    def apply(self, action: str) -> None:
        """The display's own actions, from MIDI or OSC as from its keys."""
        if action == "quit":
            self.quit_requested = True
        elif action == "fullscreen":
            self.windowed = not self.windowed
            if self.screen is not None:
                self._set_mode()
        elif action == "hud":
            self.hud_on = not self.hud_on
        elif action == "blackout":
            self.blackout = not self.blackout
        elif action == "freeze":
            self.frozen = not self.frozen

    def present(self, rgb: np.ndarray | None, hud: dict) -> None:
        pg = _pygame()
        if self.gl_screen is not None:
            surface = self._hud_texture(hud) if self.hud_on else None
            self.gl_screen.draw(
                None if self.blackout else rgb,
                self.screen.get_size(),
                clear=(0, 0, 0) if self.blackout else CLEAR,
                hud=surface,
                hud_key=self._hud_key,
            )
            pg.display.flip()
            return
        screen = self.screen
        screen.fill((0, 0, 0) if self.blackout else CLEAR)
        if rgb is not None and not self.blackout:
            frame = pg.image.frombuffer(np.ascontiguousarray(rgb).tobytes(), (rgb.shape[1], rgb.shape[0]), "RGB")
            w, h = screen.get_size()
            scale = min(w / rgb.shape[1], h / rgb.shape[0])  # the picture's own aspect, as large as the screen allows
            fit = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
            screen.blit(pg.transform.smoothscale(frame, fit), ((w - fit[0]) // 2, (h - fit[1]) // 2))
        if self.hud_on:
            self._draw_hud(hud)
        pg.display.flip()

    def _hud_texture(self, hud: dict):
        """The HUD on a transparent surface the size it needs, drawn again only when it changes."""
        pg = _pygame()
        lines = hud_lines(hud)
        key = (tuple(lines), level_fill(hud["level"]), self.screen.get_width())
        if key != self._hud_key:
            font = self._font_to_fit(lines)
            height = 8 + len(lines) * font.get_linesize() + 4 + 12 + 8
            self._hud_surface = pg.Surface((self.screen.get_width(), height), pg.SRCALPHA)
            self._draw_hud(hud, self._hud_surface)
            self._hud_key = key
        return self._hud_surface

    def _draw_hud(self, hud: dict, target=None) -> None:
        pg = _pygame()
        target = self.screen if target is None else target
        lines = hud_lines(hud)
        font = self._font_to_fit(lines)
        y, step = 8, font.get_linesize()
        for line in lines:
            colour = (255, 80, 80) if line.startswith(("INPUT LOST", "encoder error", "CONTROLLER LOST")) else (235, 235, 235)
            target.blit(font.render(line, True, colour, (0, 0, 0)), (8, y))
            y += step
        # level meter: RMS in dBFS from -60 to 0, the bar the tests read back through the stats
        pg.draw.rect(target, (60, 60, 60), (8, y + 4, 200, 12))
        pg.draw.rect(target, (80, 220, 120), (8, y + 4, level_fill(hud["level"]), 12))

    def _font_to_fit(self, lines: list[str]):
        """The largest font, up to 22 pt, at which the widest line fits the window's width."""
        pg = _pygame()
        size = HUD_POINTS
        while True:
            if size not in self.fonts:
                self.fonts[size] = pg.font.Font(None, size)
            font = self.fonts[size]
            widest = max(font.size(line)[0] for line in lines)
            if widest <= self.screen.get_width() - 16 or size <= 8:
                return font
            size = max(8, int(size * (self.screen.get_width() - 16) / widest))

    def close(self) -> None:
        pg = _pygame()
        if self.gl_screen is not None:
            self.gl_screen.release()
            self.gl_screen = None
        pg.display.quit()


def level_fill(level: float) -> int:
    """The level meter's bar in px (of 200): RMS in dBFS from -60 to 0."""
    db = 20 * np.log10(max(level, 1e-6))
    return int(np.clip((db + 60) / 60, 0, 1) * 200)
