"""User metadata: ``meta`` shows it, ``set-meta`` changes it.

Values are typed by their text, never by quoting (see :func:`parse_assignment`):
``n=5`` and ``'n=5'`` store the integer 5, ``when=2024-05-01`` a datetime,
and ``code:str=007`` forces the string "007", so that queries compare
numbers as numbers.  ``meta`` shows each item in that same form, so its
output pasted into ``set-meta`` gives back the same types.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Any

from omsh.commands.arguments import Complete, arg, at_arg
from omsh.commands.base import Command, Invocation
from omsh.commands.formatting import printable, render_table
from omsh.errors import UsageError
from omsh.store.metadata import (
    TYPE_NAMES,
    MetadataValue,
    format_item,
    parse_value,
    split_key,
    to_json,
    type_name,
    type_spellings,
    validate_key,
)
from omsh.store.model import StoreObject
from omsh.store.view import StoreView

_SHOWN_IN_ERRORS = 60


#: How the typing rule is explained in the help of set-meta, put and find.
TYPING_HELP = (
    "the text decides the type (5 int, 1.5 float, true bool, 2024-06-01 datetime, "
    f"else text), quoted or not; KEY:TYPE=VALUE forces one ({', '.join(TYPE_NAMES)})"
)


#: The ``details`` of the commands that take items: each type's spellings.
TYPING_DETAILS = "KEY:TYPE=VALUE forces a type; each takes these spellings:\n" + "".join(
    f"  {name:<9} {spellings}\n" for name, spellings in type_spellings().items()
)


def parse_assignment(word: str) -> tuple[str, MetadataValue]:
    """Split ``KEY[:TYPE]=VALUE`` at its first ``=`` and type the value.

    Keys never contain ``=``, so the first one always ends the key
    (``'title=a b'`` works).  Quoting changes nothing: the value's text
    decides its type (:func:`~omsh.store.metadata.parse_value`) unless the
    key ends in ``:TYPE`` (:func:`~omsh.store.metadata.split_key`).  A word
    without ``=`` or a value that is no spelling of its ``TYPE`` is a
    :class:`UsageError`; a bad key or value is ``InvalidMetadata``, found
    here, before ``put`` reads any content.
    """
    spec, equals, text = str(word).partition("=")
    if not equals:
        shown = printable(str(word))
        if len(shown) > _SHOWN_IN_ERRORS:
            shown = shown[:_SHOWN_IN_ERRORS] + "…"
        raise UsageError(f"{shown}: expected KEY=VALUE")
    key, kind = split_key(spec)
    return validate_key(key), parse_value(text, kind)


def pasteable_item(key: str, value: MetadataValue) -> str:
    """One item as a ``set-meta`` word: :func:`format_item`, quoted for the shell."""
    return printable(shlex.quote(format_item(key, value)))


def parse_assignments(words: Iterable[str]) -> dict[str, MetadataValue]:
    """Every ``KEY=VALUE`` word typed; a later assignment of a key wins."""
    return dict(parse_assignment(word) for word in words)


def metadata_document(path: str, items: list[tuple[str, MetadataValue]]) -> dict[str, Any]:
    """The JSON form of an object's user metadata, with each value's type."""
    return {
        "path": path,
        "metadata": {key: to_json(value) for key, value in items},
        "types": {key: type_name(value) for key, value in items},
    }


def _read_items(obj: StoreObject) -> tuple[str, list[tuple[str, MetadataValue]]]:
    """Path and sorted metadata items: plain values, usable after the transaction."""
    return obj.path, sorted(obj.metadata.items())


class ShowMetadata(Command):
    name = "meta"
    summary = "show an object's user metadata: each item's type and KEY=VALUE as set-meta takes it"
    arguments = (at_arg(), arg("path", complete=Complete.PATH, help="the object or container"))

    def run(self, inv: Invocation) -> None:
        path = inv.args.path

        def read(view: StoreView) -> tuple[str, list[tuple[str, MetadataValue]]]:
            return _read_items(view.stat(view.resolve(path, inv.session.cwd), path))

        absolute, items = inv.view(read)
        if inv.json:
            inv.out.json(metadata_document(absolute, items))
        elif items:
            rows = [[type_name(v), pasteable_item(k, v)] for k, v in items]
            render_table(inv.out, rows, headers=("TYPE", "ITEM"))


class SetMetadata(Command):
    name = "set-meta"
    summary = "set (KEY=VALUE) or delete (-d KEY) user metadata items"
    details = TYPING_DETAILS + "meta shows every item in the form set-meta takes back.\n"
    arguments = (
        arg("path", complete=Complete.PATH, help="the object or container"),
        arg(
            "assignments",
            nargs="*",
            metavar="KEY=VALUE",
            complete=Complete.METADATA_ITEM,
            help=f"items to set; {TYPING_HELP}",
        ),
        arg(
            "-d",
            "--delete",
            action="extend",
            nargs="+",
            default=[],
            metavar="KEY",
            complete=Complete.METADATA_KEY,
            help="keys to delete",
        ),
    )

    def run(self, inv: Invocation) -> None:
        args = inv.args
        if not args.assignments and not args.delete:
            raise UsageError("nothing to do: give KEY=VALUE items or -d KEY")
        updates = parse_assignments(args.assignments)
        deletions = tuple(str(key) for key in args.delete)
        if any("=" in key for key in deletions):
            raise UsageError("-d takes keys, not KEY=VALUE; put assignments before -d")

        def change(view: StoreView) -> tuple[str, list[tuple[str, MetadataValue]]]:
            obj = view.resolve(args.path, inv.session.cwd)
            view.set_metadata(obj, args.path, updates, deletions)
            return _read_items(obj)

        absolute, items = inv.view(change, write=True)
        if inv.json:
            inv.out.json(metadata_document(absolute, items))


COMMANDS = (ShowMetadata, SetMetadata)
