"""OSC over 127.0.0.1 (ports the OS picks): parameters and actions reach the live loop; a fuzz
corpus is ignored and counted, never raised; a flood does not slow the picture."""

import json
import math
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from live.control.osc import OscListener, parse
from live.control.surface import Inbox

ROOT = Path(__file__).resolve().parents[3]


def message(address, *values) -> bytes:
    builder = OscMessageBuilder(address)
    for v in values:
        builder.add_arg(v)
    return builder.build().dgram


def fuzz_corpus(n=3000):
    rng = np.random.default_rng(0)
    good = message("/phosphene/param/flash", 1.0)
    yield from (rng.bytes(int(rng.integers(0, 200))) for _ in range(n))  # random bytes
    yield from (good[:k] for k in range(len(good)))  # truncated packets
    yield good.replace(b",f", b",s")  # a wrong type tag
    yield good.replace(b",f", b",q")  # an unknown type tag
    yield message("/phosphene/param/flash", float("nan"))
    yield message("/phosphene/param/flash", 1e9)
    yield message("/phosphene/param/flash", "loud")
    yield message("/phosphene/prompt", "x" * 5000)
    yield message("/phosphene/param/nonesuch", 0.5)
    yield message("/elsewhere/entirely", 1)
    yield b"#bundle\x00" + struct.pack(">Q", 1) + struct.pack(">i", 9999) + b"short"  # a bundle lying about its size
    yield b"\x00" * 65000  # oversized (the most a UDP datagram holds is 65507)


def test_the_fuzz_corpus_never_raises():
    reasons = set()
    for data in fuzz_corpus():
        out = parse(data)  # must not raise
        reasons |= {out} if isinstance(out, str) else {kind for kind, *_ in out}
    assert {"malformed", "oversize", "unknown"} <= reasons


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_the_listener_validates_counts_and_coalesces():
    inbox = Inbox()
    listener = OscListener(inbox, port=0)
    try:
        client = SimpleUDPClient("127.0.0.1", listener.port)
        for data in fuzz_corpus(200):
            client._sock.sendto(data, ("127.0.0.1", listener.port))
        assert wait_for(lambda: sum(inbox.ignored.values()) >= 200)
        inbox.drain()  # whatever the corpus happened to make valid
        client.send_message("/phosphene/param/flash", 2.5)
        client.send_message("/phosphene/unit/zoom_bass", 0.5)
        client.send_message("/phosphene/action/blackout", [])
        client.send_message("/phosphene/param/flash", 99.0)  # out of range
        client.send_message("/phosphene/param/flash", "x")  # wrong type
        client.send_message("/nope", 1)
        assert wait_for(lambda: inbox.last is not None and inbox.ignored["osc:unknown"] >= 1)
        time.sleep(0.1)
        controls = {(c.kind, c.name): c.value for c in inbox.drain()}
        assert controls[("param", "flash")] == 2.5 and controls[("param", "zoom_bass")] == pytest.approx(0.06)
        assert ("action", "blackout") in controls
        assert inbox.ignored["osc:range"] >= 1 and inbox.ignored["osc:type"] >= 1 and inbox.ignored["osc:unknown"] >= 1
        assert inbox.ignored["osc:malformed"] > 0 and listener.process.is_alive()
    finally:
        listener.stop()


def test_a_taken_port_is_one_line():
    import socket

    from live.core.errors import PhospheneError

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(PhospheneError, match="another program listens on 127.0.0.1:.*choose another port"):
            OscListener(Inbox(), port=taken.getsockname()[1])
    finally:
        taken.close()


def run_refused(house_music, *flags) -> str:
    """`run ... FLAGS`: refused with exit 2 and one line on stderr, no child's traceback; that line."""
    cmd = [sys.executable, "-m", "live", "run", "--headless", "--input", str(house_music), "--engine", "shader", "--duration", "1", *flags]
    r = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--osc-port", "99999"], "error: --osc-port 99999: "),  # the parser's line (live/core/units.py PORT)
        (["--osc-port", "-1"], "error: --osc-port -1: "),
        (["--osc-host", "8.8.8.8", "--osc-port", "0"], "error: --osc-host 8.8.8.8: not an address of this machine; give one of its own"),
        (["--osc-host", "nosuch.invalid", "--osc-port", "0"], "error: --osc-host nosuch.invalid: not an address or a name this machine can resolve"),
        (["--osc-host", "0.0.0.0"], "error: --osc-host 0.0.0.0 names where OSC listens: add --osc-port N"),  # not silently ignored
    ],
)
def test_a_port_or_host_that_cannot_be_is_one_line(house_music, flags, says):
    line = run_refused(house_music, *flags)
    assert line.startswith(says) and "another port" not in line, line
    if says.startswith("error: --osc-port"):
        assert "65535" in line, line  # it says what a port may be


@pytest.mark.parametrize("port", [65536, 99999, -1])
def test_the_listener_refuses_a_port_no_socket_can_have_before_its_child_starts(port, monkeypatch):
    """The listener's own check (callers other than the parser: benches, tests): one line, no child."""
    from live.core.errors import PhospheneError

    started = []
    monkeypatch.setattr("multiprocessing.context.SpawnProcess.start", lambda self: started.append(self))
    with pytest.raises(PhospheneError, match=rf"^--osc-port {port}: a UDP port is 1-65535, or 0 for one the OS picks"):
        OscListener(Inbox(), port=port)
    assert started == []


