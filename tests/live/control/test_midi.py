"""MIDI through real JACK MIDI ports on a private dummy server: a sender (this test, a virtual
output port of python-rtmidi's JACK API) moves CCs, hits notes and sends 24-ppqn clock; the live
run's stats show the parameter moved, the action fired and the tempo locked to the clock."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import pytest

from live.control.midi import MidiMap
from live.core.errors import PhospheneError

ROOT = Path(__file__).resolve().parents[3]
needs_jack = pytest.mark.skipif(shutil.which("jackd") is None, reason="jackd (Debian jackd2) is not installed")
PORT = "phosphene-test:ctl"


@contextlib.contextmanager
def controller():
    """A controller on the private JACK server: python-rtmidi's virtual output port PORT, closed after."""
    import rtmidi

    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="phosphene-test")
    out.open_virtual_port("ctl")
    try:
        yield out
    finally:
        out.close_port()
        del out


def wait_for_port(proc) -> None:
    """Read the run's log until it has opened PORT."""
    for line in proc.stderr:
        if f"MIDI: {PORT}" in line:
            break


def start_run(house_music, stats_file, *extra, seconds=9):
    cmd = [sys.executable, "-m", "live", "run", "--headless", "--windowed", "--input", str(house_music), "--engine", "shader"]
    cmd += ["--profile", "laptop", "--size", "128", "--duration", str(seconds), "--stats-json", str(stats_file), *map(str, extra)]
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)


@needs_jack
def test_ccs_notes_and_clock_drive_the_run(jack, house_music, tmp_path):
    with controller() as out:
        stats_file = tmp_path / "stats.json"
        proc = start_run(house_music, stats_file, "--midi", PORT, "--midi-api", "jack")
        wait_for_port(proc)
        time.sleep(0.5)  # the run's port is connected to ours when it opens
        out.send_message([0xB0, 6, 127])  # CC 6 -> flash, to the top of its range
        out.send_message([0xB0, 7, 0])  # CC 7 -> saturation, to the bottom
        out.send_message([0xB0, 99, 10])  # unmapped: counted
        out.send_message([0x90, 43, 100])  # note 43 -> hud
        out.send_message([0xFA])  # Start
        period = 60.0 / 100.0 / 24  # 100 BPM, 24 ticks a beat
        next_tick = time.monotonic()
        for _ in range(24 * 8):  # eight beats
            next_tick += period
            time.sleep(max(0.0, next_tick - time.monotonic()))
            out.send_message([0xF8])
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    stats = json.loads(stats_file.read_text())
    assert stats["params"]["flash"] == pytest.approx(3.0) and stats["params"]["saturation"] == pytest.approx(0.0)
    assert stats["controls"]["received"]["midi"] == 3 and stats["controls"]["ignored"]["midi:unmapped"] == 1
    assert stats["controls"]["received"]["midi clock"] >= 8
    assert abs(stats["tempo_bpm"] - 100.0) < 1.0, stats["tempo_bpm"]  # the beat clock follows the DJ's clock
    assert stats["tempo_source"] == "midi"


@needs_jack
def test_a_controller_unplugged_mid_set_comes_back(jack, house_music, tmp_path):
    import rtmidi

    stats_file = tmp_path / "stats.json"
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="phosphene-test")
    out.open_virtual_port("ctl")
    proc = start_run(house_music, stats_file, "--midi", PORT, "--midi-api", "jack", seconds=10)
    wait_for_port(proc)
    time.sleep(0.5)
    out.close_port()  # unplugged
    del out
    time.sleep(2.5)
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="phosphene-test")
    out.open_virtual_port("ctl")  # plugged back in
    time.sleep(2.5)
    out.send_message([0xB0, 6, 0])  # CC 6 -> flash, to the bottom: heard after the reconnect
    _, err = proc.communicate(timeout=60)
    out.close_port()
    del out
    assert proc.returncode == 0, err
    stats = json.loads(stats_file.read_text())
    assert list(stats["controllers"].values()) == [{"lost": False, "reconnects": 1}] and "is gone" in err
    assert stats["params"]["flash"] == pytest.approx(0.0)


