"""Every shell example in README.md and docs/*.md runs, so a guide cannot drift from the program.

Each command line of a code block (fenced, or indented by four spaces) that starts with
`python -m live|export|training` or `phosphene` is run, in the order the page gives them, in one
temporary folder per page (so `training eval` finds the checkpoint the `fit` above it wrote). What
makes an example small enough for CI, and nothing else, is changed (see `runnable`):

- the placeholders `song.mp3` and `set.flac` are real files made from the demo track (the song is
  the demo's 12.5 s, the set 100 s long, so `--start 95` means what it says); `demo/` is the
  repository's own;
- `render` and `run` last 1 s (`--duration 1` replaces a longer one), except a render of a
  `--timeline`, whose cues need the whole track; `run` is `--headless` and reads `song.mp3` when the
  example names no input;
- where an example would load the real diffusion models (no `--engine shader`, no model flag) the
  tiny seeded ones are used at 64 px (whatever `--size` says) on the CPU: the plumbing is tested,
  the pictures mean nothing.

A line that cannot run here is marked on the page, with why, by an HTML comment before its block:
`<!-- not run: WHY -->` for the whole block, or `<!-- not run "TEXT": WHY -->` for the lines of the
next block that contain TEXT. A line neither run nor marked fails the test; so does a marker that
covers nothing.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"^(?:\$ )?(python -m (?:live|export|training)|phosphene)\b")
MARKER = re.compile(r'<!-- not run(?: "([^"]+)")?: (.+?) -->')


@dataclass
class Example:
    page: Path
    line: int
    text: str
    not_run: str | None = None  # why, when a marker covers it

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(text: str):
    """(first line number, [lines], markers) for each code block, fenced or indented by four spaces,
    with the `not run` markers in the prose just before it."""
    lines = text.splitlines()
    markers, i = [], 0
    while i < len(lines):
        line = lines[i]
        found = MARKER.findall(line)
        if found:
            markers += found
            i += 1
            continue
        if line.lstrip().startswith("```"):
            fence, body, start = line.lstrip()[:3], [], i + 2
            i += 1
            while i < len(lines) and not lines[i].lstrip().startswith(fence):
                body.append(lines[i].strip())
                i += 1
            yield start, body, markers
            markers, i = [], i + 1
            continue
        if line.startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            body, start = [], i + 1
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i].strip())
                i += 1
            yield start, body, markers
            markers = []
            continue
        if line.strip() and not line.startswith("<!--"):
            markers = [] if not line.startswith("#") else markers  # a marker belongs to the block right after it
        i += 1


def examples(page: Path) -> tuple[list[Example], list[str]]:
    """The page's command lines, each with its marker's reason if one covers it; and the markers
    that cover nothing."""
    found, unused = [], []
    for start, body, markers in blocks(page.read_text()):
        used = [False] * len(markers)
        for offset, line in enumerate(body):
            if not COMMAND.match(line):
                continue
            why = None
            for k, (needle, reason) in enumerate(markers):
                if not needle or needle in line:
                    why, used[k] = reason, True
                    break
            found.append(Example(page, start + offset, line, why))
        unused += [f"{page.relative_to(ROOT)}:{start - 1}: <!-- not run{f' {n!r}' if n else ''}: ... --> covers no command" for (n, _), u in zip(markers, used) if not u]
    return found, unused


def words_of(line: str) -> list[str]:
    """The command's words: its trailing comment and optional [--flag] parts left out."""
    line = re.sub(r"\s\[[^\]]*\]", "", line)
    return shlex.split(line, comments=True)


def flag_value(words: list[str], flag: str) -> str | None:
    return words[words.index(flag) + 1] if flag in words and words.index(flag) + 1 < len(words) else None


def runnable(words: list[str]) -> list[str]:
    """The example as it runs here: the program in this venv, short and on tiny models (see above)."""
    if words[0] == "phosphene":  # the installed command: live's commands, export ... and train ...
        words = {"export": ["export"], "train": ["training"]}.get(words[1], ["live", words[1]]) + words[2:]
    else:
        words = words[2:]  # python -m PACKAGE ...
    package, command, rest = words[0], words[1] if len(words) > 1 else "", words[2:]
    if package == "live" and (command == "run" or command == "render" and "--timeline" not in rest):  # a render's timeline needs the whole track
        if "--duration" in rest:
            i = rest.index("--duration")
            rest = rest[:i] + rest[i + 2 :]
        rest += ["--duration", "1"]
    if package == "live" and command == "run":
        rest += ["--headless"]
        if "--input" not in rest and "--device" not in rest:
            rest += ["--input", "song.mp3"]
    if package == "live" and command in ("render", "run", "tune"):
        shader = flag_value(rest, "--engine") == "shader"
        models = any(f in rest for f in ("--models", "--encoder", "--diffusion", "--vae"))
        if not shader and not models:
            rest += ["--models", "tiny", "--compute", "cpu"]
            if "--size" in rest:  # the tiny models' frames cost by the pixel: 64 px, whatever the example's size
                i = rest.index("--size")
                rest = rest[:i] + rest[i + 2 :]
            rest += ["--size", "64"]
    return [sys.executable, "-m", package, command, *rest]


def write_audio(path: Path, seconds: float) -> None:
    """The demo track, cut or looped to `seconds`, written with PyAV (mp3 or flac by the name)."""
    import av

    from live.audio.decode import open_segment, stream

    rate = 44100
    mono = np.concatenate(list(stream(open_segment(ROOT / "demo" / "phosphene-demo.mp3"), sr=rate)))[:, 0]
    n = int(seconds * rate)
    mono = np.resize(mono, n)  # repeats the track where it is shorter
    codec = "flac" if path.suffix == ".flac" else "mp3"
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=rate, layout="mono")
        fmt = "s16" if codec == "flac" else "fltp"
        data = (mono * 32767).astype(np.int16)[None, :] if fmt == "s16" else mono[None, :]
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="mono")
        frame.sample_rate = rate
        for packet in s.encode(frame):
            out.mux(packet)
        for packet in s.encode(None):
            out.mux(packet)


@pytest.fixture(scope="module")
def placeholders(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("doc-audio")
    write_audio(folder / "song.mp3", 12.5)
    write_audio(folder / "set.flac", 100.0)
    return folder


def test_every_command_line_is_run_or_marked_with_why():
    """The pages' examples, found: a page with none still passes; a marker that covers nothing fails."""
    unused = [u for page in PAGES for u in examples(page)[1]]
    assert not unused, unused
    assert sum(len(examples(p)[0]) for p in PAGES) > 20  # the extraction finds the guides' examples


@pytest.mark.parametrize("page", [p for p in PAGES if any(e.not_run is None for e in examples(p)[0])], ids=lambda p: p.name)
def test_the_page_examples_run(page, placeholders, tmp_path):
    for name in ("song.mp3", "set.flac"):
        (tmp_path / name).symlink_to(placeholders / name)
    (tmp_path / "demo").symlink_to(ROOT / "demo")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"), "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    for example in examples(page)[0]:
        if example.not_run is not None:
            continue
        cmd = runnable(words_of(example.text))
        started = time.monotonic()
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        print(f"{example.where()}: {time.monotonic() - started:.1f} s")  # with -s: where the page's time goes
        assert done.returncode == 0 and "Traceback" not in done.stderr, (
            f"{example.where()}: {example.text}\n  ran as: {shlex.join(cmd[1:])}\n  exit {done.returncode}\n{done.stderr[-1500:]}"
        )
