"""sha256 of files and of whole exports: what ties an export to its checkpoint and an engine to its export.

Standard library only: the runtimes import it at start-up.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 24  # 16 MiB reads: a 2.4 GB weights file hashes in a few seconds without filling memory


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def files_sha256(paths: list[Path]) -> str:
    """One digest over several files (a sharded checkpoint, model.onnx + its external data), by name."""
    h = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        h.update(f"{path.name}:{file_sha256(path)}\n".encode())
    return h.hexdigest()


def export_sha256(folder: Path, info: dict) -> str:
    """The export's identity, from the per-file digests export.json records (cheap: no re-hashing).
    `python -m export verify` re-hashes the files themselves and compares."""
    h = hashlib.sha256()
    for name in sorted(info["files"]):
        h.update(f"{name}:{info['files'][name]['sha256']}\n".encode())
    return h.hexdigest()
