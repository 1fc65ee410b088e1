"""Finding objects by metadata: ``query`` (the SQL-like language) and ``find``.

Both build a query tree and hand it to :meth:`StoreView.query`, which answers
from the catalog and filters by ACL; the output ends with the transaction
the answer is complete as of.
"""

from __future__ import annotations

import re
import time
from typing import Any

from omsh.commands.arguments import Arg, Complete, arg, at_arg, repeated, within_arg
from omsh.commands.base import Command, Invocation
from omsh.commands.formatting import printable, render_table
from omsh.commands.metadata import TYPING_DETAILS, TYPING_HELP, parse_assignment
from omsh.errors import UsageError
from omsh.store.index import RANK_DATETIME, RANK_NUMBER, RANK_STRING, sort_key
from omsh.store.query import (
    ALIASES,
    And,
    Compare,
    Glob,
    IsNull,
    Node,
    QueryResult,
    age_seconds,
    display_field,
    field_name,
    key_to_json,
    parse_query,
)
from omsh.store.view import StoreView

_SIZE = re.compile(r"(\d+)([kmgt]?)(i?b)?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """``1000``, ``10k``, ``5M``, ``2GiB`` -> bytes (binary units)."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise UsageError(f"{text!r} is not a size (like 100, 10k, 5M, 2G)")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_age(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``3d``, ``1w`` (or ``1d12h``) -> seconds."""
    seconds = age_seconds(text)
    if seconds is None:
        raise UsageError(f"{text!r} is not an age (like 30m, 2h, 3d, 1w)")
    return seconds


def _row(result: QueryResult, docid: int, select: list[str]) -> dict[str, Any]:
    """One result row, read from the catalog alone."""
    row: dict[str, Any] = {"path": result.path(docid)}
    for field in select:
        key = result.value(docid, field)
        row[display_field(field)] = None if key is None else key_to_json(key)
    return row


def select_fields(text: str | None) -> list[str]:
    if not text:
        return []
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError("--select needs field names")
    return [field_name(name.strip('"'), quoted=name.startswith('"')) for name in names]


def select_arg(help: str) -> Arg:
    """``--select F,…``: the fields a result shows as columns."""
    return arg("--select", metavar="F,…", complete=Complete.FIELDS, help=help)


class SearchCommand(Command):
    """Shared output of ``query`` and ``find``: rows, count, completeness."""

    def search(
        self,
        inv: Invocation,
        node: Node,
        within: str | None,
        *,
        select: list[str],
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        count_only: bool = False,
    ) -> None:
        if limit is not None and limit < 0:
            raise UsageError("--limit must be 0 or more")

        def run(view: StoreView) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            # A result reads the catalog: everything is taken from it in here.
            result = view.query(node, within, inv.session.cwd)
            footer = {
                "count": len(result),
                "transaction": result.transaction,
                "complete_as_of": result.as_of,
            }
            if count_only:
                return footer, []
            docids = result.ordered(order_by, descending)
            if limit is not None:
                docids = docids[:limit]
            # Ctrl-C is checked per row: a big result takes a while to read.
            return footer, [_row(result, docid, select) for docid in inv.checked(docids)]

        footer, rows = inv.view(run)
        total = footer["count"]
        shown = total if limit is None else min(total, limit)
        if inv.json:
            inv.out.json(footer if count_only else {"results": rows, **footer})
            return
        if count_only:
            inv.out.line(str(total))
        else:
            columns = ["path", *(display_field(f) for f in select)]
            table = [[printable(_text(row.get(c))) for c in columns] for row in rows]
            render_table(inv.out, table, headers=columns if select else None)
        more = f", {shown} shown" if shown != total else ""
        noun = "object" if total == 1 else "objects"
        inv.err.line(
            f"({total} {noun}{more}; complete as of transaction {footer['transaction']},"
            f" {footer['complete_as_of']})"
        )


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Query(SearchCommand):
    name = "query"
    summary = "find objects whose metadata match a SQL-like expression"
    arguments = (
        at_arg(),
        arg(
            "expression",
            metavar="EXPR",
            complete=Complete.QUERY,
            help="e.g. \"size > 1000000 AND mimetype LIKE 'image/%'\" (see help query)",
        ),
        select_arg("fields to show as columns"),
        within_arg("only objects below this container"),
        arg(
            "--order-by",
            metavar="F",
            complete=Complete.FIELD,
            help="sort by this field (missing values last)",
        ),
        arg("--desc", action="store_true", help="sort descending"),
        arg("--limit", type=int, metavar="N", help="show at most N objects"),
        arg("--count", action="store_true", help="print only how many objects match"),
    )

    def run(self, inv: Invocation) -> None:
        args = inv.args
        node = parse_query(args.expression)
        order = None
        if args.order_by:
            name = args.order_by
            order = field_name(name.strip('"'), quoted=name.startswith('"'))
        elif args.desc:
            raise UsageError("--desc needs --order-by")
        self.search(
            inv,
            node,
            args.within,
            select=select_fields(args.select),
            order_by=order,
            descending=args.desc,
            limit=args.limit,
            count_only=args.count,
        )


class Find(SearchCommand):
    name = "find"
    summary = "find objects below a container by name, size, age or metadata"
    details = TYPING_DETAILS
    arguments = (
        at_arg(),
        arg(
            "path",
            nargs="?",
            default=".",
            complete=Complete.CONTAINER,
            help="where to look (default: the working container)",
        ),
        arg("--name", metavar="GLOB", help="name matches a shell pattern (*.jpg)"),
        arg("--larger", metavar="SIZE", help="content larger than SIZE (100, 10k, 5M, 1G)"),
        arg("--smaller", metavar="SIZE", help="content smaller than SIZE"),
        arg("--newer-than", metavar="AGE", help="modified less than AGE ago (30m, 2h, 3d)"),
        arg("--older-than", metavar="AGE", help="modified more than AGE ago"),
        arg("--type", choices=["container", "object"], help="only containers or objects"),
        repeated(
            "--meta",
            metavar="K=V",
            complete=Complete.METADATA_ITEM,
            help=f"metadata K equals V, typed as in set-meta: {TYPING_HELP}; repeatable",
        ),
    )

    def run(self, inv: Invocation) -> None:
        args = inv.args
        conditions: list[Node] = []
        if args.name:
            conditions.append(Glob("name", args.name))
        if args.larger:
            conditions.append(Compare("cdmi_size", ">", (RANK_NUMBER, parse_size(args.larger))))
        if args.smaller:
            conditions.append(Compare("cdmi_size", "<", (RANK_NUMBER, parse_size(args.smaller))))
        now = time.time()
        if args.newer_than:
            cutoff = now - parse_age(args.newer_than)
            conditions.append(Compare("cdmi_mtime", ">", (RANK_DATETIME, cutoff)))
        if args.older_than:
            cutoff = now - parse_age(args.older_than)
            conditions.append(Compare("cdmi_mtime", "<", (RANK_DATETIME, cutoff)))
        if args.type:
            conditions.append(Compare("type", "=", (RANK_STRING, args.type)))
        for item in args.meta:
            key, value = parse_assignment(item)
            typed = sort_key(value)
            assert typed is not None
            conditions.append(Compare(field_name(key, quoted=True), "=", typed))
        # Every indexed object has a type, so "type IS NOT NULL" is everything.
        node: Node = And(tuple(conditions)) if conditions else IsNull("type", negated=True)
        self.search(inv, node, args.path, select=[])


COMMANDS = (Query, Find)
__all__ = ["ALIASES", "COMMANDS", "Find", "Query"]
