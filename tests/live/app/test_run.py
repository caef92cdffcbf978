"""`python -m live run` with real parts: a JACK dummy server with real recorded music played into
the input through jack_connect, a real window (SDL's dummy video driver for the stats runs, Xvfb for
the screenshot), the server killed and restarted mid-run. Tiny models: the pictures mean nothing,
the plumbing is what is tested. Skips, with the reason, where jackd / Xvfb / ImageMagick are absent;
`make test` installs them when run as root."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from live.lab import jackdummy
from tests.live.audio.test_capture import connect, play, ports, start_jackd

ROOT = Path(__file__).resolve().parents[3]
needs_jack = pytest.mark.skipif(shutil.which("jackd") is None, reason="jackd (Debian jackd2) is not installed")
TINY_RUN = ["--models", "tiny", "--profile", "laptop", "--compute", "cpu"]


def run_live(*args, env_extra=None, headless=True, **popen):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "live", "run", *(["--headless"] if headless else []), *map(str, args)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def wait_for_capture_ports(timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = ports("input")
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("the live run never opened its input")


def levels_between(stats, a, b):
    return np.array([level for t, level in stats["hud_level"] if a <= t < b])


@needs_jack
def test_live_run_follows_the_music(jack, house_music, tmp_path):
    stats_file = tmp_path / "stats.json"
    proc = run_live("--device", "system", "--windowed", "--duration", 9, "--stats-json", stats_file, *TINY_RUN)
    capture_in = wait_for_capture_ports()
    started = time.monotonic()
    time.sleep(3.0)  # silence first: nothing is connected to the input yet
    player = play(house_music)
    connect(ports("output")[0], capture_in)
    connected_at = time.monotonic() - started
    _, err = proc.communicate(timeout=60)
    player.kill()
    assert proc.returncode == 0, err
    stats = json.loads(stats_file.read_text())
    assert stats["frames"] > 20 and stats["fps"] > 2
    assert stats["overflows"] == 0
    assert all(np.isfinite(stats["latency_ms"][p]) and stats["latency_ms"][p] > 0 for p in ("p50", "p95", "p99"))
    assert stats["encoder"]["encodes"] > 5 and stats["encoder"]["errors"] == 0
    # the HUD's level meter follows the music: ~0 before it is connected, loud after
    # (stats time starts a little after the capture ports appear, hence the margins)
    silent = levels_between(stats, 0.5, 2.0)
    music = levels_between(stats, connected_at + 1.0, 100)
    assert len(silent) > 3 and len(music) > 3
    assert silent.max() < 1e-3 and np.median(music) > 0.02, (silent.max(), np.median(music))


@needs_jack
def test_live_run_survives_the_audio_server_restarting(jack, house_music, tmp_path):
    stats_file = tmp_path / "stats.json"
    proc = run_live("--device", "system", "--windowed", "--duration", 14, "--stats-json", stats_file, *TINY_RUN)
    player = play(house_music)
    connect(ports("output")[0], wait_for_capture_ports())
    time.sleep(3.0)
    player.kill()
    jackdummy.stop_server(jack)  # the audio server dies mid-set
    time.sleep(1.5)
    restarted = start_jackd()
    capture_in = wait_for_capture_ports()  # the run reopened its input by itself
    reconnected_at = time.monotonic()
    player = play(house_music)
    connect(ports("output")[0], capture_in)
    _, err = proc.communicate(timeout=60)
    player.kill()
    jackdummy.stop_server(restarted)
    assert proc.returncode == 0, err
    stats = json.loads(stats_file.read_text())
    assert stats["reconnects"] == 1
    # frames held through the outage are not audio-to-photon latency (p95 read seconds when they counted)
    assert stats["latency_ms"]["p95"] < 1500, stats["latency_ms"]
    # frames after the reconnect were drawn from audio captured after it
    end_s = stats["seconds"]
    after = levels_between(stats, end_s - (time.monotonic() - reconnected_at) + 1.5, end_s)
    assert len(after) > 3 and np.median(after) > 0.02


@pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("import") is None, reason="needs Xvfb (xvfb) and ImageMagick's import")
def test_fullscreen_window_shows_generated_content(house_music, tmp_path):
    display = ":97"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "640x480x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        proc = run_live(
            "--input", house_music, "--duration", 10, *TINY_RUN, headless=False, env_extra={"DISPLAY": display, "SDL_VIDEODRIVER": "x11"}
        )
        shot = tmp_path / "screen.png"
        deadline = time.monotonic() + 40
        pixels = None
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1.0)
            r = subprocess.run(["import", "-display", display, "-window", "root", str(shot)], capture_output=True)
            if r.returncode == 0:
                from PIL import Image

                pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
                centre = pixels[200:280, 280:360]
                if centre.std() > 10:  # the generated picture is up
                    break
        proc.terminate()
        proc.communicate(timeout=20)
        assert pixels is not None and pixels.shape == (480, 640, 3)  # fullscreen: the whole screen
        centre = pixels[200:280, 280:360]
        assert centre.mean() > 10  # not black
        assert np.abs(centre - np.array([12, 0, 24])).mean() > 10  # not the clear colour
        assert centre.std() > 10  # a picture, not a flat fill
    finally:
        xvfb.kill()


def run_cli(*args, env_extra=None, headless=True, timeout=60):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "live", "run", *(["--headless"] if headless else []), *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(r, needle):
    err = r.stderr.strip()
    assert r.returncode == 2, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and needle in err, err


@needs_jack
def test_bad_devices_fail_before_anything_opens(jack):
    assert_one_line_error(run_cli("--device", "nonesuch", *TINY_RUN), "no input device 'nonesuch'")
    assert_one_line_error(run_cli("--device", "system", "--samplerate", "44100", *TINY_RUN), "refuses 44100 Hz")
    assert_one_line_error(run_cli("--device", "system", "--channels", "3", *TINY_RUN), "has 2 input channel")


def test_no_display_and_bad_profile_fail_with_one_line(house_music):
    no_display = run_cli("--input", house_music, *TINY_RUN, headless=False, env_extra={"SDL_VIDEODRIVER": "x11", "DISPLAY": ":59"})
    assert_one_line_error(no_display, "no display")
    # no DISPLAY at all: SDL would fall back to a driver that shows nothing, and the run exit 0 having played to nowhere
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    for extra in ({}, {"SDL_VIDEODRIVER": "dummy"}, {"SDL_VIDEODRIVER": "offscreen"}):
        cmd = [sys.executable, "-m", "live", "run", "--input", str(house_music), "--engine", "shader", "--duration", "2"]
        r = subprocess.run(cmd, cwd=ROOT, env={**env, **extra, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
        assert_one_line_error(r, "no display")
    assert_one_line_error(run_cli("--input", house_music, "--models", "tiny", "--profile", "nonesuch"), "latency profile 'nonesuch'")
    assert_one_line_error(run_cli("--input", house_music, *TINY_RUN, "--display", "3"), "--display 3")


def test_shader_engine_runs_live_without_torch(house_music, tmp_path):
    stats_file = tmp_path / "stats.json"
    code = (
        "import sys, live.__main__ as m; "
        f"rc = m.main(['run', '--headless', '--input', {str(house_music)!r}, '--engine', 'shader', '--profile', 'laptop', '--windowed', "
        f"'--duration', '3', '--stats-json', {str(stats_file)!r}]); "
        "print('torch' in sys.modules, rc)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip().splitlines()[-1] == "False 0", r.stderr
    stats = json.loads(stats_file.read_text())
    assert stats["frames"] > 30 and stats["latency_ms"]["p50"] > 0 and stats["generator"]["frames"] > 10


def test_sigterm_quits_within_a_second_and_writes_stats(house_music, tmp_path):
    stats_file = tmp_path / "stats.json"
    proc = run_live("--input", house_music, "--windowed", "--stats-json", stats_file, *TINY_RUN)
    for line in proc.stderr:  # the last model's line: loaded (3-8 s here, by the machine's load)
        if "diffusion model 'tiny'" in line:
            break
    time.sleep(2.5)  # frames flowing
    sent = time.monotonic()
    proc.terminate()
    proc.communicate(timeout=10)
    assert time.monotonic() - sent < 1.5  # the stream, the workers and the window closed in about a second
    assert proc.returncode == 0
    assert json.loads(stats_file.read_text())["frames"] > 10


def test_display_crossfade_is_the_mean_halfway():
    from live.app.run import crossfade

    a = np.full((4, 4, 3), 100, np.uint8)
    b = np.full((4, 4, 3), 200, np.uint8)
    # b became ready at t=1.0, one second after a: at t=1.5 it is half faded in
    assert crossfade((a, 0, 0.0), (b, 1, 1.0), 1.5).mean() == pytest.approx(150, abs=1)
    assert (crossfade((a, 0, 0.0), (b, 1, 1.0), 3.0) == b).all()
    assert (crossfade(None, (b, 1, 1.0), 1.0) == b).all() and crossfade(None, None, 0.0) is None


def test_live_falls_back_to_the_shader_engine_without_weights(house_music, tmp_path):
    stats_file = tmp_path / "stats.json"
    offline = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    r = run_cli("--input", house_music, "--profile", "laptop", "--windowed", "--duration", 3, "--stats-json", stats_file, env_extra=offline)
    assert r.returncode == 0, r.stderr
    assert len([line for line in r.stderr.splitlines() if "drawing with --engine shader" in line]) == 1
    assert json.loads(stats_file.read_text())["frames"] > 30


def test_stats_series_keep_the_newest_rows_in_fixed_memory():
    """The run's latency and trace series: a set of hours keeps the newest rows in one preallocated
    array (lists of tuples grew the process ~0.2 MiB a minute, measured with `bench live`)."""
    from live.app.stats import RunStats, Series

    s = Series(4, 2)
    for i in range(10):
        s.append(i, 10 * i)
    assert len(s) == 4 and s.count == 10
    np.testing.assert_array_equal(s.newest(), [[6, 60], [7, 70], [8, 80], [9, 90]])
    np.testing.assert_array_equal(s.newest(2), [[8, 80], [9, 90]])
    assert Series(3).newest().shape == (0, 1)
    stats = RunStats()
    rows = stats.hud_level.rows
    for i in range(2000):
        stats.trace(i * 0.05, 0.5, 100.0 + i)
    assert stats.hud_level.rows is rows and len(stats.hud_level) == 1000  # one entry per TRACE_EVERY_S, same array
    summary_rows = stats.latency_trace.newest()
    assert summary_rows[0, 1] == 100.0 and summary_rows[-1, 1] == 100.0 + 1998


def test_window_keys_become_actions():
    """The VJ's keys through a real pygame window (SDL's dummy driver), in a child process: the beat
    keys (T tap, R release, O off-beat) reach the loop as actions, the HUD draws with the off-beat
    note, Q quits."""
    code = """
