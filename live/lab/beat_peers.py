"""Runs the peer beat trackers (live/lab/peer_beats.py) in their own environment, a child process of
.venv-peers (scripts/install-peers.sh), for `python -m live bench beats --peers`. The project never
imports madmom or BeatNet: they are bench-only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from live.core.errors import PhospheneError

ROOT = Path(__file__).resolve().parents[2]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
CHILD = Path(__file__).with_name("peer_beats.py")
PEERS = ("madmom online", "madmom offline", "BeatNet online")
CAUSAL = {"ours": True, "librosa": False, "madmom online": True, "madmom offline": False, "BeatNet online": True}


def peers_python() -> Path:
    python = Path(os.environ.get("PHOSPHENE_PEERS_PYTHON", PEERS_PYTHON))
    if not python.exists():
        raise PhospheneError(f"bench beats --peers needs the peers' environment {python.parent.parent}: run scripts/install-peers.sh")
    return python


def run_peers(jobs: list[dict], *, timeout_s: float = 3600) -> dict[str, list[dict]]:
    """tracker -> one {"beats", "compute_s"} per job ({"wav", "start_s", "seconds"}). A peer that fails
    is left out with a line on stderr saying why; none running is an error."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # one core, as ours is timed
    r = subprocess.run(
        [str(peers_python()), str(CHILD)], input=json.dumps({"jobs": jobs}), capture_output=True, text=True, env=env, timeout=timeout_s
    )
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise PhospheneError(f"the peer trackers failed ({peers_python()} {CHILD.name}): {tail}")
    answer = json.loads(r.stdout)
    for name, why in answer["errors"].items():
        print(f"peer {name} could not run: {why}", file=sys.stderr)
    if not answer["trackers"]:
        raise PhospheneError("no peer tracker could run: see the lines above")
    return answer["trackers"]
