"""The one exception type that reaches the user as a single line, and the one exit path for all
three CLIs (`python -m live`, `python -m export`, `python -m training`).

Anything raised as `PhospheneError` is a problem with the user's input or machine (a missing file,
a model that cannot be found, a size the model cannot take). `run_main` prints its message after
`error: ` and exits with status 2, without a traceback; Ctrl-C (and SIGTERM, which it maps to
Ctrl-C) exits with 130. Everything else is a bug and keeps its traceback.

A model that cannot be found (`ModelNotFound`) ends with advice for a smoke run with seeded random
weights; the flag for that differs between the CLIs (`--models tiny` in live, `--encoder tiny` in
export), so each CLI names its own to `run_main`.
"""

import gc
import signal
import sys


class PhospheneError(Exception):
    """A problem the user can fix: the message names what was wrong and what to do."""


class ModelNotFound(PhospheneError):
    """A named model is neither a local folder, nor cached, nor downloadable from here.

    `tiny` is how the command asks for seeded random weights instead (`--models tiny`): the advice the
    message ends with, or None where a smoke run would not help."""

    def __init__(self, problem: str, tiny: str | None = None):
        super().__init__(problem if tiny is None else f"{problem}, or use {tiny} for a smoke run")
        self.problem, self.tiny = problem, tiny

    def advising(self, tiny: str | None) -> "ModelNotFound":
        """The same error with another command's advice (none: the command has no tiny option)."""
        return ModelNotFound(self.problem, tiny if self.tiny is not None else None)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run_main(
    commands: dict, args, *, quiet: bool = False, interrupted: str = "no output was written", tiny: str | None = "--models tiny"
) -> int:
    """Run `commands[args.command](args)` as a CLI does: logging set up, a kill from a script cleaned
    up like Ctrl-C, a PhospheneError as one `error:` line on stderr and exit 2, Ctrl-C as exit 130.

    `interrupted` is said after Ctrl-C, unless the KeyboardInterrupt carries its own text (a command
    that knows where it stopped); `tiny` is this command's advice for a ModelNotFound (None: none)."""
    from live.core.logs import setup_logging

    setup_logging(quiet)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return commands[args.command](args)
    except ModelNotFound as e:
        print(f"error: {e.advising(tiny)}", file=sys.stderr)
        return 2
    except PhospheneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"interrupted: {str(e) or interrupted}", file=sys.stderr)
        return 130
    finally:
        # The command has closed what it opened. The interpreter's last garbage collection over
        # torch's and transformers' objects would take another second (a VJ's quit, a script's
        # SIGTERM): they are left to the process's exit.
        gc.freeze()