import numpy as np, pygame as pg
from live.draw.display import Display
d = Display(windowed=True, size=64, headless=True)
d.open()
for key in (pg.K_o, pg.K_t, pg.K_r, pg.K_RIGHT, pg.K_h, pg.K_q):
    pg.event.post(pg.event.Event(pg.KEYDOWN, key=key))
d.handle_events()
hud = dict(fps=24.0, latency_ms=[100.0], level=0.1, encoder_ms=1.0, unet_ms=2.0, overflows=0, dropped=0,
           input_lost=False, reconnects=0, tempo=120.0, half_beat=True)
d.hud_on = True
d.present(np.zeros((64, 64, 3), np.uint8), hud)
print(d.actions, d.quit_requested)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("]")[0] + "]" == "['half_beat', 'tap', 'release_tap', 'next_prompt']" and r.stdout.strip().endswith("True")


def test_fallback_tiny_plays_with_random_weights(house_music, tmp_path):
    """`run --fallback tiny` stopped with the missing-model error; it plays with random weights, as render does."""
    stats_file = tmp_path / "stats.json"
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty")}
    args = ["--input", house_music, "--windowed", "--profile", "laptop", "--compute", "cpu", "--duration", 4, "--stats-json", stats_file]
    r = run_cli(*args, "--fallback", "tiny", env_extra=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "playing with --models tiny instead" in r.stderr
    assert json.loads(stats_file.read_text())["engine"] == "diffusion"
    r = run_cli(*args, "--fallback", "none", env_extra=env, timeout=120)
    assert r.returncode == 2 and "no weights here for encoder" in r.stderr


def test_hud_is_off_fullscreen_and_on_in_a_window_and_fits():
    code = """
import numpy as np
from live.draw.display import Display
full, window = Display(headless=True), Display(windowed=True, size=(160, 96), headless=True)
forced = Display(headless=True, hud=True)
window.open()
hud = dict(fps=24.0, latency_ms=[100.0], level=0.1, encoder_ms=1.0, unet_ms=2.0, overflows=0, dropped=0,
           input_lost=False, reconnects=0, tempo=120.0)
window.present(np.zeros((96, 160, 3), np.uint8), hud)
font = window._font_to_fit(["x" * 200])
print(full.hud_on, window.hud_on, forced.hud_on, font.size("x" * 200)[0] <= 160 - 16 or font.get_height() <= 12)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False True True True"


def test_run_flags_override_the_profile(house_music, tmp_path):
    stats_file = tmp_path / "stats.json"
    r = run_cli(
        "--input",
        house_music,
        "--engine",
        "shader",
        "--profile",
        "laptop",
        "--size",
        "320x192",
        "--display-fps",
        "20",
        "--duration",
        2,
        "--stats-json",
        stats_file,
        "--windowed",
    )
    assert r.returncode == 0, r.stderr
    stats = json.loads(stats_file.read_text())
    assert (stats["engine"], stats["size"], stats["display_fps"]) == ("shader", [320, 192], 20)
    assert 25 <= stats["frames"] <= 45  # 20 Hz for 2 s, not the profile's 24


@needs_jack
def test_monitor_plays_the_rehearsal_file_out_loud(jack, house_music, tmp_path):
    """--monitor: the --input file also plays to an output (here the JACK dummy's), from the moment
    the input starts; an output that cannot open is one line before anything else."""
    before = set(ports("output"))
    stats_file = tmp_path / "stats.json"
    proc = run_live(
        "--input", house_music, "--monitor", "system", "--engine", "shader", "--windowed", "--duration", 6, "--stats-json", stats_file
    )
    deadline, monitor_ports = time.monotonic() + 20, []
    while time.monotonic() < deadline and not monitor_ports and proc.poll() is None:
        monitor_ports = [p for p in ports("output") if p not in before]
        time.sleep(0.2)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert monitor_ports, "no output port appeared for the monitor"
    assert [p for p in ports("output") if p not in before] == []  # the monitor child went with the run
    r = run_cli("--input", house_music, "--monitor", "nonesuch", "--engine", "shader", "--duration", 2)
    assert_one_line_error(r, "--monitor nonesuch")
    assert_one_line_error(run_cli("--device", "system", "--monitor", "--engine", "shader"), "--monitor plays the --input file")


def test_a_non_finite_frame_live_is_a_counted_fault_and_the_last_good_frame_stays(house_music):
    """Live, the source guard is a fault the run survives: while the analysis feeding the shader
    uniforms is NaN (injected below the parser, into the Drive of each frame), no frame is drawn from
    it (the old engine drew black), the generator counts the error (the HUD's error line and the
    stats' generator.errors read it) and the last good frame stays on screen; once the numbers are
    finite again frames come again."""
    import threading
    from dataclasses import replace

    from live.app.engines import build_shader_pipeline
    from live.app.run import FrameSlot, GeneratorWorker
    from live.audio.fileinput import FileInput
    from live.core.profiles import load_profile, with_overrides

    parts = build_shader_pipeline(with_overrides(load_profile("laptop"), size="64"))
    poisoned = threading.Event()

    def make_engine():
        frame = parts.make_engine(threading.Lock())

        def engine(drive, *rest):
            return frame(replace(drive, level=float("nan")) if poisoned.is_set() else drive, *rest)

        return engine

    source, slot = FileInput(house_music), FrameSlot()
    worker = GeneratorWorker(source, None, slot, make_engine, min_interval_s=1 / 30)

    def wait_for(condition, timeout_s=30.0):
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert condition()

    source.start()
    worker.start()
    try:
        wait_for(lambda: worker.frames >= 10)
        poisoned.set()
        time.sleep(0.1)
        frames_before, good = worker.frames, slot.latest()[1]
        wait_for(lambda: worker.errors >= 2)
        assert worker.frames == frames_before and slot.latest()[1] is good  # nothing drawn from NaN: the last good frame stays
        assert good[0].mean() > 1 and "NonFiniteError" in worker.last_error and "level" in worker.last_error
        poisoned.clear()
        wait_for(lambda: worker.frames > frames_before + 5)  # survived
    finally:
        worker.stop_event.set()
        worker.join(timeout=10)
        source.stop()


def test_a_plain_run_plays_classic_and_switches_scenes_on_osc_and_next(house_music, tmp_path):
    """No --scene: the run plays the classic scene (today's look) and the scene controls act, with
    the session's --transition: /phosphene/scene tunnel goes to tunnel, the scene_next action (the N
    key's, MIDI's and OSC's) to the scene after it. The old run ignored both ("scenes are off")."""
    from pythonosc.udp_client import SimpleUDPClient

    from live.app.scenes import load_library

    stats_file = tmp_path / "plain.json"
    cmd = [sys.executable, "-m", "live", "run", "--headless", "--windowed", "--input", str(house_music), "--engine", "shader"]
    cmd += ["--profile", "laptop", "--size", "64", "--duration", "5", "--osc-port", "0", "--stats-json", str(stats_file)]
    proc = subprocess.Popen([*cmd, "--transition", "cut on now"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)
    port = next((int(line.rsplit(":", 1)[1]) for line in proc.stderr if "OSC: listening on" in line), None)
    assert port, "the run never said its OSC port"
    client = SimpleUDPClient("127.0.0.1", port)
    time.sleep(1.0)
    client.send_message("/phosphene/scene", "tunnel")
    time.sleep(1.0)
    client.send_message("/phosphene/action/scene_next", [])
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    stats = json.loads(stats_file.read_text())
    order = list(load_library())
    after_tunnel = order[(order.index("tunnel") + 1) % len(order)]
    assert [name for _, name in stats["scenes"]["changes"]] == ["tunnel", after_tunnel] and stats["scenes"]["current"] == after_tunnel


def test_a_plain_run_is_the_classic_scene_with_the_commands_prompt():
    """What a plain run plays is what it always did: the classic scene's look is the default look,
    and its first prompt is the command's (--prompt, or none: the audio alone), not the scene file's."""
    import argparse

    from live.app.director import scene_director
    from live.app.travel import PromptTravel
    from live.draw.shaders import ShaderLook, Structure

    plain = argparse.Namespace(scene=None, scenes=None, timeline=None, transition="crossfade 4 beats on bar", auto_advance=None, shuffle=False)
    director = scene_director(plain)
    scene = director.library[director.current]
    assert director.current == "classic" and scene.look == ShaderLook() and scene.structure == Structure()
    assert director.prompt is None and scene.prompts  # the file has a prompt; a plain run does not take it
    for prompt, weight in ((None, 1.0), ("a lighthouse", 0.5)):
        start = PromptTravel(scene_director(plain), lambda text: text, strength=0.5, prompt=prompt).start()
        assert (start.prompt, start.strength, start.audio_weight) == (prompt, 0.5, weight)
    with pytest.raises(Exception, match="--auto-advance 0: give a number of bars"):
        scene_director(argparse.Namespace(**{**vars(plain), "auto_advance": 0}))


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_headless_run_stops_cleanly_on_a_signal(sig, house_music, tmp_path):
    """A headless run has no Q key: Ctrl-C or a service manager's SIGTERM ends it as the end of
    --duration would, with its summary and its stats file, exit 0 and no traceback."""
    import signal

    stats_file = tmp_path / "stats.json"
    proc = run_live("--engine", "shader", "--input", house_music, "--duration", 120, "--stats-json", stats_file, stdout=subprocess.PIPE)
    time.sleep(5.0)  # started and drawing
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(getattr(signal, sig))
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert " frames, " in out.strip().splitlines()[-1]
    assert json.loads(stats_file.read_text())["frames"] > 0
