"""The contact sheet (`python -m live scenes --sheet`, `make sheet` for docs/scenes.png) is
reproducible: the same code draws the same bytes, in a PNG without time or text chunks, and the
command says nothing but its one line (no pygame banner)."""

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def sheet(out: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYGAME_HIDE_SUPPORT_PROMPT"}  # tests/conftest.py sets it: a user has not
    cmd = [sys.executable, "-m", "live", "scenes", "--sheet", str(out), "--at", "1", "2", "--size", "32"]
    return subprocess.run(cmd, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)


def chunks(png: bytes) -> list[bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out, i = [], 8
    while i < len(png):
        (n,) = struct.unpack(">I", png[i : i + 4])
        out.append(png[i + 4 : i + 8])
        i += 12 + n
    return out


def test_the_same_code_draws_the_same_bytes(tmp_path):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    for out in (first, second):
        r = sheet(out)
        assert r.returncode == 0, r.stderr
        assert r.stderr == "" and "pygame" not in r.stdout, (r.stdout, r.stderr)  # no banner, no noise
        assert re.fullmatch(rf"wrote {re.escape(str(out))}: \d+ scenes x 2 moments\n", r.stdout), r.stdout
    assert first.read_bytes() == second.read_bytes()
    kinds = chunks(first.read_bytes())
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and set(kinds) == {b"IHDR", b"IDAT", b"IEND"}, kinds  # no tIME, tEXt


def test_make_sheet_draws_the_documented_picture():
    """The target redraws docs/scenes.png from the demo track, pinned to Mesa's software renderer."""
    makefile = (ROOT / "Makefile").read_text()
    rule = makefile.split("\nsheet:", 1)[1].split("\n\n", 1)[0]
    assert "--sheet docs/scenes.png" in rule and "__EGL_VENDOR_LIBRARY_FILENAMES" in rule and "llvmpipe" in rule
    assert (ROOT / "docs" / "scenes.png").exists()
