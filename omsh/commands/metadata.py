"""User metadata: ``meta`` shows it, ``set-meta`` changes it.

Values are typed from the shell words (see :func:`parse_assignment`):
``n=5`` stores the integer 5, ``n='5'`` the string "5", ``when=2024-05-01``
a datetime, so that queries compare numbers as numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from omsh.commands.arguments import Complete, arg
from omsh.commands.base import Command, Invocation
from omsh.commands.formatting import printable, render_table
from omsh.commands.words import Word
from omsh.errors import UsageError
from omsh.store.access import Perm
from omsh.store.metadata import (
    MetadataValue,
    parse_value,
    to_json,
    to_text,
    type_name,
    validate_key,
)
from omsh.store.model import StoreObject
from omsh.store.view import StoreView

_SHOWN_IN_ERRORS = 60


def parse_assignment(word: str) -> tuple[str, MetadataValue]:
    """Split ``KEY=VALUE`` at its first ``=`` and type the value.

    Keys never contain ``=``, so the first one always ends the key, quoted
    or not (``'title=a b'`` works).  The value is a string whenever any of
    it was quoted (``n='5'``, ``"n=5"``); otherwise
    :func:`~omsh.store.metadata.parse_value` decides.  A word without ``=``
    is a :class:`UsageError`; a bad key or value is ``InvalidMetadata``, found
    here, before ``put`` reads any content.
    """
    index = word.find("=")
    if index < 0:
        shown = printable(word)
        if len(shown) > _SHOWN_IN_ERRORS:
            shown = shown[:_SHOWN_IN_ERRORS] + "…"
        raise UsageError(f"{shown}: expected KEY=VALUE")
    value_quoted = isinstance(word, Word) and word.is_quoted_from(index + 1)
    key = validate_key(str(word[:index]))
    return key, parse_value(str(word[index + 1 :]), quoted=value_quoted)


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
    summary = "show an object's user metadata (key, type, value)"
    arguments = (arg("path", complete=Complete.PATH, help="the object or container"),)

    def run(self, inv: Invocation) -> None:
        path = inv.args.path

        def read(view: StoreView) -> tuple[str, list[tuple[str, MetadataValue]]]:
            obj = view.resolve(path, inv.session.cwd)
            view.require(obj, Perm.READ_METADATA, path)
            return _read_items(obj)

        absolute, items = inv.view(read)
        if inv.json:
            inv.out.json(metadata_document(absolute, items))
        elif items:
            rows = [[printable(k), type_name(v), printable(to_text(v))] for k, v in items]
            render_table(inv.out, rows, headers=("KEY", "TYPE", "VALUE"))


class SetMetadata(Command):
    name = "set-meta"
    summary = "set (KEY=VALUE) or delete (-d KEY) user metadata items"
    arguments = (
        arg("path", complete=Complete.PATH, help="the object or container"),
        arg(
            "assignments",
            nargs="*",
            metavar="KEY=VALUE",
            help="items to set; a quoted value is always text: n=5 is a number, n='5' text",
        ),
        arg(
            "-d",
            "--delete",
            action="extend",
            nargs="+",
            default=[],
            metavar="KEY",
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
