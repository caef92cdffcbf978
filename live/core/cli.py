"""The argparse house every command line shares (`python -m live`, `export`, `training`, and the
`phosphene` command): help that shows each option's default and what a number takes, a refused
value as one line naming what was typed, and the one way a command is dispatched.

A command module (diffusers' CLI is the model) has `register(sub)`, which adds its parser to the
subcommands and sets `func` to the function that runs it; the top file only lists the modules.
Nothing here imports more than the standard library, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import sys

from live.core.units import FlagValueError


class HelpFormatter(argparse.HelpFormatter):
    """A description or epilog of several lines as written (a one-line one wrapped); every option's
    help ends with what a number takes and its default, unless the help already says its default."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" not in text.strip():
            return super()._fill_text(text, width, indent)
        return "".join(indent + line for line in text.splitlines(keepends=True))

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        takes = getattr(action.type, "takes", None)
        if takes and takes in help:
            takes = None
        default = action.default
        unset = default is None or default is False or default is argparse.SUPPRESS or default in ("", [])
        if not unset and "default" not in help and (action.option_strings or action.nargs in ("?", "*")):
            notes = [takes, "default: %(default)s"] if takes else ["default: %(default)s"]
            return f"{help} ({'; '.join(notes)})"
        if not takes:
            return help
        k = help.rfind("(")
        if help.endswith(")") and "default" in help[k:]:  # "... (default: to the end)" -> "... (seconds > 0; default: to the end)"
            return f"{help[: k + 1]}{takes}; {help[k + 1 :]}"
        return f"{help} ({takes})"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose refused values are one line: `error: --attack nan: not a number; give
    seconds >= 0, e.g. 0.2` and exit 2, the way every other mistake is reported. Other parse errors
    (an unknown flag, a missing argument) keep argparse's usage line."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, exit_on_error=False, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        try:
            return super().parse_known_args(args, namespace)
        except argparse.ArgumentError as e:
            refused = e.__context__  # argparse raises its ArgumentError while handling the type's error
            if isinstance(refused, FlagValueError):
                flag = (e.argument_name or "").split("/")[-1]
                self.exit(2, f"error: {flag} {refused}\n")
            self.error(str(e))


def top_parser(prog: str, description: str):
    """A command line's top parser and its subcommands, for each command's register(sub)."""
    parser = Parser(prog=prog, description=description)
    return parser, parser.add_subparsers(dest="command", metavar="command")


def subcommand(parser: argparse.ArgumentParser, args) -> argparse.ArgumentParser:
    """The parser of the (sub)command that was given, so its errors name it: `python -m live render: error: ...`."""
    while parser._subparsers is not None:
        action = parser._subparsers._group_actions[0]
        name = getattr(args, action.dest, None)
        if name not in action.choices:
            break
        parser = action.choices[name]
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: list[str] | None, **run_main_options) -> int:
    """Parse `argv` and run the command's `func` (set by its register()) through run_main: a
    PhospheneError as one line and exit 2, Ctrl-C and SIGTERM as exit 130. No command: the help."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        subcommand(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "func", None) is None:
        subcommand(parser, args).print_help()
        return 2
    from live.core.errors import run_main

    options = {"quiet": getattr(args, "quiet", False), **run_main_options}
    if getattr(args, "tiny", None) is not None:  # the command's own advice for a model that cannot be found
        options["tiny"] = args.tiny
    return run_main({args.command: args.func}, args, **options)


def prog(module: str) -> str:
    """How the user called us: `phosphene` (the console script) or `python -m live`."""
    import os

    return "phosphene" if os.path.basename(sys.argv[0]) == "phosphene" else f"python -m {module}"
