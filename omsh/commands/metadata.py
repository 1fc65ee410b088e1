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

from omsh.commands import metaio
from omsh.commands.arguments import (
    Complete,
    action_or_path_arg,
    arg,
    at_arg,
    recursive_arg,
)
from omsh.commands.base import Command, Invocation
from omsh.commands.bulk import (
    check_query_usage,
    plural,
    query_arguments,
    report_bulk,
    run_bulk,
)
from omsh.commands.formatting import printable, render_table
from omsh.commands.streams import require_piped_input
from omsh.errors import OmshError, UsageError
from omsh.store import bulk as bulk_edits
from omsh.store.bulk import Outcome
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
from omsh.store.model import StoreObject, walk
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


#: The actions ``meta`` takes in place of a path.
META_ACTIONS = ("export", "import")


class ShowMetadata(Command):
    name = "meta"
    summary = (
        "show an object's user metadata: each item's type and KEY=VALUE as set-meta takes it;"
        " meta export/import: typed metadata as JSON lines or CSV"
    )
    arguments = (
        at_arg(),
        action_or_path_arg(META_ACTIONS, "the object or container, or export or import"),
        arg("path", nargs="?", complete=Complete.PATH, help="export: the object or container"),
        recursive_arg("export: everything below PATH too (what ls -R would show you)"),
        arg("--csv", action="store_true", help="export/import: CSV rows path,key,type,value"),
        arg(
            "--replace",
            action="store_true",
            help="import: each object keeps only the imported items (default: merge)",
        ),
        arg(
            "--dry-run", action="store_true", help="import: list what would change; change nothing"
        ),
    )
    details = """
    forms:
      meta PATH                          the items, typed, as set-meta takes them
      meta export PATH [-r] [--csv]      path + typed metadata (JSON lines, or CSV)
      meta import [--csv] [--replace] [--dry-run] < FILE
                                         set what an export holds, in one transaction

    export writes one JSON line per object, in path order:
      {"path": "/a/b", "metadata": {"n": {"type": "int", "value": 5}, ...}}
    type is str, int, float, bool or datetime; a datetime's value is a CDMI
    timestamp (2024-06-01T12:00:00.000000Z).  --csv writes the header
    path,key,type,value and one row per item, each value as meta shows it.
    import reads either back (a text value is typed by its type, as
    KEY:TYPE=VALUE is): all objects or none, each needing write-metadata; a
    bad line is refused with its number (line 17: ...).  Export, import,
    export gives the same text.  To show an object named like an action,
    write its path: meta ./export.
    """

    def run(self, inv: Invocation) -> None:
        args = inv.args
        action = args.first if args.first in META_ACTIONS else None
        _check_meta_arguments(action, args)
        if action == "export":
            export_metadata(inv, args.path, recursive=args.recursive)
            return
        if action == "import":
            import_metadata(inv)
            return
        path = args.first

        def read(view: StoreView) -> tuple[str, list[tuple[str, MetadataValue]]]:
            return _read_items(view.stat(view.resolve(path, inv.session.cwd), path))

        absolute, items = inv.view(read)
        if inv.json:
            inv.out.json(metadata_document(absolute, items))
        elif items:
            rows = [[type_name(v), pasteable_item(k, v)] for k, v in items]
            render_table(inv.out, rows, headers=("TYPE", "ITEM"))


def _check_meta_arguments(action: str | None, args: Any) -> None:
    """Each form of ``meta`` takes its own options."""
    form = f"meta {action}" if action else "meta PATH"
    allowed = {
        None: set(),
        "export": {"recursive", "csv"},
        "import": {"csv", "replace", "dry_run"},
    }[action]
    for name, flag in (
        ("recursive", "-r"),
        ("csv", "--csv"),
        ("replace", "--replace"),
        ("dry_run", "--dry-run"),
    ):
        if getattr(args, name) and name not in allowed:
            raise UsageError(f"{flag} does not go with {form}")
    if action == "export" and args.path is None:
        raise UsageError("usage: meta export PATH [-r] [--csv]")
    if action != "export" and args.path is not None:
        raise UsageError(f"{form} takes no further path")
    if action == "export" and args.csv and args.json:
        raise UsageError("--csv and --json: choose one")


