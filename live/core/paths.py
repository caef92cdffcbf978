"""Output files checked at start-up, before anything is decoded or loaded: one rule for every file a
command writes (`-o`, `--stats-json`, `--json`, `--out`), so a mistake is one line naming the path
and the fix, never a traceback after the work is done."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from live.core.errors import PhospheneError


def check_output_file(path: str | os.PathLike, *, flag: str, suffix: str | None = None, inputs: tuple = ()) -> Path:
    """The resolved output path, or a PhospheneError if its folder does not exist, is not a folder or
    cannot be written, if it is an existing folder, if it lacks `suffix`, or if it is one of `inputs`
    (the same file by inode, so a link or another spelling of the input is caught too)."""
    out = Path(path).expanduser().resolve()
    folder = out.parent
    if out.is_dir():
        raise PhospheneError(f"{flag} {out} is a folder: give a file name, such as {out / ('out' + (suffix or ''))}")
    if suffix and out.suffix.lower() != suffix:
        raise PhospheneError(f"{flag} {out}: the name must end in {suffix}, e.g. {out.with_suffix(suffix)}")
    for given in inputs:
        if given is not None and out.exists() and Path(given).exists() and os.path.samefile(out, given):
            raise PhospheneError(f"{flag} {out} is the input file: writing it would destroy the input; choose another name")
    if folder.exists() and not folder.is_dir():
        raise PhospheneError(f"{flag} {out}: {folder} is a file, not a folder; choose an output inside a folder")
    if not folder.exists():
        raise PhospheneError(f"{flag} {out}: folder {folder} does not exist; create it first (mkdir -p {folder}) or choose another output")
    # Try a real write: os.access says yes to root even where the filesystem says no (/proc, read-only mounts).
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{out.stem}.write-test-", suffix=suffix or ""):
            pass
    except OSError as e:
        raise PhospheneError(f"{flag} {out}: cannot write to folder {folder} ({e.strerror or e}); choose another output") from None
    return out