@needs_jack
def test_a_missing_port_is_one_line(jack, house_music, tmp_path):
    r = start_run(house_music, tmp_path / "s.json", "--midi", "nonesuch", "--midi-api", "jack")
    _, err = r.communicate(timeout=60)
    assert r.returncode == 2 and err.strip().startswith("error: --midi nonesuch is not a MIDI input here"), err


def no_jack_env() -> dict:
    """This environment, its JACK clients pointed at a server name nobody runs (never a user's own)."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "JACK_DEFAULT_SERVER": f"phosphene-none-{os.getpid()}", "JACK_NO_START_SERVER": "1"}


@pytest.mark.parametrize(
    "command, says",
    [
        (["midi", "--midi-api", "jack"], "error: MIDI, --midi-api jack: no JACK server is running; start one"),
        (["midi", "--midi-api", "alsa"], "error: MIDI, --midi-api alsa: no ALSA sequencer here (/dev/snd/seq is missing"),
        (
            ["run", "--headless", "--engine", "shader", "--duration", "1", "--midi", "ctl", "--midi-api", "jack"],
            "error: --midi ctl: MIDI, --midi-api jack: no JACK server is running",
        ),
    ],
)
def test_no_midi_server_is_one_line_without_the_librarys_own(command, says, house_music):
    """libjack ("Cannot connect to server socket ...") and libasound ("ALSA lib seq_hw.c ...") print
    their own lines when there is no server: they go to the debug log, and stderr holds ours alone."""
    if "alsa" in command and os.path.exists("/dev/snd/seq"):
        pytest.skip("this machine has an ALSA sequencer")
    if command[0] == "run":
        command = [*command, "--input", str(house_music)]
    r = subprocess.run([sys.executable, "-m", "live", *command], cwd=ROOT, env=no_jack_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().startswith(says), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr


def test_map_files(tmp_path):
    good = tmp_path / "map.toml"
    good.write_text('[cc]\n1 = "flash"\n21 = { param = "zoom_bass", mode = "relative" }\n[note]\n36 = "blackout"\n')
    mapping = MidiMap.load(good)
    assert mapping.cc == {1: ("flash", "absolute"), 21: ("zoom_bass", "relative")} and mapping.notes == {36: "blackout"}
    for text, needle in (
        ('[cc]\n1 = "volume"\n', "cc 1 = 'volume'"),
        ('[note]\n36 = "explode"\n', "note 36 = 'explode'"),
        ("[note]\n36 = { scene = 3 }\n", "a scene's name is a string"),
        ('[note]\n36 = { scene = "tunnel", cue = "cells" }\n', '{ scene = "NAME" }'),
        ('[cc]\n300 = "flash"\n', "numbers are 0..127"),
        ("[knobs]\n", "unknown table"),
        ("[cc\n", "not valid TOML"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(PhospheneError, match=needle):
            MidiMap.load(bad)


@pytest.mark.parametrize(
    "chosen, accepted",
    [("auto", {"tap", "midi", "link"}), ("audio", set()), ("midi", {"midi"}), ("tap", {"tap"}), ("link", {"link"})],
)
def test_tempo_source_decides_which_taps_drive_the_beat(chosen, accepted):
    """apply_control on the loop's side: the generator worker's tap list is what the beat clock reads."""
    from live.app.run import GeneratorWorker, apply_control
    from live.control.surface import Control

    worker = GeneratorWorker(source=None, channels=None, slot=None, make_engine=None)  # a real worker, not started
    worker.tempo_source = chosen
    last = "audio"
    for source, kind in (("keys", "tap"), ("midi clock", "midi"), ("link", "link")):
        before = len(worker.taps)
        apply_control(Control("action", "tap", 12.5, source), t0=13.0, display=None, generator=worker, controls=None, lock=None)
        assert (len(worker.taps) > before) == (kind in accepted)
        last = kind if kind in accepted else last
    assert worker.tempo_driver == last  # auto: the latest to speak


def osc_port_from(proc) -> int:
    for line in proc.stderr:
        if "OSC: listening on 127.0.0.1:" in line:
            return int(line.rsplit(":", 1)[1])
    raise AssertionError("the run never said its OSC port")


@needs_jack
def test_midi_learn_binds_saves_and_the_map_reloads(jack, house_music, tmp_path):
    """Learn armed over OSC (as a phone or TouchDesigner would; the L key does the same), a
    parameter touched over OSC, then a CC moved: bound and saved. Then the other order for a note:
    the pad first, the action second. The saved file loads as a map, and the CC drives its new
    parameter in the same set."""
    from pythonosc.udp_client import SimpleUDPClient

    map_file = tmp_path / "rig.toml"  # does not exist yet: learn writes it
    with controller() as out:
        stats_file = tmp_path / "stats.json"
        proc = start_run(house_music, stats_file, "--midi", PORT, "--midi-api", "jack", "--midi-map", map_file, "--osc-port", 0)
        osc = SimpleUDPClient("127.0.0.1", osc_port_from(proc))
        wait_for_port(proc)
        time.sleep(0.5)
        steps = [
            ("osc", "/phosphene/action/learn", []),
            ("osc", "/phosphene/param/zoom", 0.01),  # the target ...
            ("midi", [0xB0, 50, 64]),  # ... and CC 50, unmapped until now
            ("midi", [0xB0, 50, 127]),  # bound: zoom to the top of its range
            ("osc", "/phosphene/action/learn", []),
            ("midi", [0x90, 60, 100]),  # a pad first this time ...
            ("osc", "/phosphene/action/freeze", []),  # ... then the action
        ]
        for via, *message in steps:
            osc.send_message(*message) if via == "osc" else out.send_message(*message)
            time.sleep(0.4)  # the frame loop drains its inbox between frames: one step per few frames
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    stats = json.loads(stats_file.read_text())
    assert stats["params"]["zoom"] == pytest.approx(0.03)  # CC 50 -> zoom, after learning
    learned = MidiMap.load(map_file)
    assert learned.cc[50] == ("zoom", "absolute") and learned.notes[60] == "freeze"
    assert learned.cc[1] == ("strength", "absolute")  # the rest of the map kept
    assert not list(tmp_path.glob(".*.tmp")) and "saved to" in err


class FakeMidi:
    """Stands in for a MidiInput's map holder: only `mapping` and `values` are read."""

    def __init__(self):
        self.mapping, self.values, self.learn = MidiMap(), {}, None


