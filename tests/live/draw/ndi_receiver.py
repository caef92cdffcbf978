"""A small NDI receiver for tests, as a mixer's input would be: finds the source NAME (listed as
"HOST (NAME)") through the NDI finder, takes every new frame through NDI's frame synchroniser, and
writes what it got as JSON to OUT: the source's full name and, per frame, its size, pixel format
and 2x2 colour thumbnail (`live.draw.ndi.thumb_2x2`, the sender's own measure).

    python tests/live/draw/ndi_receiver.py NAME OUT.json [WAIT_S [LEAVE_S]]

It waits up to WAIT_S (default 60) for the source, then reads until no new frame has come for 2 s,
or, given LEAVE_S, leaves that many seconds after the first frame (a receiver lost mid-set).
Run it only inside a private network namespace with NDI restricted to 127.0.0.1 (see test_ndi.py).
"""

import json
import sys
import time

from cyndilib import Finder, Receiver, RecvBandwidth, RecvColorFormat, VideoFrameSync

from live.draw.ndi import thumb_2x2

IDLE_S = 2.0  # no new frame for this long after the first: the sender is gone
POLL_S = 0.005  # well under a frame at 60 fps, so no frame is missed for want of looking


def find(name: str, wait_s: float):
    finder = Finder()
    finder.open()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        finder.wait_for_sources(0.5)
        for full in finder.get_source_names():
            if full.endswith(f"({name})"):
                return finder, finder.get_source(full)
    finder.close()
    return None, None


def receive(source, leave_s: float | None) -> list[dict]:
    receiver = Receiver(color_format=RecvColorFormat.RGBX_RGBA, bandwidth=RecvBandwidth.highest)
    video = VideoFrameSync()
    receiver.frame_sync.set_video_frame(video)
    receiver.set_source(source)
    frames, last_stamp, last_new, first = [], None, time.monotonic(), None
    while time.monotonic() - last_new < (IDLE_S if frames else 30.0):
        if leave_s is not None and first is not None and time.monotonic() - first > leave_s:
            break
        receiver.frame_sync.capture_video()  # the newest frame (the same one again until another comes)
        stamp = video.get_timestamp_posix()
        if video.xres and stamp != last_stamp:
            last_stamp, last_new = stamp, time.monotonic()
            first = first or last_new
            width, height = video.xres, video.yres
            picture = video.get_array().reshape(height, -1)[:, : 4 * width].reshape(height, width, 4)  # (H, W, 4)
            frames.append({"size": [width, height], "fourcc": video.get_fourcc().name, "thumb": thumb_2x2(picture[..., :3])})
        time.sleep(POLL_S)
    receiver.disconnect()
    return frames


def main() -> int:
    name, out = sys.argv[1], sys.argv[2]
    wait_s = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    leave_s = float(sys.argv[4]) if len(sys.argv) > 4 else None
    finder, source = find(name, wait_s)
    if source is None:
        print(f"receiver: no NDI source named {name!r} in {wait_s:.0f} s", flush=True)
        return 1
    full = source.name
    frames = receive(source, leave_s)
    finder.close()
    with open(out, "w") as f:
        json.dump({"source": full, "frames": frames}, f)
    print(f"receiver: {len(frames)} frames from {full!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
