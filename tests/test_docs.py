"""The docs against the program: docs/live.md's key table is the code's (live/draw/keys.py: KEYS),
and every relative link in README.md and docs/*.md names a file that exists."""

import re
from pathlib import Path

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