def test_learn_checks_the_kinds_and_keeps_the_binding_when_it_cannot_save(tmp_path):
    from live.control.midi import Learn

    midi = FakeMidi()
    learn = Learn(midi, tmp_path / "missing-folder" / "map.toml")
    learn.toggle()
    learn.offer_target("param", "flash")
    learn.offer_midi("note", 70)  # a pad for a parameter: refused, still armed
    assert learn.armed and "move a knob or fader" in learn.message and 70 not in midi.mapping.notes
    learn.offer_midi("cc", 70)
    assert not learn.armed and midi.mapping.cc[70] == ("flash", "absolute") and "NOT saved" in learn.status()
    learn.toggle()
    learn.step(-1)  # from the end of the list: the last action
    assert learn.target == Learn.TARGETS[-1] and learn.target[0] == "action"
    learn.offer_target("param", "nonesuch")  # not a target: ignored
    assert learn.target == Learn.TARGETS[-1]


def test_notes_for_scenes_by_name(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('[note]\n36 = "blackout"\n48 = { scene = "tunnel" }\n49 = { cue = "cells" }\n')
    mapping = MidiMap.load(path)
    assert mapping.notes == {36: "blackout"} and mapping.scenes == {48: ("go", "tunnel"), 49: ("cue", "cells")}
    mapping.check_scenes(["classic", "tunnel", "cells"], "--midi-map m")
    with pytest.raises(PhospheneError, match=r"--midi-map m: note 49 = \{ cue = 'cells' \}: no such scene \(there are: classic, tunnel\)"):
        mapping.check_scenes(["classic", "tunnel"], "--midi-map m")


@needs_jack
def test_notes_go_to_and_cue_scenes_by_name(jack, house_music, tmp_path):
    """Note 48 goes to tunnel (the session's transition: a cut, at once); note 49 cues plasma and
    note 50 (scene_go) fires it on the next beat: the run's stats show both switches, in order."""
    midi_map = tmp_path / "map.toml"
    midi_map.write_text('[note]\n48 = { scene = "tunnel" }\n49 = { cue = "plasma" }\n50 = "scene_go"\n')
    with controller() as out:
        stats_file = tmp_path / "stats.json"
        args = ("--midi", PORT, "--midi-api", "jack", "--midi-map", midi_map, "--scene", "classic", "--transition", "cut on now")
        proc = start_run(house_music, stats_file, *args, seconds=7)
        wait_for_port(proc)
        time.sleep(1.0)
        out.send_message([0x90, 48, 100])
        time.sleep(1.0)
        out.send_message([0x90, 49, 100])
        time.sleep(0.05)  # go at once: a cue alone fires on the next phrase start, and the first bar line (bar 1) is one
        out.send_message([0x90, 50, 100])
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    stats = json.loads(stats_file.read_text())
    assert [name for _, name in stats["scenes"]["changes"]] == ["tunnel", "plasma"] and stats["scenes"]["current"] == "plasma"
    assert stats["controls"]["received"]["midi"] == 3


def test_a_map_naming_a_scene_that_does_not_exist_is_refused_at_start(house_music, tmp_path):
    """Checked before any port is opened: no JACK needed for the refusal."""
    midi_map = tmp_path / "map.toml"
    midi_map.write_text('[note]\n48 = { scene = "tunel" }\n')
    r = start_run(house_music, tmp_path / "s.json", "--midi", "anything", "--midi-map", midi_map, "--scene", "classic")
    _, err = r.communicate(timeout=60)
    assert r.returncode == 2 and err.strip().startswith(f"error: --midi-map {midi_map}: note 48 = {{ scene = 'tunel' }}: no such scene"), (
        err
    )


def test_a_saved_map_is_read_back_as_it_was(tmp_path):
    mapping = MidiMap(
        {1: ("flash", "absolute"), 21: ("zoom_bass", "relative")}, {36: "blackout"}, {48: ("go", "tunnel"), 49: ("cue", "cells")}
    )
    path = tmp_path / "map.toml"
    mapping.save(path)
    assert MidiMap.load(path) == mapping and not list(tmp_path.glob(".*.tmp"))


def test_song_position_sets_where_in_the_beat_the_clock_resumes():
    """The clock logic of a MidiInput without a port (its mapping runs on rtmidi's thread, given
    messages; the port itself is exercised through JACK above)."""
    import mido

    from live.control.midi import CLOCKS_PER_BEAT, MidiInput
    from live.control.surface import Inbox

    midi = MidiInput.__new__(MidiInput)  # no port: only the message mapping runs
    midi.inbox, midi.mapping, midi.learn, midi.values = Inbox(), MidiMap(), None, {}
    midi.running, midi.clocks = True, 0
    midi._ticks = deque(maxlen=4 * CLOCKS_PER_BEAT)
    midi._map(mido.Message("stop"))
    midi._map(mido.Message("songpos", pos=2))  # two sixteenths in: half a beat
    midi._map(mido.Message("continue"))
    taps = []
    for _ in range(CLOCKS_PER_BEAT):
        midi._map(mido.Message("clock"))
        taps.append(len(midi.inbox.drain()))
    assert taps.index(1) == CLOCKS_PER_BEAT // 2 - 1 and sum(taps) == 1  # the beat falls half a beat in, not a whole one
    midi._map(mido.Message("start"))
    for _ in range(CLOCKS_PER_BEAT - 1):
        midi._map(mido.Message("clock"))
    assert not midi.inbox.drain()  # Start: a whole beat to the next one
    midi._map(mido.Message("clock"))
    assert len(midi.inbox.drain()) == 1
