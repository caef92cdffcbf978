"""The web remote's server: aiohttp on an event loop in a thread of its own, beside the live loop
(as OSC's listener is beside it). The frame loop only swaps references and, when a control
changed, wakes the loop; the server thread does all the JSON, the sockets and the checks:

    GET /              the page (index.html), GET /static/NAME its script and style, from memory
    GET /thumb/NAME    a scene's thumbnail (JPEG), by the scene's name, never a path
    GET /ws            one WebSocket: state out (JSON text), controls in (JSON text), preview out (binary JPEG)

Messages a client sends are validated against the action surface (live/control/surface.py) and
put into the same Inbox that keys, MIDI and OSC feed; whatever is wrong (malformed JSON, unknown
controls, wrong types, out-of-range values, oversized messages, floods) is counted and ignored.
With a token in force, every request needs it: `?token=` once (answered with a cookie and a
redirect to the same page without it), then the cookie. The protocol: docs/web.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
import time
from collections import Counter, deque
from pathlib import Path

from live.control.surface import ACTIONS, PARAMS, Inbox, validate
from live.control.web import WebConfig, is_loopback, qr_text, url_of
from live.core.errors import PhospheneError

log = logging.getLogger("phosphene")

STATIC = Path(__file__).with_name("static")
STATIC_FILES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css", "icon.svg": "image/svg+xml"}
COOKIE = "phosphene_token"
MAX_MESSAGE = 4096  # bytes: a control message is tens of bytes; longer ones are counted "oversize"
MAX_FRAME = 65536  # a WebSocket frame longer than this closes that socket (aiohttp's own check), counted "oversize"
MAX_CLIENTS = 32  # pages open at once; more are refused (503), counted
RATE_PER_S, BURST = 100.0, 200  # each page's messages: a token bucket (the page sends a slider at most 30 times a
# second); above it, counted "flood" and ignored, and a page that goes on past BURST more is hung up on (1008)
FORGIVE_PER_S = 10.0  # ... counted as a debt that is forgiven this fast: a page twice over the rate is hung up on within seconds
HANDSHAKES_PER_MIN = 60  # WebSockets opened from one address in a minute; past that, 429 (a flooder that reconnects)
STATE_MIN_S = 0.1  # state pushes at most 10 a second (a change is pushed at once when the last push is older)
STATE_EVERY_S = 0.25  # the figures (HUD, bar, beat) refresh 4 times a second
SLOW_CLIENT_BYTES = 32 * 1024  # a page whose socket holds this much unsent is skipped until it drains (below aiohttp's
# 64 KiB, past which a send would wait: one slow phone never holds up the others)
BAD_TOKENS_PER_MIN = 20  # wrong tokens from one address in a minute; past that, 429 until the minute passes
VOLATILE = ("hud", "bar", "beat", "tempo", "timeline")  # state keys that change by themselves: refreshed, not pushed at once
NOT_FROM_THE_WEB = ("quit",)  # a remote never ends the set
BATCH_S = 0.01  # controls reach the inbox at most this often, each parameter's newest value only (as OSC's do)


class WebRemote:
    """The server, started at construction (a taken port fails here, in one line)."""

    name = kind = "web"

    def __init__(self, inbox: Inbox, config: WebConfig, *, scenes: list[str] | None = None, announce: bool = True):
        self.inbox, self.config = inbox, config
        self.scenes: list[str] = list(scenes or [])
        self.pages = {name: (STATIC / name).read_bytes() for name in STATIC_FILES}  # read once, here: no request reads a file
        self.thumbnails: dict[str, bytes] = {}  # scene name -> JPEG, filled by the app as they are made
        self._lock = threading.Lock()  # the counters, read by other threads
        self.clients_seen = self.clients_now = self.messages_taken = self.state_pushes = 0
        self.taken: Counter = Counter()  # messages put into the inbox, by what they were: "param:flash", "action:blackout", "scene", ...
        self.ignored: Counter = Counter()  # messages, by reason
        self.refused: Counter = Counter()  # requests and handshakes, by reason
        self.preview_counts: Counter = Counter()  # offered (by the app), replaced (not sent yet: dropped), sent (to a page)
        self.slow: Counter = Counter()  # pushes skipped for a page whose socket was still full: "state", "preview"
        self._state: dict | None = None
        self._last_published: dict = {}
        self._preview: bytes | None = None
        self._bad_tokens: dict[str, deque] = {}  # address -> times of its wrong tokens, the last minute's
        self._handshakes: dict[str, deque] = {}  # address -> times of its WebSocket handshakes, the last minute's
        self._params: dict = {}  # name -> its newest Control since the last batch
        self._others: list = []  # actions, scenes, prompts, tempos since the last batch, in order
        self._clients: dict = {}  # WebSocketResponse -> [its transport (how much it holds unsent), the last state text it got]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._error: str | None = None
        self.port = 0
        self.stopped = False
        self.cost: dict = {}  # CPU seconds: the server thread's own, and what the app adds (add_cost)
        self._thread = threading.Thread(target=self._run, name="phosphene-web", daemon=True)
        self._thread.start()
        if not self._started.wait(10.0):
            raise PhospheneError(f"--web {config.host}:{config.port}: the web remote did not start")
        if self._error:
            self._thread.join(timeout=2.0)
            raise PhospheneError(f"--web {config.host}:{config.port}: cannot listen there ({self._error}); choose another port")
        self.url = url_of(config, self.port)
        if announce:
            self._announce()

    # --- called from other threads: never blocks ----------------------------------------------

    def publish(self, state: dict) -> None:
        """The newest state (the frame loop, each frame): a reference swap; the loop is woken only
        when a control changed (scene, params, blackout, ...), the figures wait for the next refresh."""
        self._state = state
        last = self._last_published
        urgent = any(state.get(k) != last.get(k) for k in state if k not in VOLATILE)
        urgent |= (state.get("tempo") or {}).get("source") != (last.get("tempo") or {}).get("source")
        self._last_published = state
        if urgent:
            self._wake("_wake_state")

    @property
    def has_pages(self) -> bool:
        """Any page open now: without one, the app builds no state and encodes no preview."""
        return bool(self._clients)

    def preview(self, jpeg: bytes) -> None:
        """The newest preview picture (the preview's sender thread); one not yet sent is replaced."""
        with self._lock:
            self.preview_counts["offered"] += 1
            if self._preview is not None:
                self.preview_counts["replaced"] += 1  # the server had not sent the last one yet: dropped, not queued
        self._preview = jpeg
        self._wake("_wake_preview")

    def set_thumbnail(self, name: str, jpeg: bytes) -> None:
        """A scene's picture for the grid (the app's thumbnail thread); the pages hear of it in the next state."""
        self.thumbnails = {**self.thumbnails, name: jpeg}
        self._wake("_wake_state")

    def _wake(self, event: str) -> None:
        """Set one of the server loop's events from another thread (nothing once the server has stopped)."""
        if self._loop is not None and not self.stopped:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(getattr(self, event).set)

    def add_preview_counts(self, counts: dict) -> None:
        """The app's sender's own counts (encoded, dropped while busy, errors), at the end."""
        with self._lock:
            self.preview_counts.update(counts)

    def add_cost(self, figures: dict) -> None:
        """What the remote cost the app's threads (the frame loop's share, the preview's encoding), at the end."""
        with self._lock:
            self.cost.update(figures)

    def stats(self) -> dict:
        """What `--stats-json` shows under "web"."""
        with self._lock:
            return {
                "url": self.url.split("?")[0],
                "token": self.config.token is not None,
                "clients_seen": self.clients_seen,
                "clients_now": self.clients_now,
                "messages_taken": self.messages_taken,
                "taken": dict(self.taken),
                "messages_ignored": dict(self.ignored),
                "refused": dict(self.refused),
                "state_pushes": self.state_pushes,
                "preview": dict(self.preview_counts),
                "last_state": {k: (self._state or {}).get(k) for k in ("scene", "cued", "blackout", "frozen")},
                "slow_page_skips": dict(self.slow),
                "cost": dict(self.cost),
            }

    def stop(self) -> dict:
        self.stopped = True
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(timeout=5.0)
        return self.stats()

    def _announce(self) -> None:
        if self.config.token is None:
            log.info("web remote: %s", self.url)
            return
        where = "open to the network" if self.config.open_to_network else "on this machine"
        log.warning("web remote: %s (%s; the token is asked on every request)", self.url, where)
        if self.config.open_to_network:
            print(qr_text(self.url), end="", flush=True)

    def _count(self, counter: Counter, reason: str, n: int = 1) -> None:
        with self._lock:
            counter[reason] += n

    # --- the server thread -----------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except Exception as e:  # binding failed: said in the constructor
            self._error = getattr(e, "strerror", None) or str(e)
            self._started.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        from aiohttp import web

        self._wake_state, self._wake_preview, self._stopping = asyncio.Event(), asyncio.Event(), asyncio.Event()
        @web.middleware
        async def guard(request, handler):
            return await self._guard_inner(request, handler)

        app = web.Application(middlewares=[guard], client_max_size=1024)  # GETs only: no body to read
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/thumb/{name}", self._thumb)
        app.router.add_get("/ws", self._ws)
        app.on_response_prepare.append(self._headers)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, reuse_address=False)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self._started.set()
        tasks = [asyncio.ensure_future(t) for t in (self._push_state(), self._push_preview(), self._hand_over())]
        await self._stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ws in list(self._clients):
            await ws.close(code=1001, message=b"the set is over")
        await runner.cleanup()
        with self._lock:
            self.cost["server_cpu_s"] = round(time.thread_time(), 3)  # this thread's CPU time, start to end

    # HTTP: the lock, the headers, the pages

    def _token_ok(self, request) -> str:
        """"" when the request may go on, else the reason it is refused."""
        token = self.config.token
        if token is None:  # loopback without a token: only for a page that names this machine, so that a site whose
            return "" if is_loopback(host_name(request.host)) else "host"  # name was made to point here (DNS rebinding) is refused
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return ""
        return "wrong token" if given else "no token"

    async def _guard_inner(self, request, handler):
        from aiohttp import web

        peer = request.remote or "?"
        bad = self._bad_tokens.get(peer)
        now = time.monotonic()
        while bad and now - bad[0] > 60.0:
            bad.popleft()
        if bad and len(bad) >= BAD_TOKENS_PER_MIN:
            self._count(self.refused, "rate")
            return web.Response(status=429, text="too many wrong tokens: wait a minute\n")
        reason = self._token_ok(request)
        if reason == "host":
            self._count(self.refused, reason)
            return web.Response(status=403, text="open the remote as http://127.0.0.1:PORT/ (this address names another host)\n")
        if reason:
            self._bad_tokens.setdefault(peer, deque()).append(now)
            self._count(self.refused, reason)
            return web.Response(status=403, text="the web remote needs its token: open the URL the run printed\n")
        if "token" in request.query and request.path != "/ws":  # given once: kept in a cookie, and out of the address bar
            response = web.Response(status=303, headers={"Location": request.path})
            response.set_cookie(COOKIE, self.config.token, httponly=True, samesite="Strict", path="/")
            return response
        return await handler(request)

    async def _headers(self, request, response) -> None:
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-store"

    async def _index(self, request):
        from aiohttp import web

        return web.Response(body=self.pages["index.html"], content_type="text/html", charset="utf-8")

    async def _static(self, request):
        from aiohttp import web

        name = request.match_info["name"]
        if name not in STATIC_FILES:  # a name from the list, never a path
            self._count(self.refused, "not found")
            raise web.HTTPNotFound()
        kind = STATIC_FILES[name]
        return web.Response(body=self.pages[name], content_type=kind, charset="utf-8" if kind.startswith("text/") else None)

    async def _thumb(self, request):
        from aiohttp import web

        jpeg = self.thumbnails.get(request.match_info["name"].removesuffix(".jpg"))
        if jpeg is None:
            raise web.HTTPNotFound()
        return web.Response(body=jpeg, content_type="image/jpeg")

    # the WebSocket

    def _origin_ok(self, request) -> bool:
        """A page from this server (or a script, which sends no Origin): never another site's tab."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        return origin in (f"http://{request.host}", f"https://{request.host}")

    async def _ws(self, request):
        from aiohttp import WSMsgType, web

        if not self._origin_ok(request):
            self._count(self.refused, "origin")
            return web.Response(status=403, text="cross-origin WebSocket refused\n")
        opened = self._handshakes.setdefault(request.remote or "?", deque())
        now = time.monotonic()
        while opened and now - opened[0] > 60.0:
            opened.popleft()
        if len(opened) >= HANDSHAKES_PER_MIN:
            self._count(self.refused, "rate")
            return web.Response(status=429, text="too many WebSockets opened: wait a minute\n")
        opened.append(now)
        if len(self._clients) >= MAX_CLIENTS:
            self._count(self.refused, "clients")
            return web.Response(status=503, text=f"{MAX_CLIENTS} pages are open already\n")
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, compress=False, heartbeat=20.0)
        await ws.prepare(request)
        self._clients[ws] = [request.transport, ""]
        with self._lock:
            self.clients_seen += 1
            self.clients_now = len(self._clients)
        allowance, refilled, debt = float(BURST), time.monotonic(), 0.0  # debt: messages over the rate, forgiven slowly
        try:
            if self._state is not None:
                text = json.dumps(self._state_message())
                self._clients[ws][1] = text
                await ws.send_str(text)
            async for msg in ws:
                now = time.monotonic()
                allowance = min(float(BURST), allowance + (now - refilled) * RATE_PER_S)
                debt = max(0.0, debt - (now - refilled) * FORGIVE_PER_S)
                refilled = now
                if allowance < 1.0:
                    self._ignore("flood")
                    debt += 1.0
                    if debt > BURST:  # not a page: hung up on (the close frame, then the socket), never read again
                        self._count(self.refused, "flood")
                        with contextlib.suppress(TimeoutError, ConnectionError):
                            await asyncio.wait_for(ws.close(code=1008, message=b"flood"), 0.05)
                        if request.transport is not None:
                            request.transport.abort()
                        break
                    continue
                allowance -= 1.0
                if msg.type == WSMsgType.TEXT:
                    self._take(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._ignore("type")
                elif msg.type == WSMsgType.ERROR:
                    self._ignore("oversize" if "size" in str(ws.exception()).lower() else "malformed")
        finally:
            self._clients.pop(ws, None)
            with self._lock:
                self.clients_now = len(self._clients)
        return ws

    def _ignore(self, reason: str) -> None:
        self._count(self.ignored, reason)
        self.inbox.ignore("web", reason)  # the HUD's count of ignored controls, with OSC's

    def _take(self, text: str) -> None:
        """One client message -> a Control in the inbox, or a reason counted."""
        if len(text) > MAX_MESSAGE:
            return self._ignore("oversize")
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):
            return self._ignore("malformed")
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            return self._ignore("malformed")
        kind, name = msg["type"], msg.get("name")
        if kind in ("param", "action", "scene", "cue") and not isinstance(name, str):
            return self._ignore("type")
        if kind == "param":
            control, reason = validate("param", name, msg.get("value"), "web")
        elif kind == "action":
            control, reason = (None, "refused") if name in NOT_FROM_THE_WEB else validate("action", name, None, "web")
        elif kind in ("scene", "cue"):
            if self.scenes and name not in self.scenes:
                return self._ignore("scene")
            control, reason = validate("scene", "go" if kind == "scene" else "cue", name, "web")
        elif kind == "prompt":
            control, reason = validate("prompt", "", msg.get("text"), "web")
        elif kind == "tempo":
            control, reason = validate("tempo", "", msg.get("bpm"), "web")
        else:
            control, reason = None, "unknown"
        if control is None:
            return self._ignore(reason)
        if control.kind == "param":
            self._params[control.name] = control  # the newest value wins: a slider dragged is one move per batch
        else:
            self._others.append(control)
        with self._lock:
            self.messages_taken += 1
            self.taken[f"{kind}:{name}" if kind in ("param", "action") else kind] += 1

    async def _hand_over(self) -> None:
        """The controls taken since the last batch into the inbox, every BATCH_S."""
        try:
            while True:
                await asyncio.sleep(BATCH_S)
                self._flush()
        finally:
            self._flush()  # the last ones, as the server stops

    def _flush(self) -> None:
        if self._params or self._others:
            batch, self._params, self._others = list(self._params.values()) + self._others, {}, []
            for control in batch:
                self.inbox.put(control)

    def _state_message(self) -> dict:
        return {"type": "state", **(self._state or {}), "thumbnails": sorted(self.thumbnails)}

    async def _push_state(self) -> None:
        last_text, last_push = "", 0.0
        while True:
            try:
                await asyncio.wait_for(self._wake_state.wait(), STATE_EVERY_S)
            except TimeoutError:
                pass
            self._wake_state.clear()
            wait = STATE_MIN_S - (time.monotonic() - last_push)
            if wait > 0:
                await asyncio.sleep(wait)  # coalesced: what changed meanwhile goes out in this one push
            if self._state is None or not self._clients:
                continue
            text = json.dumps(self._state_message())
            if text == last_text:
                continue
            last_text, last_push = text, time.monotonic()
            for ws, held in list(self._clients.items()):
                transport, sent = held
                if ws.closed or transport is None or sent == text:
                    continue
                if transport.get_write_buffer_size() > SLOW_CLIENT_BYTES:
                    self._count(self.slow, "state")  # it gets the next state
                    continue
                held[1] = text
                try:
                    await ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    pass  # a page going away: its handler ends it
            with self._lock:
                self.state_pushes += 1

    async def _push_preview(self) -> None:
        while True:
            await self._wake_preview.wait()
            self._wake_preview.clear()
            jpeg, self._preview = self._preview, None
            if jpeg is None:
                continue
            for ws, (transport, _) in list(self._clients.items()):
                if ws.closed or transport is None:
                    continue
                if transport.get_write_buffer_size() > SLOW_CLIENT_BYTES:
                    self._count(self.slow, "preview")  # that page is behind: it gets the next one
                    continue
                try:
                    await ws.send_bytes(jpeg)
                    self._count(self.preview_counts, "sent")
                except (ConnectionError, RuntimeError):
                    pass


def host_name(host: str) -> str:
    """The name in a Host header: "127.0.0.1:8080" -> "127.0.0.1", "[::1]:8080" -> "::1"."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if ":" in host else host


def action_names() -> list[str]:
    return [name for name in ACTIONS if name not in NOT_FROM_THE_WEB]


UNITS = {  # what a slider's number means (surface.PARAMS gives the ranges)
    "strength": "share",
    "audio_weight": "share",
    "zoom": "/frame",
    "zoom_bass": "/frame",
    "rotate": "rad/frame",
    "rotate_mid": "rad/frame",
    "drift": "/frame",
    "pulse": "/beat",
    "structure_mix": "share",
    "structure_onset": "share",
    "decay": "gain",
    "flash": "stops",
    "saturation": "x",
    "contrast": "x",
    "vignette": "share",
}


def params_message(values: dict[str, float | None]) -> dict:
    """{name: {"value", "min", "max", "unit", "help"}} for every surface parameter (value None: not in this engine)."""
    return {
        name: {"value": values.get(name), "min": p.lo, "max": p.hi, "unit": UNITS.get(name, ""), "help": p.help}
        for name, p in PARAMS.items()
    }
