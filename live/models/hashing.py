"""sha256 of files and of whole exports: what ties an export to its checkpoint and an engine to its export.

    file_sha256(path)        hash the bytes (16 MiB reads)
    known_sha256(path)       the same, remembered in the user's cache (below): start-up hashes once
    export_sha256(folder, info)   the export's identity from the digests export.json records

Standard library only: the runtimes import it at start-up.

The cache (`$XDG_CACHE_HOME/phosphene/file-sha256.json`, default ~/.cache/phosphene/) maps a file's
absolute path to its digest and the stat it was taken at (size, mtime_ns, ctime_ns, inode): any write,
copy or `touch` changes one of them and the file is hashed again (a file changed in the last 2 s is
not remembered, so a second write inside one timestamp tick cannot hide). A cache that cannot be read or
written only costs a re-hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

CHUNK = 1 << 24  # 16 MiB reads: a 2.4 GB weights file hashes in a few seconds without filling memory
CACHE_FILE = "file-sha256.json"
RACY_NS = 2_000_000_000  # a file changed less than 2 s ago is not remembered: a second write within the
# filesystem's timestamp tick (coarse clocks, 1-2 s on some filesystems) would keep its stat (as git does)


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


def cache_dir() -> Path:
    """Phosphene's folder in the user's cache: $XDG_CACHE_HOME/phosphene, default ~/.cache/phosphene."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "phosphene"


def stamp(path: Path) -> list[int]:
    """What changes when the file does: size, mtime_ns, ctime_ns (no `touch -d` resets it), inode."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def known_sha256(path: Path, *, refresh: bool = False) -> str:
    """file_sha256(path), taken once per version of the file and then read from the cache;
    `refresh` hashes anyway (verify does) and records the result."""
    path = Path(path).resolve()
    cache_file = cache_dir() / CACHE_FILE
    cache = read_cache(cache_file)
    entry = cache.get(str(path))
    if not refresh and isinstance(entry, dict) and entry.get("stat") == stamp(path) and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    before = stamp(path)
    digest = file_sha256(path)
    if stamp(path) == before and time.time_ns() - max(before[1], before[2]) > RACY_NS:  # settled, not written while read
        cache = {k: v for k, v in read_cache(cache_file).items() if Path(k).exists()}  # forget files that are gone
        cache[str(path)] = {"stat": before, "sha256": digest}
        write_cache(cache_file, cache)
    return digest


def read_cache(cache_file: Path) -> dict:
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def write_cache(cache_file: Path, cache: dict) -> None:
    """Atomically (a temporary file renamed over it); a cache that cannot be written is skipped."""
    tmp = None
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{cache_file.name}.", suffix=".tmp", dir=cache_file.parent)
        tmp = Path(name)
        with os.fdopen(fd, "w") as f:
            json.dump(cache, f, indent=1)
        os.replace(tmp, cache_file)
        tmp = None
    except OSError:
        pass  # only costs a re-hash next time
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
