"""`run --stream URL`: the picture as a low-latency H.264 stream that OBS, vimix or VLC can open:
udp://HOST:PORT and srt://HOST:PORT as MPEG-TS, rtmp://... as FLV, through PyAV's ffmpeg.

Frames go through `live.draw.outputs.FrameSender`: when the encoder or the network lags, the
frame is dropped and counted (shown in the stats), never queued.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

from live.core.errors import PhospheneError
from live.draw.outputs import FrameSender

log = logging.getLogger("phosphene")

FORMATS = {"udp": "mpegts", "srt": "mpegts", "rtmp": "flv", "rtmps": "flv"}


class StreamOut(FrameSender):
    kind = "stream"

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
        super().__init__(url, width=width, height=height)
        self.pts = 0
        self.start()
        log.info("streaming %dx%d H.264 to %s", width, height, url)

    def write(self, rgb: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts, self.pts = self.pts, self.pts + 1
        self.container.mux(self.video.encode(frame))

    def close(self) -> None:
        self.container.mux(self.video.encode(None))
        self.container.close()

    def stop(self) -> dict:
        result = super().stop()
        return {"url": result.pop("name"), **result}
