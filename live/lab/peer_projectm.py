"""projectM beside the shader engine: `bench shaders --peer projectm`.

Debian's libprojectM 3.1 (the Milkdrop visualizer VJs know) draws random presets of projectm-data
offscreen on the same GL (EGL, Mesa llvmpipe here), with the same audio pushed per frame, at the
same sizes and frame counts as the shader engine in the same run. Its API is C++ only, so the runner
is a small C++ file beside this one (peer_projectm.cpp), compiled once into the user's cache; one
process per preset, so a preset that crashes or hangs costs only its own row.

    peer = ProjectM.find()          # .missing: why it cannot run (no library, headers, compiler, presets)
    peer.bench(audio_path, (512, 512), frames=24, warmup=6, fps=24, count=20, seed=1)
        -> {"median_fps": ..., "measured": 20, "presets": 20, "failed": 0, "rows": [...]}

Caveats (theirs, from the reference harness in the shared tools): projectM 3.1 renders its warp at
((size - 15) // 16) * 16 and only composites at the full size; its animation follows the wall clock;
a preset whose shader fails falls back to cheaper default shaders (still counted, as projectM shows it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("peer_projectm.cpp")
HEADER = Path("/usr/include/libprojectM/projectM.hpp")  # Debian: libprojectm-dev
PRESETS = Path("/usr/share/projectM/presets")  # Debian: projectm-data
PCM_SR = 44100  # projectM's PCM rate
TIMEOUT_S = 120  # one preset, setup included; a hang is a failed row, not a stuck bench


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "phosphene"


@dataclass
class ProjectM:
    binary: Path | None
    missing: str = ""  # empty when it can run

    @classmethod
    def find(cls) -> ProjectM:
        """The runner, compiled on first use; `missing` says in one line what is not installed."""
        compiler = shutil.which("g++") or shutil.which("c++")
        if not HEADER.is_file():
            return cls(None, f"Debian's libprojectM is not installed ({HEADER} missing): apt-get install libprojectm-dev projectm-data")
        if not PRESETS.is_dir():
            return cls(None, f"no projectM presets ({PRESETS} missing): apt-get install projectm-data")
        if compiler is None:
            return cls(None, "no C++ compiler to build the projectM runner (live/lab/peer_projectm.cpp): apt-get install g++")
        digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
        binary = cache_dir() / f"peer_projectm-{digest}"
        if not binary.is_file():
            binary.parent.mkdir(parents=True, exist_ok=True)
            partial = binary.with_name(binary.name + ".partial")
            cmd = [compiler, "-std=c++14", "-O2", "-o", str(partial), str(SOURCE), "-lprojectM", "-lEGL", "-lGL"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                partial.unlink(missing_ok=True)
                last = (r.stderr.strip().splitlines() or ["?"])[-1]
                return cls(None, f"the projectM runner did not build ({' '.join(cmd)}): {last}")
            os.replace(partial, binary)
        return cls(binary)

    def presets(self, count: int, seed: int) -> list[Path]:
        return pick_presets(count, seed)

    @staticmethod
    @contextlib.contextmanager
    def pcm_file(pcm: np.ndarray):
        """The audio as the runner reads it: a temporary file of interleaved stereo float32 (PCM_SR)."""
        with tempfile.TemporaryDirectory(prefix="phosphene-peer-") as tmp:
            path = Path(tmp) / "audio.f32"
            np.ascontiguousarray(pcm, dtype=np.float32).tofile(path)
            yield path

    def bench(self, pcm: np.ndarray, size: tuple[int, int], *, frames: int, warmup: int, fps: int, count: int, seed: int) -> dict:
        """`count` random presets at `size` on `pcm` (float32 (n, 2) at PCM_SR, at least (warmup + frames + 1) / fps s:
        the caller decodes it, as it does its own audio), one after the other."""
        with self.pcm_file(pcm) as path:
            rows = [self.run_one(path, preset, *size, frames, warmup, fps) for preset in self.presets(count, seed)]
        return self.summary(size, rows)

    @staticmethod
    def summary(size: tuple[int, int], rows: list[dict]) -> dict:
        measured = [r["fps"] for r in rows if r["fps"] is not None]
        print(f"projectM {size[0]}x{size[1]}: {len(measured)} of {len(rows)} presets measured, median "
              + (f"{statistics.median(measured):.1f} fps (min {min(measured):.1f}, max {max(measured):.1f})" if measured else "-"))
        return {
            "median_fps": statistics.median(measured) if measured else float("nan"),
            "measured": len(measured),
            "presets": len(rows),
            "failed": len(rows) - len(measured),
            "rows": rows,
        }

    def run_one(self, pcm_path: Path, preset: Path, width: int, height: int, frames: int, warmup: int, fps: int) -> dict:
        cmd = [str(self.binary), str(pcm_path), str(preset), str(width), str(height), str(frames), str(warmup), str(fps)]
        row = {"preset": preset.stem, "fps": None, "status": ""}
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            row["status"] = "timeout"
            return row
        fields = dict(kv.split("=", 1) for kv in r.stdout.split() if "=" in kv)
        if r.returncode != 0 or "fps" not in fields:
            row["status"] = f"exit {r.returncode}" + (f" ({fields['status']})" if "status" in fields else "")
            return row
        row.update(fps=float(fields["fps"]), mean=float(fields["mean"]), status=fields["status"])
        return row


def pick_presets(count: int, seed: int, root: Path = PRESETS) -> list[Path]:
    """`count` presets of every *.milk under root, sorted, drawn by random.Random(seed)."""
    every = sorted(root.rglob("*.milk"))
    return random.Random(seed).sample(every, min(count, len(every)))
