"""Live input on a real audio server: a JACK dummy server started by the test, real recorded music
played into the input through jack_connect, and the server killed and restarted under a running
input. Skips (with the reason) where jackd or libportaudio2 are absent; `make test` installs them
when it runs as root."""

import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from live.core.errors import PhospheneError
from live.lab import jackdummy

needs_jack = pytest.mark.skipif(shutil.which("jackd") is None, reason="jackd (Debian jackd2) is not installed")


def start_jackd():
    return jackdummy.start_server()


def ports(direction):
    return jackdummy.ports(direction)


def play(music):
    return jackdummy.play(music)[0]


def connect(player_out, capture_in):
    jackdummy.connect(player_out, capture_in)


def level(live_input, seconds=0.3):
    return float(np.sqrt(np.mean(live_input.ring.newest(int(seconds * live_input.sr)).samples ** 2)))


@needs_jack
def test_devices_listing_and_errors(jack):
    """The test process never loads PortAudio itself (a dead server would abort it): probe() and
    `python -m live devices` run it in children."""
    from live.audio.capture import probe

    device, sr = probe("system", 1, None)
    assert device.name == "system" and "JACK" in device.hostapi and sr == 48000
    with pytest.raises(PhospheneError, match="no input device 'nonesuch'"):
        probe("nonesuch", 1, None)
    with pytest.raises(PhospheneError, match="refuses 44100 Hz"):
        probe("system", 1, 44100)  # the server runs at 48 kHz
    with pytest.raises(PhospheneError, match="has 2 input channel"):
        probe("system", 3, None)
    r = subprocess.run([sys.executable, "-m", "live", "devices"], capture_output=True, text=True)
    assert r.returncode == 0 and "system" in r.stdout and "JACK" in r.stdout
    assert "sounddevice" not in sys.modules


@needs_jack
def test_music_fills_the_ring_and_survives_a_server_restart(jack, house_music):
    from live.audio.capture import LiveInput

    live = LiveInput("system", channels=1, block_size=256, ring_s=5)
    live.start()
    try:
        time.sleep(0.5)
        silence = level(live)
        player = play(house_music)
        connect(ports("output")[0], ports("input"))
        time.sleep(0.8)
        music = level(live)
        assert silence < 1e-4 and music > 0.02, (silence, music)
        assert live.ring.overflows == 0
        assert abs(live.ring.capture_time(live.ring.written - 1) - time.monotonic()) < 0.1

        # the server dies mid-set: the input is marked lost, then comes back by itself
        player.kill()
        jackdummy.stop_server(jack)
        deadline = time.monotonic() + 5
        while not live.input_lost and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live.input_lost
        before = live.ring.written
        restarted = start_jackd()
        deadline = time.monotonic() + 15
        while live.reconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert live.reconnects == 1 and not live.input_lost
        player = play(house_music)
        connect(ports("output")[0], ports("input"))
        time.sleep(0.8)
        assert live.ring.written > before and level(live) > 0.02  # audio from after the reconnect
        player.kill()
        jackdummy.stop_server(restarted)
    finally:
        live.stop()


def test_a_device_without_inputs_is_refused(monkeypatch):
    """No output-only device can be made on the JACK dummy server (its `system` device has both),
    so this one test feeds find_input a device list: the only mock in this file, of the list alone."""
    from live.audio import capture
    from live.audio.capture import InputDevice, find_input

    devices = [InputDevice(0, "HDMI out", "ALSA", 0, 48000.0), InputDevice(1, "USB Audio", "ALSA", 2, 44100.0)]
    monkeypatch.setattr(capture, "list_inputs", lambda: devices)
    with pytest.raises(PhospheneError, match="'HDMI out' has no input channels"):
        find_input("HDMI")
    assert find_input("usb").index == 1 and find_input("1").name == "USB Audio"
