"""The one exception type that reaches the user as a single line, and the one exit path for all
three CLIs (`python -m live`, `python -m export`, `python -m training`).

Anything raised as `PhospheneError` is a problem with the user's input or machine (a missing file,
a model that cannot be found, a size the model cannot take). `run_main` prints its message after
`error: ` and exits with status 2, without a traceback; Ctrl-C (and SIGTERM, which it maps to
Ctrl-C) exits with 130. Everything else is a bug and keeps its traceback.
"""

import signal
import sys


class PhospheneError(Exception):
    """A problem the user can fix: the message names what was wrong and what to do."""


class ModelNotFound(PhospheneError):
    """A named model is neither a local folder, nor cached, nor downloadable from here."""


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run_main(commands: dict, args, *, quiet: bool = False, interrupted: str = "no output was written") -> int:
    """Run `commands[args.command](args)` as a CLI does: logging set up, a kill from a script cleaned
    up like Ctrl-C, a PhospheneError as one `error:` line on stderr and exit 2, Ctrl-C as exit 130."""
    from live.core.logs import setup_logging

    setup_logging(quiet)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return commands[args.command](args)
    except PhospheneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: {interrupted}", file=sys.stderr)
        return 130