def export_metadata(inv: Invocation, path: str, *, recursive: bool) -> None:
    """``meta export``: path and typed items of *path* (and its subtree), in path order."""

    def read(view: StoreView) -> list[tuple[str, list[tuple[str, MetadataValue]]]]:
        top = view.stat(view.resolve(path, inv.session.cwd), path)
        found = []
        for _, node in inv.checked(walk(top) if recursive else [("", top)]):
            if view.visible_below(top, node):
                found.append(_read_items(node))
        found.sort(key=lambda entry: entry[0])
        return found

    entries = inv.view(read)
    if inv.args.csv:
        inv.out.write(metaio.csv_header())
        for absolute, items in entries:
            inv.out.write(metaio.csv_rows(absolute, items))
    else:
        for absolute, items in entries:
            inv.out.line(metaio.json_line(absolute, items))


def import_metadata(inv: Invocation) -> None:
    """``meta import``: read all of standard input, then one transaction.

    Nothing is applied before the input has ended: a malformed line, or a
    client that goes away mid-input, changes nothing.
    """
    args = inv.args
    require_piped_input(inv, "meta import", "")
    lines = metaio.input_lines(metaio.read_chunks(inv.stdin.read))
    records = metaio.read_csv(lines) if args.csv else metaio.read_json_lines(lines)
    merged = metaio.merge(records)
    cwd = inv.session.cwd

    def work(view: StoreView) -> Outcome:
        targets = []
        items: dict[str, dict[str, MetadataValue]] = {}
        for record in merged.values():
            subject = f"line {record.line}: {record.path}"
            try:
                obj = view.resolve(record.path, cwd)
            except OmshError as exc:
                exc.subject = f"line {record.line}: {exc.subject or record.path}"
                raise
            if obj.path in items:
                raise metaio.MalformedInput(f"{subject}: the same object as an earlier line")
            items[obj.path] = record.items
            targets.append(bulk_edits.Target(obj, subject))
        change = bulk_edits.ReplaceMetadata(items, replace=args.replace)
        return bulk_edits.edit(view, targets, change, dry_run=args.dry_run)

    outcome = inv.view(work, write=not args.dry_run)
    report_bulk(
        inv,
        outcome,
        lambda done: f"imported metadata of {plural(done.count)} ({done.changed:,} changed)",
    )


class SetMetadata(Command):
    name = "set-meta"
    summary = "set (KEY=VALUE) or delete (-d KEY) user metadata items"
    details = (
        TYPING_DETAILS
        + "meta shows every item in the form set-meta takes back.\n"
        + "set-meta --query EXPR [--in PATH] KEY=VALUE… [-d KEY…] changes every object"
        " the query\nshows you in one transaction: if you may not change one of them,"
        ' nothing changes.\n--json: {"count": matches, "changed": objects whose'
        " metadata changed}.\n"
    )
    arguments = (
        arg("path", nargs="?", complete=Complete.PATH, help="the object or container"),
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
        *query_arguments("change"),
    )

    def run(self, inv: Invocation) -> None:
        args = inv.args
        bulk = args.query is not None
        if bulk and args.path is not None:  # with --query every positional is an item
            args.assignments, args.path = [args.path, *args.assignments], None
        check_query_usage(inv, False, "set-meta --query EXPR KEY=VALUE… [-d KEY…]")
        if not bulk and args.path is None:
            raise UsageError("usage: set-meta PATH KEY=VALUE… [-d KEY…], or --query EXPR")
        if not args.assignments and not args.delete:
            raise UsageError("nothing to do: give KEY=VALUE items or -d KEY")
        updates = parse_assignments(args.assignments)
        deletions = tuple(str(key) for key in args.delete)
        if any("=" in key for key in deletions):
            raise UsageError("-d takes keys, not KEY=VALUE; put assignments before -d")
        if bulk:
            edit = bulk_edits.SetMetadata(updates, deletions)
            run_bulk(inv, lambda view: edit, lambda outcome: _metadata_done(edit, outcome))
            return

        def change(view: StoreView) -> tuple[str, list[tuple[str, MetadataValue]]]:
            obj = view.resolve(args.path, inv.session.cwd)
            view.set_metadata(obj, args.path, updates, deletions)
            return _read_items(obj)

        absolute, items = inv.view(change, write=True)
        if inv.json:
            inv.out.json(metadata_document(absolute, items))


def _metadata_done(change: bulk_edits.SetMetadata, outcome: Outcome) -> str:
    """``set 3 keys on 1,204 objects`` (and what was deleted)."""
    parts = []
    if change.updates:
        parts.append(f"set {plural(len(change.updates), 'key')}")
    if change.deletions:
        parts.append(f"deleted {plural(len(change.deletions), 'key')}")
    return f"{' and '.join(parts)} on {plural(outcome.count)}"


COMMANDS = (ShowMetadata, SetMetadata)
