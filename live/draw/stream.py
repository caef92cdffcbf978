"""`run --stream URL`: the picture as a low-latency H.264 stream that OBS, vimix or VLC can open:
udp://HOST:PORT and srt://HOST:PORT as MPEG-TS, rtmp://... as FLV, through PyAV's ffmpeg.

The frame loop hands each shown frame to a sender thread and never waits for it: when the encoder
or the network lags, the frame is dropped and counted (shown in the stats), never queued.
"""

from __future__ import annotations

import logging
import queue
import threading
from fractions import Fraction

import numpy as np

from live.core.errors import PhospheneError

log = logging.getLogger("phosphene")

FORMATS = {"udp": "mpegts", "srt": "mpegts", "rtmp": "flv", "rtmps": "flv"}


class StreamOut:
    def __init__(self, url: str, *, width: int, height: int, fps: int):
        import av

        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in FORMATS:
            raise PhospheneError(f"--stream {url}: give udp://HOST:PORT, srt://HOST:PORT or rtmp://HOST/APP/KEY")
        if width % 2 or height % 2:
            raise PhospheneError(f"--stream: H.264 needs an even size, not {width}x{height}")
        try:
            self.container = av.open(url, "w", format=FORMATS[scheme], options={"flush_packets": "1"})
            self.video = self.container.add_stream(
                "libx264", rate=fps, options={"preset": "ultrafast", "tune": "zerolatency", "g": str(fps)}
            )
            self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
            self.video.time_base = Fraction(1, fps)
            self.container.start_encoding()
        except (av.FFmpegError, OSError, ValueError) as e:
            raise PhospheneError(f"--stream {url}: the muxer cannot open it ({e})") from None
        self.url, self.width, self.height = url, width, height
        self.sent = self.dropped = self.errors = 0
        self.last_error = ""
        self._frames: queue.Queue = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._send, name="phosphene-stream", daemon=True)
        self._thread.start()
        log.info("streaming %dx%d H.264 to %s", width, height, url)

    def send(self, rgb: np.ndarray | None) -> None:
        """Called by the frame loop: never blocks."""
        if rgb is None:
            return
        try:
            self._frames.put_nowait(rgb)
        except queue.Full:
            self.dropped += 1

    def _send(self) -> None:
        import av

        pts = 0
        while True:
            rgb = self._frames.get()
            if rgb is None:
                break
            try:
                if rgb.shape[:2] != (self.height, self.width):
                    continue  # a frame of another size (not expected): skipped, not a crash
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p")
                frame.pts, pts = pts, pts + 1
                self.container.mux(self.video.encode(frame))
                self.sent += 1
            except Exception as e:  # a receiver gone, a network error: counted, the set goes on
                self.errors += 1
                self.last_error = f"{type(e).__name__}: {e}"
        try:
            self.container.mux(self.video.encode(None))
            self.container.close()
        except Exception:
            pass

    def stop(self) -> dict:
        try:
            self._frames.put(None, timeout=1.0)
        except queue.Full:
            pass
        self._thread.join(timeout=2.0)
        return {"url": self.url, "sent": self.sent, "dropped": self.dropped, "errors": self.errors}
