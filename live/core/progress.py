"""Progress bars that read well in a log: on a terminal tqdm redraws one line; written to a file or
a pipe (`make demo > log`, a CI job), its carriage-return redraws would make one unreadable line, so
it prints a plain line every few seconds instead.

    tqdm(total=n, desc="render", **bar_output())
"""

from __future__ import annotations

import sys

PIPED_EVERY_S = 5.0  # seconds between progress lines when stderr is not a terminal


class LineWriter:
    """A file for tqdm that turns each redraw ("\\rrender: 40%|...") into a line of its own."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        for part in text.replace("\r", "\n").split("\n"):
            if part.strip():
                self.stream.write(part.rstrip() + "\n")

    def flush(self) -> None:
        self.stream.flush()


def bar_output(stream=None) -> dict:
    """tqdm keyword arguments for `stream` (default stderr): none on a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        return {"file": stream}
    return {"file": LineWriter(stream), "mininterval": PIPED_EVERY_S, "maxinterval": PIPED_EVERY_S, "ascii": True, "ncols": 80}
