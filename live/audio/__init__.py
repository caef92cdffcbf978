"""Sound in: files decoded and resampled to exact blocks (decode), the PortAudio capture child
(capture), a file played in at real time (fileinput), the shared-memory ring buffer with its int64
sample clock (ringbuffer), and the sample buffer the offline clocks slide windows over (windows).
numpy, soxr and PyAV; sounddevice only in the capture child; never torch or GL."""
