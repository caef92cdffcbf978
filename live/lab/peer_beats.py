"""Peer beat trackers for `python -m live bench beats --peers`, run as a script in their own
environment (.venv-peers: scripts/install-peers.sh, requirements-peers.txt), never imported by the
project: madmom and BeatNet are bench-only.

    .venv-peers/bin/python live/lab/peer_beats.py < jobs.json > beats.json

jobs.json: {"jobs": [{"wav": PATH, "start_s": S, "seconds": D}, ...]}. The answer, one line of JSON:
{"trackers": {"madmom online": [{"beats": [s, ...], "compute_s": c}, ...], ...}, "errors": {name: why}}
with one entry per job, beats from the excerpt's start, compute_s the tracker's time on it (the
model loading once, before the first job, is not counted).

    madmom online    RNNBeatProcessor(online=True): the unidirectional networks, frame by frame;
                     DBNBeatTrackingProcessor(online=True): the forward algorithm, causal
    madmom offline   the bidirectional networks and the Viterbi DBN over the whole excerpt
    BeatNet online   BeatNet(1, mode="online", inference_model="PF"): its CRNN and particle filter
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

SR = 44_100  # madmom's and BeatNet's models resample to what they need; the excerpt is written at this rate


def _madmom(online: bool):
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor

    rnn = RNNBeatProcessor(online=online)
    dbn = DBNBeatTrackingProcessor(fps=100, online=online)

    def track(path: str) -> list[float]:
        activation = rnn(path)
        if online:
            dbn.reset()
            return [float(b) for b in dbn.process_online(activation, reset=True)]
        return [float(b) for b in dbn(activation)]

    return track


def _beatnet():
    from BeatNet.BeatNet import BeatNet

    def track(path: str) -> list[float]:
        estimator = BeatNet(1, mode="online", inference_model="PF", plot=[], thread=False)  # fresh particles per excerpt
        out = estimator.process(path)
        return [float(row[0]) for row in out] if out is not None and len(out) else []

    return track


TRACKERS = {"madmom online": lambda: _madmom(True), "madmom offline": lambda: _madmom(False), "BeatNet online": _beatnet}


def main() -> int:
    import librosa
    import soundfile

    jobs = json.load(sys.stdin)["jobs"]
    results, errors = {}, {}
    with tempfile.TemporaryDirectory(prefix="phosphene-peers-") as folder:
        excerpts = []
        for i, job in enumerate(jobs):
            y, _ = librosa.load(job["wav"], sr=SR, offset=job["start_s"], duration=job["seconds"])
            path = Path(folder) / f"excerpt{i}.wav"
            soundfile.write(path, y, SR)
            excerpts.append(str(path))
        for name, make in TRACKERS.items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    track = make()
                    rows = []
                    for path in excerpts:
                        t0 = time.process_time()
                        beats = track(path)
                        rows.append({"beats": beats, "compute_s": time.process_time() - t0})
                results[name] = rows
            except Exception as e:  # a peer that cannot run is reported, the others still are
                errors[name] = f"{type(e).__name__}: {e}"
    json.dump({"trackers": results, "errors": errors}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
