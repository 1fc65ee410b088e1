"""Declaring a command's arguments once.

A command lists :func:`arg` declarations; from them :func:`build_parser`
makes an ``argparse`` parser (help text and usage errors), and the shell's
completer reads :attr:`Arg.complete` to know which words are paths, users or
command names.  Every parser also gets the options every command takes:
``-h/--help``, ``--json``, ``--color WHEN`` and ``--no-pager``.
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, cast

from omsh.errors import UsageError

#: The values of ``--color``, as ls and git spell them.
COLOR_CHOICES = ("never", "auto", "always")


class Complete(enum.Enum):
    """What kind of value an argument takes, for completion and globbing."""

    NOTHING = "nothing"
    PATH = "path"  # any object; unquoted wildcards expand
    CONTAINER = "container"  # a container path; wildcards expand
    COMMAND = "command"
    USER = "user"
    GROUP = "group"
    TEXT = "text"


@dataclass(frozen=True)
class Arg:
    flags: tuple[str, ...]
    help: str
    complete: Complete
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_positional(self) -> bool:
        return not self.flags[0].startswith("-")

    @property
    def dest(self) -> str:
        if self.is_positional:
            return cast(str, self.options.get("dest", self.flags[0]))
        longest = max(self.flags, key=len).lstrip("-")
        return cast(str, self.options.get("dest", longest.replace("-", "_")))

    @property
    def takes_value(self) -> bool:
        return self.options.get("action", "store") in ("store", "append", "extend")


def arg(*flags: str, help: str, complete: Complete = Complete.NOTHING, **options: Any) -> Arg:
    """Declare one argument; *options* are ``argparse.add_argument`` keywords."""
    if complete is Complete.NOTHING and not flags[0].startswith("-"):
        complete = Complete.TEXT
    return Arg(tuple(flags), help, complete, options)


def paths_arg(help: str, *, dest: str = "paths") -> Arg:
    """The common ``PATH…`` positional: one or more paths, wildcards expanded."""
    return arg(dest, nargs="+", metavar="PATH", complete=Complete.PATH, help=help)


def repeated(*flags: str, metavar: str, help: str, **options: Any) -> Arg:
    """An option that may be given many times: its values in order, ``[]`` if never."""
    return arg(*flags, action="append", default=[], metavar=metavar, help=help, **options)


def recursive_arg(help: str) -> Arg:
    """The common ``-r``/``-R``/``--recursive`` switch."""
    return arg("-r", "-R", "--recursive", action="store_true", help=help)


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type=`` for counts: a whole number, *minimum* or more.

    Bad text is a usage error that names it, as every other argument's is.
    """

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is less than {minimum}")
        return value

    return whole_number


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or "invalid arguments")


def build_parser(name: str, summary: str, arguments: Sequence[Arg]) -> CommandParser:
    """The argparse parser for one command's declared arguments.

    Help strings are literal text: argparse %-formats them (for
    ``%(default)s``), so a ``%`` in an example (``LIKE 'image/%'``) is
    escaped here rather than in every declaration.
    """
    parser = CommandParser(prog=name, description=summary, add_help=False, allow_abbrev=False)
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument(
        "--color",
        choices=COLOR_CHOICES,
        metavar="WHEN",
        help="colour the output: never, auto (on a terminal, unless NO_COLOR) or always",
    )
    parser.add_argument(
        "--no-pager", action="store_true", help="never page the output (interactive shell)"
    )
    for declared in arguments:
        help_text = declared.help.replace("%", "%%")
        parser.add_argument(*declared.flags, help=help_text, **declared.options)
    return parser
