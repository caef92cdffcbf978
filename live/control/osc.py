"""OSC in: `--osc-port N` (default host 127.0.0.1; `--osc-host 0.0.0.0` opens it to the network,
said in the log). The address space (`python -m live osc` prints it):

    /phosphene/param/<name>   <float>    a parameter, its value within its range (see surface.PARAMS)
    /phosphene/unit/<name>    <float>    the same, as 0..1 of its range (a fader)
    /phosphene/action/<name>             an action (surface.ACTIONS)
    /phosphene/prompt         <string>   a new text prompt (diffusion)
    /phosphene/tempo          <float>    the tempo in BPM, as a tap tempo would set it
    /phosphene/scene          <string>   go to the scene of that name (the session's --transition)
    /phosphene/scene/cue      <string>   cue it: it fires on the next phrase, or at once on scene_go

The socket is read and every packet parsed in a child process: a flood of tens of thousands of
messages a second costs that process's time, not the frame loop's. The child coalesces (the newest
value of each parameter wins, actions keep their order) and hands the parent a batch at most every
10 ms. Unknown addresses, wrong types, out-of-range values, malformed and oversized packets are
counted and ignored; nothing a sender does can raise in the parent.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading

from live.control.surface import Inbox, validate
from live.core.errors import PhospheneError

log = logging.getLogger("phosphene")
DEFAULT_OSC_HOST = "127.0.0.1"  # this machine only: --osc-host opens it wider

PREFIX = "/phosphene/"
MAX_PACKET = 8192  # bytes: a control message is tens of bytes; bigger packets are refused unread
BATCH_S = 0.01  # the child hands over what arrived at most this often


def parse(data: bytes) -> list[tuple[str, str, object]] | str:
    """[(kind, name, value)] from one datagram, or the reason it is ignored."""
    from pythonosc.osc_packet import OscPacket, ParseError

    if len(data) > MAX_PACKET:
        return "oversize"
    try:
        packet = OscPacket(data)
    except ParseError:
        return "malformed"
    except Exception:  # python-osc raises other types on some garbage (struct, unicode, index errors)
        return "malformed"
    out = []
    for timed in packet.messages:
        address, params = timed.message.address, timed.message.params
        if not address.startswith(PREFIX):
            out.append(("unknown", address, None))
            continue
        head, _, name = address[len(PREFIX) :].partition("/")
        value = params[0] if len(params) == 1 else (None if not params else params)
        if head in ("param", "unit") and name:
            out.append((head, name, value))
        elif head == "action" and name:
            out.append(("action", name, None))
        elif head in ("prompt", "tempo") and not name:
            out.append((head, "", value))
        elif head == "scene" and name in ("", "cue"):
            out.append(("scene", name or "go", value))
        else:
            out.append(("unknown", address, None))
    return out


def check_port(port: int) -> None:
    """Refuse, in one line, a port no socket can have (before a child is started for it)."""
    if not 0 <= port <= 65535:
        raise PhospheneError(f"--osc-port {port}: a UDP port is 1-65535, or 0 for one the OS picks (said in the log)")


def bind_error(host: str, port: int, error: Exception) -> str:
    """What a failed bind means, as the user's flag and a fix that would work."""
    import errno
    import socket

    number = getattr(error, "errno", None)
    if isinstance(error, socket.gaierror):
        return f"--osc-host {host}: not an address or a name this machine can resolve; give one of its addresses (127.0.0.1: this machine only, 0.0.0.0: every network it is on)"
    if number == errno.EADDRNOTAVAIL:
        return f"--osc-host {host}: not an address of this machine; give one of its own (127.0.0.1: this machine only, 0.0.0.0: every network it is on)"
    if number == errno.EADDRINUSE:
        return f"--osc-port {port}: another program listens on {host}:{port}; choose another port, or 0 for one the OS picks"
    if number == errno.EACCES:
        return f"--osc-port {port}: ports below 1024 need root here; choose one from 1024 up, or 0 for one the OS picks"
    return f"--osc-host {host} --osc-port {port}: cannot listen there ({getattr(error, 'strerror', None) or error})"


def _bind(host: str, port: int):
    """A UDP socket bound to host:port, IPv4 or IPv6 as the address is."""
    import socket

    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _serve(host: str, port: int, conn) -> None:
    """The child: bind, say which port, then read, parse, validate, coalesce and hand over batches.
    A failed bind is sent to the parent as one line (the parent says it and stops the child), never printed."""
    import signal
    import time
    from collections import Counter

    from live.control.surface import PARAMS

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops this child
    try:
        sock = _bind(host, port)
    except Exception as e:  # OSError, gaierror; OverflowError and the like for what check_port let through
        conn.send(("error", bind_error(host, port, e)))
        return
    conn.send(("bound", sock.getsockname()[1]))
    sock.settimeout(BATCH_S)
    params, actions, ignored = {}, [], Counter()
    last_sent = time.monotonic()
    while True:
        try:
            data, _ = sock.recvfrom(65536)
            try:
                items = parse(data)
            except Exception:  # never let a sender stop the listener
                items = "malformed"
            if isinstance(items, str):
                ignored[items] += 1
            for kind, name, value in items if not isinstance(items, str) else ():
                if kind == "unit":
                    if name in PARAMS and isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
                        kind, value = "param", PARAMS[name].from_unit(float(value))
                    else:
                        kind = "param" if name not in PARAMS else "range-unit"
                control, reason = validate(kind, name, value, "osc") if kind != "range-unit" else (None, "range")
                if control is None:
                    ignored[reason] += 1
                elif control.kind == "param":
                    params[control.name] = control  # the newest value wins
                elif len(actions) < 256:
                    actions.append(control)
                else:
                    ignored["flood"] += 1
        except TimeoutError:
            pass
        now = time.monotonic()
        if now - last_sent >= BATCH_S and (params or actions or ignored):
            try:
                conn.send((list(params.values()) + actions, dict(ignored)))
            except (BrokenPipeError, EOFError, OSError):
                return  # the parent is gone
            params, actions, ignored, last_sent = {}, [], Counter(), now


class OscListener:
    """The OSC child and a parent thread that moves its batches into the inbox."""

    def __init__(self, inbox: Inbox, *, host: str = DEFAULT_OSC_HOST, port: int = 0):
        check_port(port)
        self.inbox = inbox
        context = mp.get_context("spawn")
        parent, child = context.Pipe()
        self.conn = parent
        self.process = context.Process(target=_serve, args=(host, port, child), daemon=True, name="phosphene-osc")
        self.process.start()
        child.close()  # the child's end is the child's: a child that dies closes the pipe, and recv says so
        try:
            status, value = parent.recv() if parent.poll(10.0) else ("error", "it did not answer within 10 s")
        except (EOFError, OSError):
            status, value = "error", f"it ended before it listened (exit code {self.process.exitcode})"
        if status != "bound":
            self.stop()
            raise PhospheneError(value if value.startswith("--osc") else f"--osc-port {port}: the OSC listener did not start ({value})")
        self.host, self.port = host, value
        if host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("OSC: listening on %s:%d, open to the network (the default is 127.0.0.1)", host, self.port)
        else:
            log.info("OSC: listening on %s:%d", host, self.port)
        self._thread = threading.Thread(target=self._forward, name="phosphene-osc-in", daemon=True)
        self._thread.start()

    def _forward(self) -> None:
        while True:
            try:
                controls, ignored = self.conn.recv()
            except (EOFError, OSError):
                return
            for control in controls:
                self.inbox.put(control)
            for reason, count in ignored.items():
                self.inbox.ignore("osc", reason, count)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=2.0)
        self.conn.close()
