"""The web remote in a real browser: Debian's chromium, headless, driven by selenium through
chromium-driver, loads the page from a live run (`run --engine shader --headless --web
127.0.0.1:0`, a file played in at real time) on 127.0.0.1. A scene's go, the blackout button and a
slider each reach the run (its --stats-json says so); a second page, at a phone's width, agrees
with the first and fits 390 px without scrolling sideways, every control at least 44 px; screenshots
show the scene grid's thumbnails and the preview, not blank. Skipped where chromium is absent."""

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
needs_chromium = pytest.mark.skipif(
    not (shutil.which("chromium") and Path(CHROMEDRIVER).exists()), reason="Debian chromium and chromium-driver are not installed"
)


def start_run(tmp_path, house_music, *extra):
    """A live run with the web remote on 127.0.0.1 (a port the OS picks); its URL from the log line."""
    stats = tmp_path / "web-run.json"
    cmd = [sys.executable, "-m", "live", "run", "--headless", "--windowed", "--input", str(house_music), "--engine", "shader"]
    cmd += ["--profile", "laptop", "--size", "128", "--duration", "120", "--stats-json", str(stats), "--web", "127.0.0.1:0", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)
    lines, url, osc_port = [], None, None
    for line in proc.stderr:  # "OSC: listening on 127.0.0.1:PORT", then "web remote: http://127.0.0.1:PORT/"
        lines.append(line)
        if "OSC: listening on" in line:
            osc_port = int(line.rsplit(":", 1)[1])
        if m := re.search(r"web remote: (http://\S+)", line):
            url = m.group(1)
            break
    assert url, "".join(lines)
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()  # keep the pipe drained
    return proc, url, osc_port, stats, lines


def browser(*, phone: bool = False):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"):
        options.add_argument(flag)
    for flag in ("--disable-sync", "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"):
        options.add_argument(flag)
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": True}})
    else:
        options.add_argument("--window-size=1100,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console: script errors, CSP refusals
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    return driver


def wait(driver, script, timeout=20.0):
    """Until the page's `script` (a JS expression) is truthy; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script("return " + script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"the page never had {script}")


def press(driver, css: str):
    """Scroll the control to the middle of the screen, as a thumb would, and click it (a real click)."""
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.CSS_SELECTOR, css)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()
    return element


def picture(png: bytes) -> np.ndarray:
    import pygame

    surface = pygame.image.load(io.BytesIO(png), "shot.png")
    return pygame.surfarray.array3d(surface).transpose(1, 0, 2)  # (H, W, 3)


@needs_chromium
def test_the_page_drives_a_live_run_and_two_pages_agree(tmp_path, house_music):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from pythonosc.udp_client import SimpleUDPClient

    proc, url, osc_port, stats_file, log = start_run(tmp_path, house_music, "--scene", "classic", "--transition", "cut on now", "--osc-port", "0")
    desk = phone = None
    try:
        started = time.monotonic()
        desk = browser()
        desk.get(url)
        scenes = wait(desk, "document.querySelectorAll('[data-go]').length")
        assert scenes >= 10 and wait(desk, "document.getElementById('scene').textContent") == "classic"
        # the contact sheet's pictures (drawn at the run's start) and the preview arrive
        wait(desk, "[...document.querySelectorAll('.scene img')].every(i => i.complete && i.naturalWidth > 0)", timeout=40)
        wait(desk, "document.getElementById('preview').naturalWidth > 0")
        preview_px = desk.execute_script("return document.getElementById('preview').naturalWidth")
        grid = picture(desk.find_element(By.ID, "scenes").screenshot_as_png)
        shown = picture(desk.find_element(By.ID, "preview").screenshot_as_png)
        desk.save_screenshot(str(tmp_path / "page.png"))
        console = [e["message"] for e in desk.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        loaded_s = time.monotonic() - started

        press(desk, '[data-go="tunnel"]')
        press(desk, '[data-action="blackout"]')
        press(desk, '[data-param="flash"]').send_keys(Keys.END)  # the slider to its top: 3 stops
        clicked = time.monotonic()
        wait(desk, "document.getElementById('scene').textContent === 'tunnel'", timeout=5)
        wait(desk, "document.getElementById('flag-blackout').classList.contains('on')", timeout=5)
        round_trip_s = time.monotonic() - clicked

        phone = browser(phone=True)
        phone.get(url)
        wait(phone, "document.getElementById('scene').textContent === 'tunnel'")
        assert wait(phone, "document.getElementById('flag-blackout').classList.contains('on')")  # the second page agrees
        wait(phone, "document.getElementById('param-flash').value === '3'")
        inner = phone.execute_script("return window.innerWidth")
        scroll = phone.execute_script("return document.documentElement.scrollWidth")
        small = phone.execute_script(
            "return [...document.querySelectorAll('button, input')].filter(e => e.offsetParent !== null)"
            ".map(e => [e.getAttribute('data-action') || e.getAttribute('data-go') || e.getAttribute('data-param') || e.id,"
            " e.getBoundingClientRect().width, e.getBoundingClientRect().height]).filter(([, w, h]) => w < 44 || h < 44)"
        )
        blacked = picture(phone.find_element(By.ID, "preview").screenshot_as_png)  # what the audience sees: nothing
        SimpleUDPClient("127.0.0.1", osc_port).send_message("/phosphene/action/freeze", [])  # another source changes it
        sent = time.monotonic()
        wait(phone, "document.getElementById('flag-frozen').classList.contains('on')", timeout=5)
        osc_to_page_s = time.monotonic() - sent
        phone.save_screenshot(str(tmp_path / "phone.png"))
    finally:
        for driver in (desk, phone):
            if driver is not None:
                driver.quit()
        proc.send_signal(signal.SIGINT)  # the run ends as Q ends it, and writes its stats
        proc.wait(timeout=30)
    print(
        f"page loaded with thumbnails and preview in {loaded_s:.1f} s; click to the page showing it {1000 * round_trip_s:.0f} ms; "
        f"OSC to the page showing it {1000 * osc_to_page_s:.0f} ms"
    )
    assert proc.returncode == 0, "".join(log)
    assert grid.std() > 20 and shown.std() > 5, (grid.std(), shown.std())  # pictures, not a blank grid or a black preview
    assert 0 < preview_px <= 320 and blacked.max() < 10, blacked.max()  # the preview goes black with the blackout
    assert osc_to_page_s < 0.5, osc_to_page_s  # pushed at once (a frame or two), not on the 4 Hz refresh
    assert inner == 390 and scroll <= 390, (inner, scroll)
    assert console == [], console  # no script error, nothing the Content-Security-Policy refused
    assert small == [], small
    stats = json.loads(stats_file.read_text())
    web = stats["web"]
    assert web["taken"]["scene"] == 1 and web["taken"]["action:blackout"] == 1 and web["taken"]["param:flash"] >= 1, web
    assert web["clients_seen"] >= 2 and web["messages_ignored"] == {} and web["preview"]["sent"] > 0
    assert stats["params"]["flash"] == 3.0 and stats["scenes"]["current"] == "tunnel" and web["last_state"]["blackout"] is True
    assert stats["controls"]["received"]["web"] == web["messages_taken"]
