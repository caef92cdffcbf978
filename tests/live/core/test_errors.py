"""One exit path for the three CLIs (`run_main`): a PhospheneError is one `error:` line and exit 2,
Ctrl-C (or SIGTERM) exit 130 with a note, anything else a bug with its traceback."""

import os
import signal
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from live.core.errors import ModelNotFound, PhospheneError, run_main

ROOT = Path(__file__).resolve().parents[3]


def fails(error):
    def command(args):
        raise error

    return command


def test_run_main_maps_errors_to_exit_codes(capsys):
    args = Namespace(command="go")
    assert run_main({"go": lambda a: 0}, args) == 0
    assert run_main({"go": fails(PhospheneError("--size 7: must be a multiple of 64"))}, args) == 2
    assert capsys.readouterr().err == "error: --size 7: must be a multiple of 64\n"
    assert run_main({"go": fails(KeyboardInterrupt())}, args, interrupted="the newest checkpoint stays") == 130
    assert capsys.readouterr().err == "interrupted: the newest checkpoint stays\n"
    assert run_main({"go": fails(KeyboardInterrupt("stopped at step 40"))}, args, interrupted="the newest checkpoint stays") == 130
    assert capsys.readouterr().err == "interrupted: stopped at step 40\n"  # a command that knows where it stopped says so
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_main({"go": fails(ZeroDivisionError())}, args)


def test_a_missing_model_advises_the_commands_own_tiny_flag(capsys):
    args = Namespace(command="go")
    missing = fails(ModelNotFound("encoder 'a/b' is not cached", tiny="--models tiny"))
    assert run_main({"go": missing}, args) == 2
    assert capsys.readouterr().err == "error: encoder 'a/b' is not cached, or use --models tiny for a smoke run\n"  # live's
    assert run_main({"go": missing}, args, tiny="--encoder tiny") == 2
    assert capsys.readouterr().err == "error: encoder 'a/b' is not cached, or use --encoder tiny for a smoke run\n"
    assert run_main({"go": missing}, args, tiny=None) == 2  # a command with no tiny option gives no such advice
    assert capsys.readouterr().err == "error: encoder 'a/b' is not cached\n"
    assert run_main({"go": fails(ModelNotFound("download failed"))}, args, tiny="--encoder tiny") == 2
    assert capsys.readouterr().err == "error: download failed\n"  # no advice where a smoke run would not help


def test_sigterm_is_handled_like_ctrl_c(capsys):
    def killed(args):
        os.kill(os.getpid(), signal.SIGTERM)  # delivered to this (main) thread before kill() returns
        raise AssertionError("SIGTERM did not interrupt")

    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert run_main({"go": killed}, Namespace(command="go")) == 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert "interrupted: no output was written" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, says",
    [
        (["live", "beats", "/no/such.wav"], "/no/such.wav"),
        (["export", "verify", "/no/such/export"], "/no/such/export"),
        (["training", "info", "/no/such/encoder"], "/no/such/encoder"),
    ],
)
def test_every_cli_gives_one_line_and_exit_2(argv, says):
    r = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in r.stderr
