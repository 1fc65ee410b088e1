"""``watch``: a change feed, followed live or read up to now.

The store reads the transaction log and turns it into events the caller
may see (:mod:`omsh.store.changes`); this command prints them as they come,
a line (or a JSON line) each, flushed at once, and waits between
transactions by polling the storage's last transaction id (cheap when
idle).  It runs until Ctrl-C (exit 130) or until the client goes away;
``--until-now`` stops at the last transaction committed when it started.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from omsh.commands.arguments import CommandParser, Complete, arg
from omsh.commands.base import Command, Invocation
from omsh.commands.formatting import printable
from omsh.commands.history import local_time
from omsh.errors import OmshError
from omsh.store.changes import Change, Feed, watch_scope
from omsh.store.query import parse_query
from omsh.store.view import StoreView

PATH_HELP = "only changes at or below PATH (default: the whole tree)"
QUERY_HELP = "only objects whose metadata matched EXPR then (see help query)"
UNTIL_HELP = "stop at the last transaction committed when watch started"
#: Live follows at once: each holds a worker thread (of the server's 32) while it waits.
MAX_FOLLOWING = 8
FOLLOWING = threading.BoundedSemaphore(MAX_FOLLOWING)
#: How long a follow waits without news before checking the client is still there.
PROBE_EVERY = 1.0


def change_line(change: Change) -> str:
    """One event as a line of text: time, transaction, user(s), kind, path, detail."""
    where = change.path if change.source is None else f"{change.source} → {change.path}"
    detail = "; ".join(
        word for word in change.detail if word != change.event and not word.startswith("moved ")
    )
    parts = [local_time(change.time), change.tid, change.user, change.event, where]
    return printable("  ".join(parts) + (f"  ({detail})" if detail else ""))


class Watch(Command):
    name = "watch"
    summary = "follow changes to objects as they are committed (a change feed)"
    arguments = (
        arg("path", nargs="?", metavar="PATH", complete=Complete.PATH, help=PATH_HELP),
        arg("--query", metavar="EXPR", complete=Complete.QUERY, help=QUERY_HELP),
        arg("--since", metavar="TXN", help="start after this transaction id, not at now"),
        arg("--until-now", action="store_true", help=UNTIL_HELP),
    )
    details: ClassVar[str] = """
    One event per changed object per transaction, oldest first: the time
    (local), the transaction id (16 hex digits, as history prints), the
    user(s) whose writes it committed, the kind of change and the path.
    Kinds: created, removed, moved (FROM → TO), content, metadata (user
    metadata or mimetype), acl, owner; a change of times only is no event.
    A removed container is one event, at its top; a moved one too (what
    was below it moved with it). An event is shown if you may see the
    object and list its container, now and then (as with --at).

    Without --since, watch starts at now and shows only new changes; with
    --since TXN it first replays every kept transaction after TXN (give
    the last txn you saw to resume). An id older than the kept history
    (packed away) is refused (exit 3). Without --until-now it follows
    until Ctrl-C (exit 130) or until the connection closes; at most 8 such
    live watches run at once on a server (each holds a worker thread).

    --json: one line per event, flushed at once: {"txn": "HEX16", "time":
    EPOCH, "user": "alice", "users": ["alice"], "event": "moved", "path":
    "/new", "from": "/old" (moved only), "type": "object"|"container",
    "changes": ["moved", "metadata"], "detail": ["moved from /old",
    "metadata +k"]}. With --until-now a last line {"until": "HEX16"} gives
    the transaction to resume --since from.
    """

    @classmethod
    def parser(cls) -> CommandParser:
        parser = super().parser()
        parser.set_defaults(no_pager=True)  # a live feed is never held for a pager
        return parser

    def run(self, inv: Invocation) -> None:
        args = inv.args
        query = parse_query(args.query) if args.query is not None else None
        user, cwd = inv.session.user, inv.session.cwd
        scope = inv.view(lambda view: watch_scope(view, args.path, cwd))
        feed = Feed(
            inv.store,
            lambda root: StoreView.for_user(root, user),
            scope=scope,
            query=query,
            since=args.since,
        )
        if args.until_now:
            _replay(inv, feed, feed.last)
            return
        if not FOLLOWING.acquire(blocking=False):
            raise OmshError(f"{MAX_FOLLOWING} watches are following already; try again later")
        try:
            _follow(inv, feed)
        finally:
            FOLLOWING.release()


def _emit(inv: Invocation, feed: Feed, until: bytes | None) -> None:
    """Print the next events, flushed at once."""
    for change in feed.poll(until):
        inv.emit(change.document(), change_line(change))
    inv.out.flush()


def _replay(inv: Invocation, feed: Feed, until: bytes) -> None:
    """Every event up to *until*, then (``--json``) where to resume from."""
    while not feed.reached(until):
        inv.check_cancelled()
        _emit(inv, feed, until)
    if inv.json:
        inv.out.json({"until": feed.position})


def _follow(inv: Invocation, feed: Feed) -> None:
    """Events as they are committed, until Ctrl-C or the client is gone (both raise)."""
    while True:
        inv.check_cancelled()
        _emit(inv, feed, None)
        if not feed.wait(PROBE_EVERY, inv.check_cancelled):
            inv.out.probe()  # the client may have gone while nothing happened


COMMANDS = (Watch,)
