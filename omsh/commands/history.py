"""``history PATH``: every kept change of one object, newest first.

The store reads the revisions and says what each changed
(:mod:`omsh.store.history`); this command only prints them: a table, or
one JSON line per change with ``--json``, and a last line saying where the
kept history begins.
"""

from __future__ import annotations

from datetime import datetime

from omsh.commands.arguments import Arg, arg, at_least
from omsh.commands.base import Invocation
from omsh.commands.formatting import printable, render_table
from omsh.store.history import History, object_history


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
