"""Declaring a command's arguments once.

A command lists :func:`arg` declarations; from them :func:`build_parser`
makes an ``argparse`` parser (help text and usage errors), and the shell's
completer reads :attr:`Arg.complete` to know which words are paths, users,
metadata keys, query expressions or command names.  Every parser also gets
the options every command takes: ``--help``, ``--json``, ``--color WHEN``
and ``--no-pager``, and ``-h`` for help too unless the command claims ``-h``
for itself (see :func:`claims_dash_h`).  An unknown flag is reported with
the nearest ones the command has (:meth:`CommandParser.unrecognized`), as an
unknown command is with the nearest command names (:func:`did_you_mean`).
"""

from __future__ import annotations

import argparse
import difflib
import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, cast

from omsh.errors import UsageError
from omsh.store.asof import When, parse_when

#: How alike (difflib's ratio) a word must be to a known one to be suggested,
#: and how much less alike than the best suggestion another may be.
_CLOSE = 0.6
_NEARLY_AS_CLOSE = 0.1

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
    #: A user, ``g:GROUP`` or a special principal (``OWNER@``…): ``acl grant``.
    PRINCIPAL = "principal"
    #: Permission words or letters, comma-separated (``read,write``, ``rw``).
    PERMS = "perms"
    #: A setfacl entry: ``u:NAME:PERMS``, ``g:NAME:PERMS``, ``o::PERMS``, ``SPECIAL@:PERMS``.
    FACL_ENTRY = "facl-entry"
    #: A setfacl entry without permissions (``-x``): ``u:NAME``, ``g:NAME``, ``SPECIAL@``.
    FACL_NAME = "facl-name"
    #: A user metadata key the target (or what lies below it) has.
    METADATA_KEY = "metadata-key"
    #: ``KEY=VALUE``: the key is completed (with its ``=``) as a metadata key.
    METADATA_ITEM = "metadata-item"
    #: A query expression (``help query``): fields, operators and keywords.
    QUERY = "query"
    #: One query field: a system field or a metadata key.
    FIELD = "field"
    #: Comma-separated query fields (``--select name,size``).
    FIELDS = "fields"


@dataclass(frozen=True)
class Arg:
    flags: tuple[str, ...]
    help: str
    complete: Complete
    options: dict[str, Any] = field(default_factory=dict)
    #: Words completed besides what :attr:`complete` names, without restricting
    #: the value as ``choices`` would (``acl``'s actions beside its paths).
    keywords: tuple[str, ...] = ()

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


def arg(
    *flags: str,
    help: str,
    complete: Complete = Complete.NOTHING,
    keywords: Sequence[str] = (),
    **options: Any,
) -> Arg:
    """Declare one argument; *options* are ``argparse.add_argument`` keywords."""
    if complete is Complete.NOTHING and not flags[0].startswith("-"):
        complete = Complete.TEXT
    return Arg(tuple(flags), help, complete, options, tuple(keywords))


def paths_arg(help: str, *, dest: str = "paths", optional: bool = False) -> Arg:
    """The common ``PATH…`` positional: one or more paths (any number if *optional*),
    wildcards expanded."""
    nargs = "*" if optional else "+"
    return arg(dest, nargs=nargs, metavar="PATH", complete=Complete.PATH, help=help)


def within_arg(help: str) -> Arg:
    """``--in PATH``: only objects below a container (``query``, ``view add``, ``--query``)."""
    return arg("--in", dest="within", metavar="PATH", complete=Complete.CONTAINER, help=help)


def action_or_path_arg(actions: Sequence[str], help: str) -> Arg:
    """The first word of a command with sub-actions (``acl grant``, ``meta export``).

    It is completed as a path and as the action words; an object named like
    an action is written as a path (``./grant``).
    """
    return arg("first", metavar="PATH|ACTION", complete=Complete.PATH, keywords=actions, help=help)


