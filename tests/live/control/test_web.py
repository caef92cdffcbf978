"""The web remote's server on 127.0.0.1 (ports the OS picks), spoken to by a real WebSocket client
(aiohttp's): the state out and the controls in as docs/web.md pins them, the token and origin
rules, what is refused and counted, the preview dropped and never queued, and pages closing
leaving nothing behind."""

import argparse
import asyncio
import contextlib
import json
import os
import stat
import sys
import threading
import time

import aiohttp
import numpy as np
import pytest

from live.control.surface import ACTIONS, PARAMS, Inbox
from live.control.web import WebConfig, parse_bind, url_of, web_config
from live.control.web.server import BURST, FORGIVE_PER_S, MAX_CLIENTS, RATE_PER_S, UNITS, WebRemote, action_names, params_message
from live.core.errors import PhospheneError
from tests.live.control.test_osc import fuzz_corpus

SCENES = ["classic", "tunnel", "plasma"]
TOKEN = "test-token-0123456789"


def state(**changes) -> dict:
    base = {
        "scene": "classic",
        "scenes": SCENES,
        "cued": None,
        "params": params_message({"flash": 1.0, "zoom": 0.01}),
        "blackout": False,
        "frozen": False,
        "tempo": {"bpm": 120.0, "source": "audio"},
        "bar": 1,
        "beat": 1,
        "hud": {"fps": 30.0},
        "actions": action_names(),
    }
    return {**base, **changes}


@contextlib.contextmanager
def serving(host="127.0.0.1", token=None, inbox=None):
    inbox = inbox or Inbox()
    remote = WebRemote(inbox, WebConfig(host, 0, token), scenes=SCENES, announce=False)
    remote.publish(state())
    try:
        yield remote, inbox, f"http://{host}:{remote.port}"
    finally:
        remote.stop()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def next_state(ws, timeout=2.0) -> dict:
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type == aiohttp.WSMsgType.TEXT:
            return json.loads(msg.data)


def test_state_on_connect_and_every_control_reaches_the_inbox():
    with serving() as (remote, inbox, base):

        async def talk():
            async with aiohttp.ClientSession() as s, s.ws_connect(base + "/ws") as ws:
                first = await next_state(ws)
                for msg in (
                    {"type": "param", "name": "flash", "value": 2.5},
                    {"type": "action", "name": "blackout"},
                    {"type": "scene", "name": "tunnel"},
                    {"type": "cue", "name": "plasma"},
                    {"type": "prompt", "text": "a neon forest"},
                    {"type": "tempo", "bpm": 128.0},
                ):
                    await ws.send_json(msg)
                await asyncio.sleep(0.3)
                return first

        first = run(talk())
    keys = {"type", "scene", "scenes", "cued", "params", "blackout", "frozen", "tempo", "bar", "beat", "hud"}
    assert keys <= set(first) and first["type"] == "state" and first["scenes"] == SCENES
    assert first["params"]["flash"] == {"value": 1.0, "min": 0.0, "max": 3.0, "unit": "stops", "help": PARAMS["flash"].help}
    got = [(c.kind, c.name, c.value, c.source) for c in inbox.drain()]
    assert got == [
        ("param", "flash", 2.5, "web"),
        ("action", "blackout", None, "web"),
        ("scene", "go", "tunnel", "web"),
        ("scene", "cue", "plasma", "web"),
        ("prompt", "", "a neon forest", "web"),
        ("tempo", "", 128.0, "web"),
    ]
    stats = remote.stats()
    assert stats["messages_taken"] == 6 and stats["messages_ignored"] == {} and stats["clients_seen"] == 1


