"""Fixtures for the live tests: a JACK dummy server (live/lab/jackdummy.py) under a private name,
started fresh per test and stopped by its process id: a user's own JACK server is never touched."""

import os

import pytest

from live.lab import jackdummy


@pytest.fixture
def jack(monkeypatch):
    for key in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER"):  # start_server sets them; undone after the test
        monkeypatch.setenv(key, os.environ.get(key, ""))
    proc = jackdummy.start_server()
    yield proc
    while jackdummy.STARTED:  # this one, and a restarted one a failing test did not get to stop
        jackdummy.stop_server(jackdummy.STARTED.pop())


@pytest.fixture(scope="module")
def ctx():
    """A headless GL context (EGL on Mesa here) for the shader and scene tests; skipped, with the
    reason, on a machine that has none."""
    from live.core.errors import PhospheneError
    from live.draw.gl import create_context

    try:
        context = create_context()
    except PhospheneError as e:
        pytest.skip(f"no headless GL here: {e}")
    yield context
    context.release()