def test_a_port_in_use_is_one_line_from_the_run(house_music):
    import socket

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        line = run_refused(house_music, "--osc-port", str(port))
    finally:
        taken.close()
    assert line == f"error: --osc-port {port}: another program listens on 127.0.0.1:{port}; choose another port, or 0 for one the OS picks"


def live_run(tmp_path, house_music, seconds, name, *extra):
    stats = tmp_path / f"{name}.json"
    cmd = [sys.executable, "-m", "live", "run", "--headless", "--windowed", "--input", str(house_music), "--engine", "shader"]
    cmd += ["--profile", "laptop", "--size", "128", "--duration", str(seconds), "--osc-port", "0", "--stats-json", str(stats), *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)
    port = None
    for line in proc.stderr:  # "OSC: listening on 127.0.0.1:PORT"
        if "OSC: listening on" in line:
            port = int(line.rsplit(":", 1)[1])
            break
    assert port, "the run never said its OSC port"
    return proc, port, stats


def test_params_and_actions_reach_the_live_loop(tmp_path, house_music):
    proc, port, stats_file = live_run(tmp_path, house_music, 4, "ctl")
    client = SimpleUDPClient("127.0.0.1", port)
    time.sleep(1.0)
    client.send_message("/phosphene/param/flash", 2.5)
    client.send_message("/phosphene/param/saturation", 0.3)
    client.send_message("/phosphene/action/hud", [])
    client.send_message("/phosphene/param/flash", float("nan"))
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    stats = json.loads(stats_file.read_text())
    assert stats["params"]["flash"] == 2.5 and stats["params"]["saturation"] == pytest.approx(0.3)  # OSC floats are 32-bit
    assert stats["controls"]["received"]["osc"] == 3 and stats["controls"]["ignored"]["osc:type"] == 1


def test_scenes_by_name_parse_and_validate():
    from live.control.surface import validate

    assert parse(message("/phosphene/scene", "tunnel")) == [("scene", "go", "tunnel")]
    assert parse(message("/phosphene/scene/cue", "cells")) == [("scene", "cue", "cells")]
    assert parse(message("/phosphene/scene/later", "cells")) == [("unknown", "/phosphene/scene/later", None)]
    control, _ = validate("scene", "cue", "cells", "osc")
    assert (control.kind, control.name, control.value, control.describe()) == ("scene", "cue", "cells", "cue scene cells")
    assert validate("scene", "go", 3.0, "osc") == (None, "type") and validate("scene", "go", "x" * 101, "osc") == (None, "type")


def test_a_scene_by_name_reaches_the_live_loop(tmp_path, house_music):
    """/phosphene/scene tunnel (the session's transition: a cut, at once), then /phosphene/scene/cue
    plasma and scene_go (on the next beat): the run's stats show both switches, in order, and end on
    plasma; a scene that does not exist is counted, not raised."""
    proc, port, stats_file = live_run(tmp_path, house_music, 6, "scenes", "--scene", "classic", "--transition", "cut on now")
    client = SimpleUDPClient("127.0.0.1", port)
    time.sleep(1.0)
    client.send_message("/phosphene/scene", "tunnel")
    client.send_message("/phosphene/scene", "nonesuch")
    time.sleep(1.0)
    client.send_message("/phosphene/scene/cue", "plasma")
    time.sleep(0.05)  # go at once: a cue alone fires on the next phrase start, and the first bar line (bar 1) is one
    client.send_message("/phosphene/action/scene_go", [])
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    stats = json.loads(stats_file.read_text())
    assert [name for _, name in stats["scenes"]["changes"]] == ["tunnel", "plasma"] and stats["scenes"]["current"] == "plasma"
    assert stats["scenes"]["changes"][0][0] < stats["scenes"]["changes"][1][0]  # generator frames: tunnel first
    assert stats["controls"]["received"]["osc"] == 4 and stats["controls"]["ignored"]["osc:scene"] == 1


def test_a_flood_does_not_slow_the_picture(tmp_path, house_music):
    """Tens of thousands of messages a second: the frame rate stays within 10% of a quiet run."""
    quiet, _, quiet_stats = live_run(tmp_path, house_music, 6, "quiet")
    quiet.communicate(timeout=60)
    loud, port, loud_stats = live_run(tmp_path, house_music, 6, "loud")
    sent, stop = [0], threading.Event()

    def flood():
        client = SimpleUDPClient("127.0.0.1", port)
        packets = [message("/phosphene/param/flash", 0.5 + (k % 100) / 100) for k in range(100)] + list(fuzz_corpus(100))
        while not stop.is_set():
            for data in packets:
                client._sock.sendto(data, ("127.0.0.1", port))
            sent[0] += len(packets)

    threading.Thread(target=flood, daemon=True).start()
    started = time.monotonic()
    loud.communicate(timeout=60)
    stop.set()
    rate = sent[0] / (time.monotonic() - started)
    q, f = json.loads(quiet_stats.read_text()), json.loads(loud_stats.read_text())
    print(f"flood: {rate:.0f} packets/s; fps quiet {q['fps']:.1f}, flooded {f['fps']:.1f}")
    assert rate > 10_000, rate
    assert f["fps"] >= 0.9 * q["fps"], (q["fps"], f["fps"], rate)
    assert f["controls"]["received"].get("osc", 0) > 0 and sum(f["controls"]["ignored"].values()) > 1000
    assert math.isfinite(f["params"]["flash"])