def test_two_pages_agree_and_a_change_shows_at_once_while_figures_are_coalesced():
    with serving() as (remote, _, base):

        async def watch():
            async with aiohttp.ClientSession() as s, s.ws_connect(base + "/ws") as a, s.ws_connect(base + "/ws") as b:
                await next_state(a), await next_state(b)
                await asyncio.sleep(0.3)  # past the push interval: the next change goes out at once
                changed = time.monotonic()
                remote.publish(state(blackout=True, scene="tunnel"))  # what a key, MIDI or OSC did, as the loop saw it
                seen_a, seen_b = await next_state(a), await next_state(b)
                delay = time.monotonic() - changed
                # the figures change every frame (60 a second here): a page gets a few pushes a second, no more
                counted, until = 0, time.monotonic() + 1.0
                feeder = asyncio.create_task(feed(until))
                while time.monotonic() < until:
                    try:
                        await next_state(a, timeout=max(0.01, until - time.monotonic()))
                        counted += 1
                    except TimeoutError:
                        break
                await feeder
                return seen_a, seen_b, delay, counted

        async def feed(until):
            k = 0
            while time.monotonic() < until:
                k += 1
                remote.publish(state(blackout=True, scene="tunnel", hud={"fps": 30.0 + k}, beat=1 + k % 4))
                await asyncio.sleep(1 / 60)

        seen_a, seen_b, delay, pushes = run(watch())
    assert seen_a == seen_b and seen_a["blackout"] is True and seen_a["scene"] == "tunnel"
    assert delay < 0.1, delay  # within a frame or two at 24-30 fps (the push is at once, not on the 4 Hz refresh)
    assert 2 <= pushes <= 11, pushes  # coalesced: at most 10 a second


def test_bad_messages_are_ignored_and_counted_and_never_stop_the_server():
    with serving() as (remote, inbox, base):
        bad = [
            "{not json",
            "[1, 2, 3]",
            '{"name": "flash"}',
            '{"type": "nonesuch"}',
            '{"type": "param", "name": "nonesuch", "value": 1}',
            '{"type": "param", "name": "flash", "value": "loud"}',
            '{"type": "param", "name": "flash", "value": true}',
            '{"type": "param", "name": "flash", "value": NaN}',
            '{"type": "param", "name": "flash", "value": 1e9}',
            '{"type": "param", "name": ["flash"], "value": 1}',
            '{"type": "action", "name": "nonesuch"}',
            '{"type": "action", "name": "quit"}',
            '{"type": "scene", "name": "nonesuch"}',
            '{"type": "scene", "name": "../../etc/passwd"}',
            '{"type": "prompt", "text": 5}',
            json.dumps({"type": "prompt", "text": "x" * 5000}),
            "[" * 3000 + "]" * 3000,
        ]

        async def talk():
            async with aiohttp.ClientSession() as s, s.ws_connect(base + "/ws") as ws:
                await next_state(ws)
                for text in bad:
                    await ws.send_str(text)
                    await asyncio.sleep(0.01)  # under the flood limit: each is judged on its own
                await ws.send_bytes(b"\x00\x01binary")
                await asyncio.sleep(0.3)
                corpus = list(fuzz_corpus(200))  # the OSC tests' corpus, as text and as binary frames, over 4 pages
                pages = [await s.ws_connect(base + "/ws") for _ in range(4)]

                async def send(page, part):
                    for data in part:
                        await page.send_str(data.decode("latin-1"))
                        await page.send_bytes(data)
                        await asyncio.sleep(0.025)  # 80 frames a second: under each page's rate, so each is judged

                await asyncio.gather(*(send(p, corpus[k::4]) for k, p in enumerate(pages)))
                await asyncio.sleep(0.5)
                await ws.send_json({"type": "param", "name": "flash", "value": 2.0})  # still listening
                await asyncio.sleep(0.3)

        run(talk())
        stats = remote.stats()
    ignored = stats["messages_ignored"]
    assert {"malformed", "unknown", "type", "range", "refused", "scene", "oversize"} <= set(ignored), ignored
    assert [c.name for c in inbox.drain()] == ["flash"] and stats["messages_taken"] == 1
    assert sum(ignored.values()) >= len(bad) + 1 + len(list(fuzz_corpus(200)))  # every text frame of the corpus is counted
    assert "flood" not in ignored and stats["refused"] == {}
    assert sum(inbox.ignored.values()) == sum(ignored.values())  # and on the HUD, with OSC's


