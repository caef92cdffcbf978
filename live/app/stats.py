"""A run's figures: the live loop's bounded series and summary, and the JSON that `--stats-json` writes."""

from __future__ import annotations

import json
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class Series:
    """The newest `size` rows of `width` floats, in one preallocated array: a set of hours runs in
    constant memory (Python lists or deques of float tuples cost ~110 bytes a row, ~0.2 MiB a minute
    at the run's rates)."""

    def __init__(self, size: int, width: int = 1):
        self.rows = np.zeros((size, width), dtype=np.float64)
        self.count = 0  # rows ever appended

    def append(self, *values: float) -> None:
        self.rows[self.count % len(self.rows)] = values
        self.count += 1

    def __len__(self) -> int:
        return min(self.count, len(self.rows))

    def last(self) -> np.ndarray:
        """The newest row (a view; no copy): for checks on every frame."""
        return self.rows[(self.count - 1) % len(self.rows)]

    def newest(self, n: int | None = None) -> np.ndarray:
        """The newest n rows (default: all kept), oldest first."""
        n = len(self) if n is None else min(n, len(self))
        index = np.arange(self.count - n, self.count) % len(self.rows)
        return self.rows[index]


@dataclass
class RunStats:
    frames: int = 0
    dropped_frames: int = 0
    present_s: float = 0.0  # time in display.present and the outputs' send, summed over the shown frames
    # bounded, for sets of hours: percentiles over the last ~an hour at 60 fps, traces at 10 Hz over the last two hours
    latency_ms: Series = field(default_factory=lambda: Series(200_000))
    hud_level: Series = field(default_factory=lambda: Series(72_000, 2))  # (seconds since start, meter value)
    latency_trace: Series = field(default_factory=lambda: Series(72_000, 2))  # (seconds since start, latency ms)
    TRACE_EVERY_S = 0.1

    def trace(self, t_s: float, level: float, latency: float | None) -> None:
        if len(self.hud_level) and t_s - self.hud_level.last()[0] < self.TRACE_EVERY_S - 1e-6:  # slack: float steps of 0.1 s
            return
        self.hud_level.append(t_s, level)
        if latency is not None:
            self.latency_trace.append(t_s, latency)

    started: float = field(default_factory=time.monotonic)

    def summary(self, source, worker, generator) -> dict:
        lat = self.latency_ms.newest()[:, 0] if len(self.latency_ms) else np.array([np.nan])
        seconds = time.monotonic() - self.started
        return {
            "frames": self.frames,
            "seconds": seconds,
            "started_monotonic": self.started,  # the loop's start on the system's monotonic clock (a bench's timeline)
            "fps": self.frames / seconds if seconds else 0.0,
            "latency_ms": {p: float(np.nanpercentile(lat, int(p[1:]))) for p in ("p50", "p95", "p99")},
            "overflows": source.ring.overflows if source.ring is not None else 0,
            "callback_us": source.ring.callback_us if source.ring is not None else 0.0,
            "block_ms": 1000 * source.block_size / source.sr,
            "dropped_frames": self.dropped_frames,
            "reconnects": source.reconnects,
            "encoder": {
                "encodes": worker.encodes,
                "skipped_hops": worker.skipped,
                "errors": worker.errors,
                "last_ms": worker.last_ms,
                "mean_ms": worker.total_ms / max(1, worker.encodes),
            }
            if worker
            else None,
            "present_ms_mean": 1000 * self.present_s / max(1, self.frames),
            "peak_rss_mib": peak_rss_kib() / 1024,
            "cuda_peak_mib": cuda_peak_mib(),
            "generator": {"frames": generator.frames, "errors": generator.errors, "ms_mean": generator.total_ms / max(1, generator.frames)},
            "hud_level": [[round(t, 3), round(v, 5)] for t, v in self.hud_level.newest().tolist()],
            "latency_trace": [[round(t, 3), round(ms, 2)] for t, ms in self.latency_trace.newest().tolist()],
        }


def cuda_peak_mib() -> float | None:
    """Peak GPU memory torch allocated in this process, or None where CUDA was never used."""
    import sys

    torch = sys.modules.get("torch")  # never imported for it: the shader engine runs without torch
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return torch.cuda.max_memory_allocated() / 2**20


def peak_rss_kib() -> float:
    """This process's own peak resident memory. Not ru_maxrss: after fork + exec that starts from
    the parent's peak, so a child of a big process would report the parent's size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def write_stats(path: str, result) -> None:
    peak_kib = peak_rss_kib()
    stats = {
        "output": str(result.output),
        "frames": result.frames,
        "seconds": result.seconds,
        "fps": result.frames / result.seconds,
        "stage_ms": result.stage_ms,
        "engine": result.engine,
        "peak_rss_mib": peak_kib / 1024,
    }
    if getattr(result, "scenes", None):  # per frame: which scene drew it
        stats["scene_per_frame"] = result.scenes
        stats["scene_changes"] = [[k, name] for k, name in enumerate(result.scenes) if k == 0 or result.scenes[k - 1] != name]
    for name, values in getattr(result, "per_frame", {}).items():  # strength_per_frame, audio_weight_per_frame
        stats[f"{name}_per_frame"] = values
    if getattr(result, "notes", None):
        stats["notes"] = result.notes
    write_json(path, stats, indent=2)


def write_json(path, data, **kwargs) -> None:
    """Written whole or not at all: a temporary file beside it, renamed when complete."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, **kwargs))
    partial.replace(path)
