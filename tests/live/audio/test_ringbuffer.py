import threading

import numpy as np
import pytest

from live.audio.ringbuffer import RingBuffer


def ramp(a, b):
    return np.arange(a, b, dtype=np.float32).reshape(-1, 1)


def test_reads_by_sample_index_across_the_wrap():
    rb = RingBuffer(capacity=100, sr=1000)
    for i in range(0, 250, 30):  # blocks of 30 wrap the 100-sample ring several times
        rb.write(ramp(i, i + 30), capture_time=i / 1000)
    assert rb.written == 270
    r = rb.read(200, 260)
    assert r.overwritten == 0 and (r.samples[:, 0] == np.arange(200, 260)).all()
    newest = rb.newest(10)
    assert newest.start == 260 and (newest.samples[:, 0] == np.arange(260, 270)).all()


def test_overwritten_samples_are_zero_and_counted():
    rb = RingBuffer(capacity=100)
    rb.write(ramp(0, 250), 0.0)
    r = rb.read(100, 200)  # only [150, 250) are still held
    assert r.overwritten == 50
    assert (r.samples[:50] == 0).all() and (r.samples[50:, 0] == np.arange(150, 200)).all()
    with pytest.raises(IndexError):
        rb.read(240, 260)  # not written yet


def test_before_the_stream_is_silence_not_loss():
    rb = RingBuffer(capacity=100)
    rb.write(ramp(0, 10), 0.0)
    r = rb.read(-5, 5)
    assert r.overwritten == 0 and (r.samples[:5] == 0).all() and (r.samples[5:, 0] == np.arange(5)).all()


def test_capture_time_of_a_sample():
    rb = RingBuffer(capacity=1000, sr=100)
    rb.write(ramp(0, 50), capture_time=10.0)
    rb.write(ramp(50, 100), capture_time=10.5)
    assert rb.capture_time(50) == pytest.approx(10.5)
    assert rb.capture_time(99) == pytest.approx(10.99)


def test_concurrent_reader_never_sees_torn_samples():
    """A writer thread laps a slow reader constantly; every sample a read returns as valid is the
    one written at that index (the ramp), the rest are zeros counted as overwritten."""
    rb = RingBuffer(capacity=512)
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            rb.write(ramp(i, i + 64) + 1, 0.0)  # +1: sample k holds k + 1, never 0
            i += 64

    t = threading.Thread(target=writer)
    t.start()
    try:
        bad = 0
        for _ in range(2000):
            end = rb.written
            if end < 512:
                continue
            r = rb.read(end - 512, end)
            valid = r.samples[r.overwritten :, 0]
            expect = np.arange(r.start + r.overwritten, r.end, dtype=np.float32) + 1
            bad += int((valid != expect).sum())
    finally:
        stop.set()
        t.join()
    assert bad == 0