def test_a_flood_is_cut_to_the_rate_counted_and_hung_up_on():
    with serving() as (remote, inbox, base):

        async def flood():
            async with aiohttp.ClientSession() as s, s.ws_connect(base + "/ws") as ws:
                await next_state(ws)
                started, sent = time.monotonic(), 0
                for k in range(3000):
                    if ws.closed:
                        break
                    try:
                        await ws.send_str(json.dumps({"type": "param", "name": "flash", "value": (k % 300) / 100}))
                    except ConnectionError:  # hung up on: the socket is gone
                        break
                    sent += 1
                    await asyncio.sleep(0)  # let the close frame in
                with contextlib.suppress(TimeoutError):
                    while (await ws.receive(timeout=2.0)).type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        pass
                return time.monotonic() - started, sent, ws.closed

        seconds, sent, code = run(flood())
        stats = remote.stats()
    taken, flood = stats["messages_taken"], stats["messages_ignored"]["flood"]
    assert code and stats["refused"] == {"flood": 1}, (code, sent, stats)  # hung up on
    assert taken <= BURST + RATE_PER_S * seconds + 1, (taken, seconds)
    assert BURST < flood <= BURST + 1 + FORGIVE_PER_S * seconds, (flood, seconds)  # ignored and counted until the hang-up
    handed = inbox.drain()  # coalesced into batches of 10 ms: one parameter moved is its newest value per batch
    assert 1 <= len(handed) <= taken / 10 and {c.name for c in handed} == {"flash"}, len(handed)


def test_the_token_is_asked_on_every_request_and_the_handshake():
    with serving(token=TOKEN) as (remote, inbox, base):

        async def knock():
            out = {}
            async with aiohttp.ClientSession() as s:
                for path in ("/", "/static/app.js", "/thumb/classic.jpg", "/?token=wrong-token-123"):
                    async with s.get(base + path, allow_redirects=False) as r:
                        out[path] = r.status
                for ws_url in (base + "/ws", base + "/ws?token=wrong-token-123"):
                    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                        await s.ws_connect(ws_url)
                    out[ws_url] = refused.value.status
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as s:
                async with s.get(f"{base}/?token={TOKEN}", allow_redirects=False) as r:
                    out["given"], out["location"], cookie = r.status, r.headers["Location"], r.cookies["phosphene_token"]
                out["cookie"] = {"httponly": bool(cookie["httponly"]), "samesite": cookie["samesite"]}
                async with s.get(base + "/") as r:
                    out["after"] = r.status
                async with s.get(base + "/static/app.js") as r:
                    out["script"] = r.status
                async with s.ws_connect(base + "/ws") as ws:  # the cookie carries it
                    out["ws"] = (await next_state(ws))["type"]
                    await ws.send_json({"type": "action", "name": "freeze"})
            async with aiohttp.ClientSession() as s, s.ws_connect(f"{base}/ws?token={TOKEN}") as ws:  # a script
                out["ws_query"] = (await next_state(ws))["type"]
            return out

        out = run(knock())
        stats = remote.stats()
    assert out["/"] == out["/static/app.js"] == out["/thumb/classic.jpg"] == out["/?token=wrong-token-123"] == 403
    assert out[base + "/ws"] == out[base + "/ws?token=wrong-token-123"] == 403
    assert (out["given"], out["location"]) == (303, "/")  # the token leaves the address bar
    assert out["cookie"] == {"httponly": True, "samesite": "Strict"}
    assert out["after"] == out["script"] == 200 and out["ws"] == out["ws_query"] == "state"
    assert [c.name for c in inbox.drain()] == ["freeze"]  # only the page with the token changed anything
    assert stats["refused"] == {"no token": 4, "wrong token": 2} and stats["clients_seen"] == 2


