"""FrameSender, the part every video output shares (--stream, --ndi, --virtual-camera): the frame
loop's send() never waits for a slow output; what the output cannot take is dropped and counted,
never queued; a failing write is counted and the next frame goes on; a frame of another size is
skipped. The outputs here are real threads that really sleep or raise, not mocks of one."""

import time

import numpy as np

from live.draw.outputs import FrameSender


class SlowOut(FrameSender):
    kind = "slow"

    def __init__(self, write_s: float, fail_every: int = 0):
        super().__init__("slow", width=8, height=4)
        self.write_s, self.fail_every, self.written, self.closed = write_s, fail_every, [], False
        self.start()

    def write(self, rgb):
        time.sleep(self.write_s)
        if self.fail_every and (len(self.written) + 1) % self.fail_every == 0:
            self.written.append(None)
            raise ConnectionError("receiver gone")
        self.written.append(int(rgb[0, 0, 0]))

    def close(self):
        self.closed = True


def frame(k: int, shape=(4, 8, 3)) -> np.ndarray:
    return np.full(shape, k % 256, dtype=np.uint8)


def test_a_slow_output_drops_and_counts_instead_of_slowing_the_loop():
    out = SlowOut(write_s=0.02)  # 50 frames a second at most
    t0 = time.perf_counter()
    for k in range(200):  # offered as fast as the loop can: far more than it takes
        out.send(frame(k))
    offering_s = time.perf_counter() - t0
    result = out.stop()
    assert offering_s < 0.4, offering_s  # waiting for each 20 ms write would take 4 s
    assert result["sent"] + result["dropped"] == 200 and result["dropped"] > 150, result  # those queued at the end are sent
    assert result["sent"] == len(out.written) and out.closed
    assert out.written == sorted(out.written)  # the frames it took, in the order shown: no backlog replayed


def test_an_output_that_keeps_up_sends_every_frame():
    out = SlowOut(write_s=0.0)
    for k in range(100):
        out.send(frame(k))
        time.sleep(0.002)  # a display interval, shortened
    result = out.stop()
    assert result == {"name": "slow", "sent": 100, "dropped": 0, "errors": 0} and out.written == list(range(100))


def test_errors_are_counted_and_the_set_goes_on():
    out = SlowOut(write_s=0.0, fail_every=5)
    for k in range(50):
        out.send(frame(k))
        time.sleep(0.002)
    result = out.stop()
    assert result["errors"] == 10 and result["sent"] == 40 and out.last_error == "ConnectionError: receiver gone", result


def test_a_frame_of_another_size_is_skipped_and_none_is_not_sent():
    out = SlowOut(write_s=0.0)
    out.send(None)  # no picture yet
    out.send(frame(1, shape=(8, 8, 3)))
    out.send(frame(2))
    time.sleep(0.05)
    result = out.stop()
    assert out.written == [2] and result["sent"] == 1 and result["errors"] == 0, result
