"""The one exception type that reaches the user as a single line.

Anything raised as `PhospheneError` is a problem with the user's input or machine (a missing file,
a model that cannot be found, a size the model cannot take). The CLI prints its message after
`error: ` and exits with status 2, without a traceback. Everything else is a bug and keeps its
traceback.
"""

import sys


class PhospheneError(Exception):
    """A problem the user can fix: the message names what was wrong and what to do."""


class ModelNotFound(PhospheneError):
    """A named model is neither a local folder, nor cached, nor downloadable from here."""


def run_command(command, args) -> int:
    """A CLI command's exit status: a PhospheneError becomes one `error:` line on stderr and exit 2."""
    try:
        return command(args)
    except PhospheneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