def test_wrong_tokens_from_one_address_are_slowed_down():
    with serving(token=TOKEN) as (remote, _, base):

        async def guess():
            statuses = []
            async with aiohttp.ClientSession() as s:
                for k in range(25):
                    async with s.get(f"{base}/?token=guess-{k:08d}") as r:
                        statuses.append(r.status)
                async with s.get(f"{base}/?token={TOKEN}", allow_redirects=False) as r:
                    statuses.append(r.status)  # even the right one waits out the minute
            return statuses

        statuses = run(guess())
    assert statuses[:20] == [403] * 20 and statuses[20:] == [429] * 6


def test_any_address_but_127_0_0_1_needs_the_token():
    """127.0.0.2 is loopback (the test's traffic stays on this machine) but not the default: a run
    bound there, or anywhere else, asks for the token; 0.0.0.0 is open to the network and says so."""

    def config(web, **kw):
        return web_config(argparse.Namespace(web=web, web_token=kw.get("token"), web_token_file=kw.get("file")))

    assert config("0").token is None and config("127.0.0.1:8080").token is None and config("localhost:8080").token is None
    wide = config("0.0.0.0:8080")
    assert wide.token and len(wide.token) >= 20 and wide.open_to_network and wide.token != config("0.0.0.0:8080").token
    other = config("127.0.0.2:0")
    assert other.token and not other.open_to_network
    assert config("127.0.0.1:0", token="my-own-token").token == "my-own-token"  # the owner may ask for one on loopback too
    assert config(None) is None
    with serving(host="127.0.0.2", token=other.token) as (remote, _, base):

        async def get():
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:  # unsafe: cookies from an IP address
                async with s.get(base + "/") as no, s.get(url_of(other, remote.port)) as yes:
                    return no.status, yes.status

        assert run(get()) == (403, 200)


def test_bad_web_flags_are_one_line(tmp_path):
    def config(web, token=None, file=None):
        return web_config(argparse.Namespace(web=web, web_token=token, web_token_file=file))

    for text, said in (("nonesuch", "--web nonesuch: give a port"), ("70000", "ports run from 0"), (":80", "host before the colon")):
        with pytest.raises(PhospheneError, match=said):
            config(text)
    with pytest.raises(PhospheneError, match="--web-token: a token is at least 8"):
        config("8080", token="short")
    with pytest.raises(PhospheneError, match="go with --web"):
        config(None, token="long-enough-token")
    with pytest.raises(PhospheneError, match="no folder"):
        config("8080", file=str(tmp_path / "nonesuch" / "token"))
    assert parse_bind("[::1]:9000") == ("::1", 9000) and parse_bind("0.0.0.0:1") == ("0.0.0.0", 1)
    file = tmp_path / "token"
    made = config("0.0.0.0:8080", file=str(file)).token  # made once, kept: a phone's bookmark keeps working
    assert stat.S_IMODE(file.stat().st_mode) == 0o600 and config("0.0.0.0:8080", file=str(file)).token == made
    taken = WebRemote(Inbox(), WebConfig("127.0.0.1", 0, None), announce=False)
    try:
        with pytest.raises(PhospheneError, match=rf"--web 127.0.0.1:{taken.port}: cannot listen there"):
            WebRemote(Inbox(), WebConfig("127.0.0.1", taken.port, None), announce=False)
    finally:
        taken.stop()


def test_a_name_pointed_at_loopback_is_refused_without_a_token():
    """DNS rebinding: a site's name made to resolve to 127.0.0.1 reaches the server with its own Host
    (and a matching Origin); without a token in force only a Host naming this machine is served."""
    with serving() as (remote, inbox, base):

        async def rebind():
            out = {}
            async with aiohttp.ClientSession() as s:
                for host in ("evil.example:%d" % remote.port, "localhost:%d" % remote.port, "127.0.0.1:%d" % remote.port):
                    async with s.get(base + "/", headers={"Host": host}) as r:
                        out[host.split(":")[0]] = r.status
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await s.ws_connect(base + "/ws", headers={"Host": f"evil.example:{remote.port}"}, origin=f"http://evil.example:{remote.port}")
                out["ws"] = refused.value.status
            return out

        out = run(rebind())
        assert out == {"evil.example": 403, "localhost": 200, "127.0.0.1": 200, "ws": 403} and remote.stats()["refused"] == {"host": 2}
    assert inbox.drain() == []


