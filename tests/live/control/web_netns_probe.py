"""Run inside a private network namespace (loopback only) by test_web.py: a live run bound to
0.0.0.0, the whole network of this namespace, and a client probing it on 127.0.0.1. Prints one
JSON line: what was refused, what was served, what the terminal showed."""

import asyncio
import json
import re
import signal
import subprocess
import sys
import threading

import aiohttp


async def probe(port: int, token: str) -> dict:
    out = {}
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/") as r:
            out["no_token"] = r.status
        async with s.get(base + "/?token=wrong-token-1234") as r:
            out["wrong_token"] = r.status
        try:
            await s.ws_connect(base + "/ws")
        except aiohttp.WSServerHandshakeError as e:
            out["ws_no_token"] = e.status
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.get(f"{base}/?token={token}") as r:
            out["with_token"] = r.status
        async with s.ws_connect(base + "/ws") as ws:
            state = await ws.receive_json(timeout=10)
            out["state"] = state["type"]
            await ws.send_json({"type": "action", "name": "freeze"})
            await asyncio.sleep(0.5)
    return out


def main(run: list[str]) -> None:
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log, url = [], None
    for line in proc.stderr:
        log.append(line)
        if m := re.search(r"web remote: (http://\S+) \(([^;]+)", line):
            url, where = m.group(1), m.group(2)
            break
    threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True).start()
    result = {"log": "".join(log)}
    if url:
        port, token = int(re.search(r":(\d+)/", url).group(1)), url.split("token=")[1]
        result.update(url=url, where=where, **asyncio.run(probe(port, token)))
    proc.send_signal(signal.SIGINT)
    result["stdout"] = proc.communicate(timeout=30)[0]
    result["returncode"] = proc.returncode
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