def repeated(*flags: str, metavar: str, help: str, **options: Any) -> Arg:
    """An option that may be given many times: its values in order, ``[]`` if never."""
    return arg(*flags, action="append", default=[], metavar=metavar, help=help, **options)


def recursive_arg(help: str) -> Arg:
    """The common ``-r``/``-R``/``--recursive`` switch."""
    return arg("-r", "-R", "--recursive", action="store_true", help=help)


def when(text: str) -> When:
    """An ``--at`` value, or argparse's usage error (exit 2) naming the option."""
    try:
        return parse_when(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def at_arg() -> Arg:
    """The common ``--at WHEN`` of read commands: read the tree as it was then."""
    return arg(
        "--at",
        type=when,
        metavar="WHEN",
        help="as of then: an ISO time (UTC unless given), an age (10m, 2d), a transaction id"
        " or a snapshot's name",
    )


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


def close_matches(typed: str, known: Iterable[str]) -> list[str]:
    """The few of *known* closest to *typed* (a typo, a swapped or missing letter).

    :func:`difflib.get_close_matches`' ratio decides, so a word unlike any
    known one gets nothing, and only the best match and those nearly as
    close are kept (``pwdd``: pwd or passwd, not every word sharing a letter).
    """
    close = difflib.get_close_matches(typed, list(known), n=3, cutoff=_CLOSE)
    if not close:
        return []
    best = difflib.SequenceMatcher(None, typed, close[0]).ratio()
    return [
        word
        for word in close
        if difflib.SequenceMatcher(None, typed, word).ratio() >= best - _NEARLY_AS_CLOSE
    ]


def did_you_mean(suggestions: Sequence[str]) -> str:
    """``"; did you mean ls?"`` (``"…cp or cd?"``) naming *suggestions*, or ``""``."""
    if not suggestions:
        return ""
    if len(suggestions) == 1:
        return f"; did you mean {suggestions[0]}?"
    return f"; did you mean {', '.join(suggestions[:-1])} or {suggestions[-1]}?"


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def unrecognized(self, extras: Sequence[str]) -> UsageError:
        """argparse's "unrecognized arguments" error, with the nearest flags.

        Python 3.12's ``suggest_on_error`` does this for choices; on 3.11 it
        is done here, for every unknown flag among *extras* (``--value`` of
        ``--flag=value`` is not part of the name).
        """
        message = f"unrecognized arguments: {' '.join(extras)}"
        flags = [word.partition("=")[0] for word in extras if word.startswith("-") and word != "-"]
        # Compared without their dashes, which every flag shares.
        known = {flag.lstrip("-"): flag for flag in self._option_string_actions}
        suggested = dict.fromkeys(
            known[match] for flag in flags for match in close_matches(flag.lstrip("-"), known)
        )
        return UsageError(message + did_you_mean(list(suggested)[:3]))

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or "invalid arguments")


def claims_dash_h(arguments: Sequence[Arg]) -> bool:
    """Whether a command declares ``-h`` itself (``ls -h``, ``du -h``, ``df -h``).

    The rule: ``--help`` is help everywhere; ``-h`` is help only where the
    command does not give it the coreutils meaning (human-readable sizes),
    so ``ls -lh`` works as every bash user types it.
    """
    return any("-h" in declared.flags for declared in arguments)


def help_flags(arguments: Sequence[Arg]) -> tuple[str, ...]:
    """The words that ask a command with these *arguments* for its help."""
    return ("--help",) if claims_dash_h(arguments) else ("-h", "--help")


def build_parser(name: str, summary: str, arguments: Sequence[Arg]) -> CommandParser:
    """The argparse parser for one command's declared arguments.

    Help strings are literal text: argparse %-formats them (for
    ``%(default)s``), so a ``%`` in an example (``LIKE 'image/%'``) is
    escaped here rather than in every declaration.
    """
    parser = CommandParser(prog=name, description=summary, add_help=False, allow_abbrev=False)
    parser.add_argument(*help_flags(arguments), action="store_true", help="show this help and exit")
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