def test_cross_origin_sockets_and_paths_are_refused_and_no_file_is_read():
    opened, watching = [], threading.Event()

    def audit(event, args):
        if watching.is_set() and event == "open" and threading.current_thread().name == "phosphene-web":
            opened.append(args[0])

    sys.addaudithook(audit)  # stays for the session; only records while `watching` is set
    with serving() as (remote, _, base):

        async def probe():
            out = {}
            async with aiohttp.ClientSession() as s:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await s.ws_connect(base + "/ws", origin="http://evil.example")
                out["evil"] = refused.value.status
                async with s.ws_connect(base + "/ws", origin=base) as ws:  # the page's own origin
                    out["same"] = (await next_state(ws))["type"]
                async with s.get(base + "/") as r:
                    out["csp"] = r.headers["Content-Security-Policy"]
                    out["page"] = await r.text()
                watching.set()
                for path in (
                    "/static/../server.py",
                    "/static/..%2Fserver.py",
                    "/static/%2e%2e%2f__init__.py",
                    "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
                    "/thumb/..%2F..%2Fetc%2Fpasswd",
                    "/../../../../etc/passwd",
                    "/static/server.py",
                ):
                    async with s.get(base + path) as r:
                        out[path] = (r.status, "import" in await r.text() or "root:" in await r.text())
                watching.clear()
            return out

        out = run(probe())
        refused = remote.stats()["refused"]
    assert out["evil"] == 403 and out["same"] == "state" and refused["origin"] == 1
    assert "default-src 'none'" in out["csp"] and "script-src 'self'" in out["csp"] and "<script src=\"/static/app.js\"" in out["page"]
    assert "http" not in out["page"].replace('"/static/', "")  # no CDN: every file from this server
    paths = {k: v for k, v in out.items() if k.startswith("/")}
    assert all(v == (404, False) for v in paths.values()), paths
    assert opened == [], opened


def test_the_preview_is_small_jpeg_and_dropped_never_queued():
    import io

    import pygame

    from live.app.remote import PREVIEW_WIDTH, PreviewOut

    with serving() as (remote, _, base):
        out = PreviewOut(remote, width=1024, height=576, fps=1000.0)
        out.start()
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 255, (576, 1024, 3), dtype=np.uint8) for _ in range(4)]

        async def watch():
            async with aiohttp.ClientSession() as s, s.ws_connect(base + "/ws") as ws:
                await next_state(ws)
                longest = 0.0
                for k in range(300):  # far faster than a JPEG of 1024x576 noise can be made
                    started = time.perf_counter()
                    out.send(frames[k % 4])
                    longest = max(longest, time.perf_counter() - started)
                    out._due = 0.0  # every frame due: the sender is the bottleneck here, on purpose
                    await asyncio.sleep(0.0005)
                while True:
                    msg = await ws.receive(timeout=2.0)
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        return msg.data, longest

        picture, longest = run(watch())
        counts = out.stop()
    shown = pygame.image.load(io.BytesIO(picture), "preview.jpg")
    assert picture[:2] == b"\xff\xd8" and shown.get_size() == (PREVIEW_WIDTH, 180)
    assert counts["dropped"] > 0 and counts["sent"] + counts["dropped"] == 300, counts
    assert out._frames.qsize() == 0 and longest < 0.005, longest  # the loop's call never waited for the encoder


