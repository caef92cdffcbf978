"""A JACK dummy server and a file player on it: real audio callbacks without sound hardware, for
rehearsal, the tests and `bench live`. Needs Debian's jackd2 (jackd, jack_lsp, jack_connect).

    server = start_server()          # jackd -n phosphene-dummy, dummy backend, 48 kHz
    player = play("song.mp3")        # a JACK client looping the file on its output port
    connect(new_output_port, ports("input"))   # into whatever reads from JACK
    stop_server(server)              # that process only

The server runs under a private name, and start_server points this process and its children at it
(JACK_DEFAULT_SERVER, JACK_NO_START_SERVER=1): a user's own JACK server (named `default`) is never
seen, used or stopped by a test or a bench.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from live.core.defaults import ROOT
from live.core.errors import PhospheneError

# --sync: the dummy driver waits for every client each period. In its default async mode, clients
# that cannot get real-time priority (containers, CI) are reported "not finished" several times a
# second: xruns, which PortAudio passes on as input overflow although no audio was late at all.
JACKD = ["jackd", "--no-realtime", "--sync", "-d", "dummy", "-r", "48000", "-p", "1024"]  # `-n NAME` goes in front
PLAYER = textwrap.dedent(
    """
    import sys, time, numpy as np, sounddevice as sd
    sys.path.insert(0, {root!r})
    from live.audio.decode import open_segment, stream
    music = np.concatenate(list(stream(open_segment({path!r}), sr=48000, channels=1)))[:, 0]
    pos = 0
    def cb(out, frames, t, status):
        global pos
        out[:, 0] = music[(np.arange(frames) + pos) % len(music)]  # the file, looped
        pos += frames
    with sd.OutputStream(device="system", channels=1, samplerate=48000, blocksize=1024, callback=cb):
        print("playing", flush=True)
        while True:
            time.sleep(1)
    """
)


STARTED: list[subprocess.Popen] = []  # every server this process started: a test's teardown stops them all, even after a failure


def private_name() -> str:
    """One fixed name, not one per process: JACK's registry holds 8 servers, and the entry of a server
    that died is reclaimed only by a new server of the same name (PHOSPHENE_JACK_NAME overrides it)."""
    return os.environ.get("PHOSPHENE_JACK_NAME", "phosphene-dummy")


def server_up() -> bool:
    """Is the server this process's clients are pointed at (JACK_DEFAULT_SERVER) answering?"""
    return subprocess.run(["jack_lsp"], capture_output=True).returncode == 0


def start_server(name: str | None = None) -> subprocess.Popen:
    """Start jackd under `name` (default: phosphene-dummy) and point this process's JACK clients,
    and its children's, at it. A server of that name killed a moment ago can still hold its socket:
    retry a few times."""
    name = name or private_name()
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"  # a client must never start a server of its own
    command = [JACKD[0], "-n", name, *JACKD[1:]]
    for _ in range(3):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if server_up():
                STARTED.append(proc)
                return proc
            time.sleep(0.1)
        stop_server(proc)
        time.sleep(1.0)
    raise PhospheneError(f"jackd did not start ({' '.join(command)}); is another audio server holding the device?")


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server this module started, by its process: nothing else is touched. SIGTERM first:
    a server killed outright leaves its entry in JACK's shared registry, and after a handful of those
    no new server starts ("Too many servers already active")."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait(timeout=5)


def ports(direction: str) -> list[str]:
    """Client ports (not the server's system:*) of a direction, "input" or "output"."""
    out = subprocess.run(["jack_lsp", "-p"], capture_output=True, text=True).stdout.splitlines()
    return [name for name, props in zip(out[::2], out[1::2], strict=False) if not name.startswith("system:") and direction in props]


def play(path) -> tuple[subprocess.Popen, str]:
    """A JACK client looping `path`; returns the process and its output port."""
    before = set(ports("output"))
    proc = subprocess.Popen([sys.executable, "-c", PLAYER.format(root=str(ROOT), path=str(path))], stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "playing":
        proc.kill()
        raise PhospheneError("the JACK player did not start (is libportaudio2 installed?)")
    return proc, [p for p in ports("output") if p not in before][0]


def connect(output_port: str, input_ports: list[str]) -> None:
    for port in input_ports:
        subprocess.run(["jack_connect", output_port, port], check=True, capture_output=True)
