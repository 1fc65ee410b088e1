"""``snapshot``: name a moment of the whole tree, list and drop the names.

The store keeps the records and decides who may change them
(:mod:`omsh.store.snapshots`: administrators take and drop, everyone may
list); the tree as of each one is browsed at ``/.snapshots/NAME`` with the
ordinary read commands, over SFTP/SCP and over CDMI.
"""

from __future__ import annotations

from omsh.commands.arguments import arg
from omsh.commands.base import Command, Invocation
from omsh.commands.formatting import printable
from omsh.commands.history import local_time
from omsh.errors import UsageError
from omsh.store.snapshots import drop_snapshot, take_snapshot, visible_snapshots
from omsh.store.storages import require_history


class Snapshot(Command):
    name = "snapshot"
    summary = "named moments of the tree: snapshot create NAME | list | rm NAME"
    details = """
        forms:
          snapshot create NAME   name the latest transaction (administrators)
          snapshot list          every snapshot, oldest first (anyone)
          snapshot rm NAME       forget it (administrators); what only it
                                 kept may then be packed away

        The tree as of a snapshot is read-only at /.snapshots/NAME (hidden
        from ls /, reachable by path): ls, cat, stat, meta, find, query --in,
        cp out of it; sftp, scp, rclone and sshfs; CDMI GET. Reading an
        object there needs the right on it then and now. Packing never
        removes what a snapshot names. snapshot list works with --json:
        {"name", "txn", "time", "created", "creator", "path"} per line.
        """
    arguments = (
        arg("action", choices=("create", "list", "rm"), help="what to do"),
        arg("snapshot", nargs="?", metavar="NAME", help="the snapshot's name"),
    )

    def run(self, inv: Invocation) -> None:
        action, name = inv.args.action, inv.args.snapshot
        if action == "list":
            if name is not None:
                raise UsageError("snapshot list takes no NAME")
            self.list_all(inv)
            return
        if name is None:
            raise UsageError(f"snapshot {action} needs a NAME")
        if action == "create":  # a snapshot of a storage that keeps no past reads nothing
            require_history(inv.store.db)
        change = take_snapshot if action == "create" else drop_snapshot
        snapshot = inv.view(lambda view: change(view, name), write=True)
        verb = "created" if action == "create" else "removed"
        inv.emit(
            snapshot.document() | {"removed": action == "rm"},
            f"snapshot {printable(name)} {verb}: txn {snapshot.txn}"
            f" ({local_time(snapshot.time)}), {snapshot.path}",
        )

    def list_all(self, inv: Invocation) -> None:
        inv.listing(
            [snapshot.document() for snapshot in inv.view(visible_snapshots)],
            ("Name", "Txn", "Time", "Creator"),
            lambda d: [
                printable(d["name"]),
                d["txn"],
                local_time(d["time"]),
                printable(d["creator"]),
            ],
        )


COMMANDS = (Snapshot,)