def test_twenty_pages_then_closed_leave_no_task_or_socket():
    def sockets() -> int:
        """This process's open sockets (the server's and the test's own clients)."""
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # the listing's own descriptor, gone by now
                count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        return count

    with serving() as (remote, inbox, base):

        def server_tasks() -> int:
            return asyncio.run_coroutine_threadsafe(_count_tasks(), remote._loop).result(5)

        time.sleep(0.2)
        tasks0, sockets0 = server_tasks(), sockets()

        async def crowd():
            async with aiohttp.ClientSession() as s:
                pages = [await s.ws_connect(base + "/ws") for _ in range(20)]
                await asyncio.gather(*(next_state(p) for p in pages))
                for k, p in enumerate(pages):
                    await p.send_json({"type": "param", "name": "zoom", "value": k / 1000})
                busy = server_tasks()
                for p in pages[:10]:
                    await p.close()  # closed politely
                for p in pages[10:]:
                    p._response.connection.transport.abort()  # and torn away, as a phone losing its network
                return busy

        busy = run(crowd())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (server_tasks() > tasks0 or remote.stats()["clients_now"]):
            time.sleep(0.05)
        tasks1, sockets1, stats = server_tasks(), sockets(), remote.stats()
    assert busy >= tasks0 + 20 and tasks1 == tasks0, (tasks0, busy, tasks1)
    assert sockets1 == sockets0, (sockets0, sockets1)
    assert stats["clients_seen"] == 20 and stats["clients_now"] == 0 and stats["messages_taken"] == 20
    assert MAX_CLIENTS >= 20


async def _count_tasks() -> int:
    return len(asyncio.all_tasks())


def test_every_parameter_has_a_unit_and_every_action_but_quit_is_offered():
    assert set(UNITS) == set(PARAMS)
    assert action_names() == [a for a in ACTIONS if a != "quit"]


def test_print_url_gives_the_url_with_its_token_and_a_qr_code(tmp_path, capsys):
    import segno

    from live.control import web

    parser = argparse.ArgumentParser(prog="python -m live")
    web.register(parser.add_subparsers(dest="command"))
    token_file = tmp_path / "token"

    def print_url(*flags) -> str:
        assert web.run(parser.parse_args(["web", "--print-url", *flags])) == 0
        return capsys.readouterr().out

    local = print_url("--web", "8080")
    assert local == "http://127.0.0.1:8080/\n"  # loopback: no token, no QR code
    wide = print_url("--web", "0.0.0.0:8080", "--web-token-file", str(token_file))
    url, qr = wide.split("\n", 1)
    token = token_file.read_text().strip()
    assert url.endswith(f":8080/?token={token}") and not url.startswith("http://0.0.0.0")  # an address a phone can open
    assert qr == web.qr_text(url) and "\u2588" in qr and len(qr.splitlines()) >= 15  # drawn in the terminal
    assert segno.make(url, error="m").designator  # the same text as the QR code segno draws
    assert print_url("--web", "0.0.0.0:8080", "--web-token-file", str(token_file)).split("\n", 1)[0] == url  # kept
    for flags, said in (
        (["--web", "0.0.0.0:8080"], "give both commands the same --web-token-file"),
        (["--web", "0.0.0.0:0", "--web-token", "abcdefgh12"], "port 0 is picked by the OS"),
        ([], "give the run's address"),
    ):
        with pytest.raises(PhospheneError, match=said):
            web.run(parser.parse_args(["web", "--print-url", *flags]))


def test_a_slider_touched_on_the_page_is_what_midi_learn_binds(tmp_path):
    """MIDI learn armed: a parameter moved on the web page is the target, as one moved by a key or OSC is."""
    from types import SimpleNamespace

    from live.app.engines import LookBox
    from live.app.run import Controls, apply_control
    from live.control.midi import Learn
    from live.control.surface import Control
    from tests.live.control.test_midi import FakeMidi

    midi = FakeMidi()
    learn = Learn(midi, tmp_path / "map.toml")
    learn.toggle()
    controls = Controls(None, None, [], LookBox())
    generator = SimpleNamespace(kick=threading.Event())
    apply_control(
        Control("param", "saturation", 1.5, "web"), t0=0.0, display=None, generator=generator, controls=controls, lock=threading.Lock(), learn=learn
    )
    assert learn.target == ("param", "saturation") and controls.look.look.saturation == 1.5 and generator.kick.is_set()
    learn.offer_midi("cc", 21)
    assert midi.mapping.cc[21] == ("saturation", "absolute") and (tmp_path / "map.toml").exists()


