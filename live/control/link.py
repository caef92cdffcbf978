"""Ableton Link in: `run --link` joins the Link session on the local network (Live, Traktor,
Resolume, a phone app: any Link peer) and follows its tempo and beat grid.

Each beat of the session's timeline becomes a tap on the action surface, timed at the instant Link
says the beat fell (not when Python woke up for it), so the beat clock the shaders see sits on the
rig's grid, and a tempo change in the session moves it within a beat or two. `--tempo-source`
chooses whether Link, MIDI clock, taps or the audio drive (auto: the latest to speak).

aalink is built for asyncio: the session lives on an event loop of its own, in a thread, and the
frame loop never waits for it. Link multicasts on every interface; tests run it only inside a
private network namespace.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from live.control.surface import Control, Inbox
from live.core.errors import PhospheneError

log = logging.getLogger("phosphene")


class LinkInput:
    name = "link"

    def __init__(self, inbox: Inbox, *, bpm: float = 120.0, quantum: int = 4):
        try:
            import aalink
        except ImportError:
            raise PhospheneError("--link needs aalink: pip install -r requirements.txt") from None
        self.inbox, self.quantum = inbox, quantum
        self.tempo, self.peers, self.beats = bpm, 0, 0
        self.tempos: list[float] = []  # each tempo the session has had, in order
        self.lost, self.reconnects = False, 0  # the HUD's "controller lost" fields: Link has no port to lose
        self._aalink, self._bpm = aalink, bpm
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="phosphene-link", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=5.0)
        if self._error is not None:
            raise PhospheneError(f"--link: cannot join a Link session ({self._error})")
        log.info("Ableton Link: joined at %.1f BPM (quantum %d); following the session's tempo and beat", bpm, quantum)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._follow())
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    async def _follow(self) -> None:
        try:
            link = self._aalink.Link(self._bpm, self._loop)
            link.quantum = self.quantum
            link.enabled = True
        except Exception as e:
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                await link.sync(1)
                now, beat, tempo = time.monotonic(), link.beat, link.tempo
                # the beat fell (beat - round(beat)) beats ago: we woke a little after it
                at = now - (beat - round(beat)) * 60.0 / tempo
                if not self.tempos or abs(tempo - self.tempos[-1]) > 0.01:
                    self.tempos.append(round(tempo, 2))  # the session's tempo changes, for the stats
                self.tempo, self.peers, self.beats = tempo, link.num_peers, self.beats + 1
                self.inbox.put(Control("action", "tap", at, "link"))
        finally:
            link.enabled = False

    def status(self) -> str:
        return f"link {self.tempo:.1f} BPM, {self.peers} peer{'s' if self.peers != 1 else ''}"

    def _cancel(self) -> None:
        for task in asyncio.all_tasks(self._loop):
            task.cancel()

    def stop(self) -> dict:
        try:
            self._loop.call_soon_threadsafe(self._cancel)
        except RuntimeError:  # the loop already ended (it failed to join)
            pass
        self._thread.join(timeout=2.0)
        return {"tempo": self.tempo, "peers": self.peers, "beats": self.beats, "tempos": self.tempos}
