"""Fixtures for the live tests: a JACK dummy server (live/lab/jackdummy.py), started fresh per test."""

import subprocess

import pytest

from live.lab import jackdummy


@pytest.fixture
def jack():
    subprocess.run(["pkill", "-9", "-x", "jackd"])
    proc = jackdummy.start_server()
    yield proc
    subprocess.run(["pkill", "-9", "-x", "jackd"])
    proc.wait(timeout=5)
