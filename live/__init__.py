"""Phosphene's engine: audio in, pictures out, on a live (wall) clock or an offline (virtual) one.

Its parts, each importing only those below it (the rules: .importlinter, checked by `make test`):

    __main__   the `python -m live` parser and thin command functions
    lab        programs that measure or train (benches, beat corpus, beat-net trainer, JACK dummy)
    app        the stages wired on a clock: render (offline), run (live), engines, stats
    draw       pictures out: GL, the shader engine, the window, MP4 files
    models     inference: model lookup, encoder and its runtimes, conditioning, img2img
    audio      sound in: decode, capture, ring buffer, sample windows
    analysis   what the sound means per frame: features, beats, the Drive record drawing reads
    core       errors, logs, timing, defaults, latency profiles
"""