def test_a_bad_or_taken_web_address_stops_the_run_in_one_line(house_music):
    import socket
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        for web, said in (("nonesuch", "--web nonesuch: give a port"), (f"127.0.0.1:{taken.getsockname()[1]}", "cannot listen there")):
            cmd = [sys.executable, "-m", "live", "run", "--headless", "--input", str(house_music), "--engine", "shader", "--web", web]
            done = subprocess.run(cmd, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=60)
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            assert done.returncode == 2 and len(lines) == 1 and said in lines[0] and "Traceback" not in done.stderr, done.stderr
    finally:
        taken.close()


def test_a_page_steadily_over_the_rate_is_hung_up_on_within_seconds():
    """Four times the rate, evenly: some messages are taken as the allowance refills, the rest are a
    debt forgiven only slowly, so the socket is still hung up on (not just the tight-loop flood)."""
    with serving() as (remote, _, base):

        async def steady():
            async with aiohttp.ClientSession() as s, s.ws_connect(base + "/ws") as ws:
                await next_state(ws)
                started = time.monotonic()
                while time.monotonic() - started < 8.0 and not ws.closed:
                    try:
                        for _ in range(4):  # 400 a second
                            await ws.send_str('{"type": "action", "name": "tap"}')
                    except ConnectionError:
                        break
                    with contextlib.suppress(TimeoutError):
                        await ws.receive(timeout=0.01)  # reads the close frame when it comes
                return time.monotonic() - started

        seconds = run(steady())
        stats = remote.stats()
    assert seconds < 4.0 and stats["refused"] == {"flood": 1}, (seconds, stats)
    assert stats["messages_taken"] > BURST  # the allowance was taken, then no more


def test_a_run_open_to_the_network_asks_for_its_token_and_shows_a_qr_code(house_music, tmp_path):
    """`run --web 0.0.0.0:0` inside a private network namespace (loopback its only interface, so
    nothing is exposed): the URL carries a random token, the terminal shows its QR code, and a
    client without the token is refused on HTTP and on the WebSocket; with it, it is served."""
    import shlex
    import subprocess
    from pathlib import Path

    from tests.live.control.test_link import can_unshare

    if not can_unshare():
        pytest.skip("needs `unshare --net` (root or user namespaces) for a private network")
    root = Path(__file__).resolve().parents[3]
    stats = tmp_path / "stats.json"
    run = [sys.executable, "-m", "live", "run", "--headless", "--windowed", "--input", str(house_music), "--engine", "shader"]
    run += ["--profile", "laptop", "--size", "64", "--duration", "60", "--web", "0.0.0.0:0", "--stats-json", str(stats)]
    probe = [sys.executable, str(Path(__file__).with_name("web_netns_probe.py")), *run]
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", f"ip link set lo up && {shlex.join(probe)}"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out.get("url") and out["returncode"] == 0, out["log"]
    token = out["url"].split("token=")[1]
    assert len(token) >= 20 and out["where"] == "open to the network"
    assert (out["no_token"], out["wrong_token"], out["ws_no_token"]) == (403, 403, 403)
    assert (out["with_token"], out["state"]) == (200, "state")
    from live.control.web import qr_text

    assert qr_text(out["url"]) in out["stdout"] and "\u2588" in out["stdout"]  # the QR code of that URL, in the terminal
    web = json.loads(stats.read_text())["web"]
    assert web["token"] and web["taken"] == {"action:freeze": 1} and web["refused"] == {"no token": 2, "wrong token": 1}
