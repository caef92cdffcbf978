"""The docs against the program: docs/live.md's key table is the code's (live/draw/keys.py: KEYS),
and every relative link in README.md and docs/*.md names a file that exists."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from live.draw.keys import KEYS

ROOT = Path(__file__).resolve().parents[1]


def key_table() -> str:
    """The key table as docs/live.md shows it, made from the code's table (indented as a list item)."""
    rows = ["  | key | action |", "  |---|---|"]
    rows += [f"  | {label} | {what} |" for _, label, _, what, _ in KEYS]
    return "\n".join(rows)


def test_live_guide_key_table_is_the_codes():
    doc = (ROOT / "docs" / "live.md").read_text()
    assert key_table() in doc, "docs/live.md's key table differs from live/draw/keys.py: paste tests/test_docs.py's key_table() there"


def test_relative_links_resolve():
    missing = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                missing.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not missing, missing


def documented_commands() -> list[str]:
    """Every `python -m live|export|training COMMAND` in a fenced block of README.md or docs/*.md."""
    found = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```(?:sh|bash|console)?\n(.*?)```", page.read_text(), re.S):
            found |= {f"{m[0]} {m[1]}" for m in re.findall(r"python -m (live|export|training) ([a-z][a-z-]*)", block)}
    return sorted(found)



@pytest.mark.parametrize("command", documented_commands())
def test_documented_command_exists(command):
    """Each command a guide shows is one the program has (its --help exits 0): a renamed or
    removed command fails here (tests/test_doc_examples.py runs the examples themselves)."""
    package, name = command.split()
    done = subprocess.run([sys.executable, "-m", package, name, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{command} --help: {done.stderr[-500:]}"
