"""The history family: ``history PATH``, ``restore PATH --at WHEN``, ``undo TXN``.

The store reads the revisions and says what each changed
(:mod:`omsh.store.history`); ``history PATH`` only prints them: a table, or
one JSON line per change with ``--json``, and a last line saying where the
kept history begins (the ``history`` command itself is the shell's, in
:mod:`omsh.commands.shell`, as it also lists typed lines).  ``restore`` and
``undo`` write the past back (:mod:`omsh.store.restore`) and print what
changed.
"""

from __future__ import annotations

from datetime import datetime

from omsh.commands.arguments import Arg, Complete, arg, at_least, recursive_arg, when
from omsh.commands.base import Command, Invocation
from omsh.commands.formatting import printable, render_table
from omsh.store.history import History, object_history
from omsh.store.restore import Outcome, restore, undo


def local_time(epoch: float) -> str:
    """The server's local time, ISO 8601 to the second with its UTC offset."""
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def max_count_arg() -> Arg:
    """``-n N``: only the N newest changes of an object."""
    return arg(
        "-n",
        "--max-count",
        type=at_least(1),
        default=None,
        metavar="N",
        help="with PATH: only the N newest changes",
    )


#: What ``history PATH`` prints, for the ``history`` command's help.
DETAILS = """
    With PATH: every kept change of that object, newest first: the time
    (local), the transaction id (16 hex digits), the user(s) whose writes
    it committed ("unknown" for transactions from before users were
    recorded) and what changed: created, content (sizes), mimetype,
    metadata (+added ~changed -removed keys), acl, owner, moved from PATH,
    and for a container its children (+added -removed names); "touched"
    when only the times changed. A last line says where the history begins
    when older changes were packed away. Needs the right to see PATH now.
    A PATH of digits only is N (as in bash): write ./2 for an object named 2.

    --json with PATH: one line per change: {"time": EPOCH, "txn": "HEX16",
    "user": "alice", "users": ["alice"], "changes": ["content 5 B → 12 B"]};
    then, if older changes were packed, {"history_begins": "HEX16",
    "time": EPOCH, "packed": true}.
"""


def print_history(inv: Invocation, path: str) -> None:
    """Print the changes of the object at *path* (``history PATH``)."""
    found = object_history(inv.store, inv.session.user, path, inv.session.cwd, inv.args.max_count)
    if inv.json:
        for entry in found.entries:
            inv.out.json(entry.document())
    else:
        render_table(
            inv.out,
            [
                [
                    local_time(entry.time),
                    entry.tid,
                    printable(entry.user),
                    "; ".join(entry.changes),
                ]
                for entry in found.entries
            ],
            headers=["Time", "Txn", "User", "Change"],
        )
    _ending(inv, found)


def _ending(inv: Invocation, found: History) -> None:
    """Where the kept history begins, when it is not the object's creation."""
    if not found.complete or found.created or not found.entries:
        return
    oldest = found.entries[-1]
    inv.emit(
        {"history_begins": oldest.tid, "time": oldest.time, "packed": True},
        f"history begins at {oldest.tid} ({local_time(oldest.time)}): older changes were packed",
    )


def _objects(count: int) -> str:
    return f"{count} object" if count == 1 else f"{count} objects"


def _report(inv: Invocation, outcome: Outcome, undone: str | None = None) -> None:
    """Print what a restore (or the undo of *undone*) did or, dry, would do."""
    if inv.json:
        inv.out.json(
            {
                "txn": outcome.txn,
                "dry_run": outcome.dry_run,
                "restored": outcome.restored,
                "removed": outcome.removed,
                "steps": [step.document() for step in outcome.steps],
            }
        )
        return
    restored, removed = _objects(outcome.restored), outcome.removed
    since = "" if undone else " added since"
    if not outcome.dry_run:
        done = f"restored {restored}, removed {removed}{since}"
        inv.out.line(f"undid {undone}: {done}" if undone else done)
        return
    for step in outcome.steps:
        changes = f" ({', '.join(step.changes)})" if step.changes else ""
        inv.out.line(f"would {step.action} {printable(step.path)}{changes}")
    inv.out.line(f"would restore {restored}, remove {removed}{since}; nothing changed")


class Restore(Command):
    name = "restore"
    summary = "write back the state an object (or a tree, with -r) had at a past time"
    arguments = (
        arg(
            "--at",
            type=when,
            required=True,
            metavar="WHEN",
            help="the time to go back to: an ISO time (UTC unless given), an age or a txn id",
        ),
        recursive_arg("the whole subtree as it was then; remove what was added since"),
        arg("--dry-run", action="store_true", help="list what would change; change nothing"),
        arg("path", complete=Complete.PATH, help="the object or container, as the tree was then"),
    )
    details = """
    Writes the state PATH had at WHEN back as a new change, in one
    transaction (all or nothing): its content, mimetype, user metadata and
    ACL. The owner is never changed and the times are not restored (the
    restore is a change: mtime moves on). Content is never copied through
    memory: the new revision shares the old blob file (a hard link, a file
    copy where links are impossible). Objects already as they were are left
    alone (no new revision). PATH resolves as the tree was then; an object
    removed since is recreated there (with its old object ID unless a live
    object uses it now); its container must exist now, except with -r,
    which recreates missing containers too.

    With -r on a container, every object below it is restored as it was
    then, and objects added below it since are removed (they stay in its
    history). --dry-run lists each change (would restore PATH (content,
    metadata), would recreate PATH, would remove PATH) and changes nothing.

    Rights: read on the old object then and now (as --at reads), and the
    right each change needs now as if made by hand: write for content,
    write-metadata for metadata and mimetype, write-acl for the ACL, write
    (append, for a container) on the container of a recreated object,
    delete on what is removed. A recreated object is owned by its old
    owner when that is the caller (or the caller is an administrator), else
    by the caller.

    Prints "restored N objects, removed M added since".
    --json: {"txn": "HEX16", "dry_run": false, "restored": N, "removed": M,
    "steps": [{"action": "restore", "path": "/a", "changes": ["content"]}]}.
    """

    def run(self, inv: Invocation) -> None:
        args = inv.args
        outcome = restore(
            inv.store,
            inv.session.user,
            args.path,
            inv.session.cwd,
            args.at,
            recursive=args.recursive,
            dry_run=args.dry_run,
        )
        _report(inv, outcome)


class Undo(Command):
    name = "undo"
    summary = "reverse one transaction (administrators)"
    arguments = (
        arg("--dry-run", action="store_true", help="list what would change; change nothing"),
        arg("txn", metavar="TXN", help="a transaction id as history prints it (16 hex digits)"),
    )
    details = """
    Puts every object TXN changed back as it was just before it, as a new
    change in one transaction: objects it created are removed, objects it
    removed are recreated (with their contents), and the content, mimetype,
    user metadata and ACL it changed are written back (as restore does).
    Owners, times, users, groups and keys are not undone; a move is refused
    (use mv).

    This is not ZODB's transactional undo: every omsh write also rewrites
    catalog and counter records shared with other writes, so that undo
    fails as soon as any later write touched them (a put followed by other
    puts into the same container). Instead, undo refuses, changing nothing,
    only when one of TXN's own objects changed again since, and names it
    ("cannot undo TXN: PATH changed again since (content); use restore
    --at"). A transaction older than the kept history (packed away) is
    refused too. Administrators only. Output and --json as for restore.
    """

    def run(self, inv: Invocation) -> None:
        outcome = undo(inv.store, inv.session.user, inv.args.txn, dry_run=inv.args.dry_run)
        _report(inv, outcome, outcome.txn)


COMMANDS = (Restore, Undo)
