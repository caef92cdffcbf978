"""The web remote: `run --web [HOST:]PORT` serves a page that drives the set from a phone or a tablet
(the protocol: docs/web.md). This module is the standard library only, for the CLI's `--help`:
the flags (`add_web_args`), the address and the token (`WebConfig`), the URL and its QR code, and
`python -m live web --print-url`. The server itself, on aiohttp in a thread of its own, is
`live.control.web.server.WebRemote`.

    config = web_config(args)                    # None without --web; bad flags: PhospheneError
    remote = WebRemote(inbox, config)            # binds (a taken port fails here, in one line)
    remote.publish(state)                        # the frame loop: the newest state, never waits
    remote.preview(jpeg)                         # the preview's sender thread: the newest picture
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from live.core.errors import PhospheneError

DEFAULT_HOST = "127.0.0.1"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")  # the owner's own machine: no token asked by default
TOKEN_BYTES = 16  # 128 random bits, URL-safe base64: 22 characters


def add_web_args(p) -> None:
    """The run command's web remote flags (an argparse parser or argument group)."""
    p.add_argument(
        "--web",
        metavar="[HOST:]PORT",
        help="serve the web remote (scenes, sliders, actions, a preview) on this port (0: one the OS picks); "
        "the host is 127.0.0.1 unless given, and any other host needs the token (docs/web.md)",
    )
    p.add_argument(
        "--web-token", metavar="TOKEN", help="the web remote's token (default: a random one made at start, said in the log)"
    )
    p.add_argument(
        "--web-token-file",
        metavar="FILE",
        help="read the web remote's token from FILE; if FILE does not exist, a random token is written to it (mode 600), "
        "so a phone's bookmark keeps working across runs",
    )


@dataclass(frozen=True)
class WebConfig:
    host: str  # the address the server binds
    port: int  # 0: one the OS picks
    token: str | None  # None: no token asked (127.0.0.1 and no --web-token)

    @property
    def open_to_network(self) -> bool:
        """Bound to an address other machines can reach (not a loopback address)."""
        return not is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, treated as the network


def parse_bind(text: str, flag: str = "--web") -> tuple[str, int]:
    """"8080" -> (127.0.0.1, 8080); "0.0.0.0:8080", "[::1]:8080" -> (host, port)."""
    host, port_text = DEFAULT_HOST, text.strip()
    if port_text.startswith("["):  # [IPv6]:PORT
        host, _, rest = port_text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif ":" in port_text:
        host, _, port_text = port_text.rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        raise PhospheneError(f"{flag} {text}: give a port, or HOST:PORT, such as {flag} 8080 or {flag} 0.0.0.0:8080") from None
    if not 0 <= port <= 65535:
        raise PhospheneError(f"{flag} {text}: ports run from 0 (one the OS picks) to 65535")
    if not host:
        raise PhospheneError(f"{flag} {text}: the host before the colon is empty; give 127.0.0.1:{port} or 0.0.0.0:{port}")
    return host, port


def check_token(token: str, where: str) -> str:
    token = token.strip()
    if len(token) < 8 or not all(c.isalnum() or c in "-_" for c in token):
        raise PhospheneError(f"{where}: a token is at least 8 letters, digits, '-' or '_'; leave it out to get a random one")
    return token


def read_token_file(path: str) -> str:
    """The token in FILE, or a new random one written there (mode 600) when FILE does not exist."""
    file = Path(path).expanduser()
    if file.is_file():
        return check_token(file.read_text(), f"--web-token-file {path}")
    if file.exists():
        raise PhospheneError(f"--web-token-file {path}: not a file; give a file's path")
    if not file.parent.is_dir():
        raise PhospheneError(f"--web-token-file {path}: no folder {file.parent}; make it or give another path")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    partial = file.with_name(f".{file.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    partial.replace(file)
    return token


def web_config(args) -> WebConfig | None:
    """The remote the flags ask for, checked before anything opens; None without --web."""
    if getattr(args, "web", None) is None:
        if getattr(args, "web_token", None) or getattr(args, "web_token_file", None):
            raise PhospheneError("--web-token and --web-token-file go with --web [HOST:]PORT; add --web 8080")
        return None
    host, port = parse_bind(args.web)
    if args.web_token and args.web_token_file:
        raise PhospheneError("--web-token and --web-token-file: give one of them")
    if args.web_token:
        token = check_token(args.web_token, "--web-token")
    elif args.web_token_file:
        token = read_token_file(args.web_token_file)
    elif host == DEFAULT_HOST or host in LOOPBACK_NAMES:
        token = None  # the owner's machine only
    else:
        token = secrets.token_urlsafe(TOKEN_BYTES)  # another address: never without one
    return WebConfig(host, port, token)


def lan_address() -> str:
    """This machine's address on the network a wildcard bind serves (no packet is sent: a UDP
    socket's connect only picks the route)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 9))
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()


def url_of(config: WebConfig, port: int | None = None) -> str:
    host = config.host
    if host in ("0.0.0.0", "::", ""):
        host = lan_address()
    if ":" in host:
        host = f"[{host}]"
    url = f"http://{host}:{config.port if port is None else port}/"
    return url + (f"?token={config.token}" if config.token else "")


def qr_text(url: str) -> str:
    """The URL as a QR code drawn in the terminal (segno, imported here only)."""
    import io

    import segno

    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()


def register(subparsers) -> None:
    """`python -m live web --print-url`: the URL (and QR code) a `run --web ...` with the same flags serves."""
    p = subparsers.add_parser(
        "web",
        help="the web remote's URL (and QR code) for `run --web`",
        description="Print the URL of the web remote that `run --web [HOST:]PORT` serves, with its token and a QR code "
        "when it is open to the network (give the same --web-token or --web-token-file as the run). Protocol: docs/web.md.",
    )
    p.add_argument("--print-url", action="store_true", help="print the URL (the default and only thing this command does)")
    add_web_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.web is None:
        raise PhospheneError("web --print-url: give the run's address, such as --web 8080 or --web 0.0.0.0:8080")
    config = web_config(args)
    if config.port == 0:
        raise PhospheneError(f"--web {args.web}: port 0 is picked by the OS at start; the run's log line gives the URL")
    if config.token and not (args.web_token or args.web_token_file):
        raise PhospheneError(
            f"--web {args.web}: a run on this address makes a random token at start (its log line gives the URL); "
            "to know it beforehand give both commands the same --web-token-file FILE"
        )
    url = url_of(config)
    print(url)
    if config.token and config.open_to_network:
        print(qr_text(url), end="")
    return 0
