"""``--query EXPR``: the command side of bulk edits, shared by four commands.

``set-meta``, ``rm``, ``chown`` and ``acl grant|deny|revoke`` take the same
three options (:func:`query_arguments`) and run the same way
(:func:`run_bulk`): the query parsed (one-line error, exit 2), every match
checked and changed in one write transaction by
:func:`omsh.store.bulk.edit_matches`, then a count — or, with ``--dry-run``,
the paths that would change (JSON lines with ``--json``) and nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable

from omsh.commands.arguments import Arg, Complete, arg, within_arg
from omsh.commands.base import Invocation
from omsh.commands.formatting import printable
from omsh.errors import OmshError, UsageError
from omsh.store.bulk import BulkChange, Outcome, edit_matches, parse_bulk_query
from omsh.store.view import StoreView


def query_arguments(verb: str) -> tuple[Arg, ...]:
    """``--query EXPR``, ``--in PATH`` and ``--dry-run``; *verb* says what happens to matches."""
    return (
        arg(
            "--query",
            metavar="EXPR",
            complete=Complete.QUERY,
            help=f"{verb} every object matching EXPR (as query finds them) in one"
            " transaction, all or nothing, instead of naming paths",
        ),
        within_arg("with --query: only objects below this container"),
        arg(
            "--dry-run",
            action="store_true",
            help="with --query: list the paths that would change; change nothing",
        ),
    )


def check_query_usage(inv: Invocation, named: bool, usage: str) -> bool:
    """Whether this run is a bulk one; *named*: paths were given as well.

    ``--query`` replaces the paths, and ``--in``/``--dry-run`` only go with it.
    """
    args = inv.args
    if args.query is None:
        if args.within is not None or args.dry_run:
            raise UsageError("--in and --dry-run go with --query")
        return False
    if named:
        raise UsageError(f"--query replaces the paths: {usage}")
    return True


def plural(count: int, noun: str = "object") -> str:
    """``1 object``, ``1,204 objects``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def count_matches(inv: Invocation) -> int:
    """How many objects ``--query`` matches now (to ask before removing them)."""
    node = parse_bulk_query(inv.args.query)
    within, cwd = inv.args.within, inv.session.cwd

    def count(view: StoreView) -> int:
        return len(view.query(node, within, cwd))

    return inv.view(count)


def run_bulk(
    inv: Invocation,
    change: Callable[[StoreView], BulkChange],
    done: Callable[[Outcome], str],
    *,
    expected: int | None = None,
) -> Outcome:
    """Apply the change *change* makes (in the transaction) to every ``--query`` match.

    Prints *done*'s line (or ``{"count", "changed"}`` with ``--json``); a
    dry run prints the paths that would change instead, and a count on
    stderr.  *expected*: see :func:`~omsh.store.bulk.edit_matches`.
    """
    args = inv.args
    node = parse_bulk_query(args.query)
    dry_run = bool(args.dry_run)

    def work(view: StoreView) -> Outcome:
        return edit_matches(
            view,
            node,
            args.within,
            inv.session.cwd,
            change(view),
            dry_run=dry_run,
            expected=expected,
        )

    outcome = inv.view(work, write=not dry_run)
    report_bulk(inv, outcome, done)
    return outcome


def report_bulk(inv: Invocation, outcome: Outcome, done: Callable[[Outcome], str]) -> None:
    """A bulk edit's result: *done*'s line (``{"count", "changed"}`` with ``--json``).

    After a dry run: the paths that would change, one per line (JSON lines
    ``{"path"}`` with ``--json``), and how many on stderr.
    """
    if outcome.dry_run:
        for path in inv.checked(outcome.paths):
            inv.emit({"path": path}, printable(path))
        inv.err.line(f"({plural(outcome.count)} would change; nothing changed)")
    else:
        inv.emit({"count": outcome.count, "changed": outcome.changed}, done(outcome))


def refuse_cancelled(question: str, inv: Invocation) -> None:
    """Ask *question*; a refusal is an error (exit 1) that says nothing changed."""
    if not inv.confirm(question):
        raise OmshError("cancelled, nothing changed")
