"""Named snapshots: a transaction kept by name, browsable as ``/.snapshots/NAME``.

A snapshot is a record in ``root.snapshots`` (an ``OOBTree`` keyed by name)
naming the last transaction committed when it was taken.  Nothing is
copied: ZODB keeps every revision until a pack, and a historical connection
opened just after that transaction reads the whole tree as it was, content
included.  Packing keeps what a snapshot names (:func:`pack_horizon`).

The tree of a snapshot appears under a virtual container, ``/.snapshots``,
at the root of every front end: :class:`SnapshotDirectory` lists the
snapshots, and ``/.snapshots/NAME`` is the root container of the tree as of
that transaction, read through a historical connection that
:class:`PastOpener` opens on demand and closes with the transaction that
asked for it.  Objects read there know where they are mounted (their
connection carries it, :data:`~omsh.store.model.MOUNT_ATTRIBUTE`), so their
``path`` is the path a client used.  Whoever may read an object there needs
the right on it then *and* now (:mod:`omsh.store.asof`), and nothing there
can be changed: the view refuses every write right on a past object before
anything is touched (ARCHITECTURE §4).

``/.snapshots`` is hidden from the root's listing (as ZFS's ``.zfs`` is)
but reachable by path; the name is reserved at the root.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import transaction
from BTrees.OOBTree import OOBTree
from ZODB.Connection import Connection
from ZODB.POSException import POSKeyError
from ZODB.TimeStamp import TimeStamp
from ZODB.utils import p64, u64

from omsh.errors import AlreadyExists, NotFound
from omsh.store.model import (
    MOUNT_ATTRIBUTE,
    ROOT_KEY,
    Container,
    StoreObject,
    StoreRoot,
    VirtualContainer,
)
from omsh.store.names import validate_name
from omsh.store.storages import last_transaction, require_history

if TYPE_CHECKING:
    from omsh.store.view import StoreView

#: The virtual container's name at the root, and its path.
SNAPSHOTS_NAME = ".snapshots"
SNAPSHOTS_PATH = "/" + SNAPSHOTS_NAME


@dataclass(frozen=True)
class NamedSnapshot:
    """One snapshot: its name, the transaction it keeps, when and by whom taken."""

    name: str
    tid: bytes
    created: float
    creator: str

    @property
    def txn(self) -> str:
        """The transaction id as ``history`` prints it: 16 hex digits."""
        return self.tid.hex()

    @property
    def time(self) -> float:
        """When the kept transaction committed (seconds since the epoch)."""
        return cast(float, TimeStamp(self.tid).timeTime())

    @property
    def path(self) -> str:
        return f"{SNAPSHOTS_PATH}/{self.name}"

    def document(self) -> dict[str, Any]:
        """The JSON shape of ``snapshot list --json`` and ``snapshot create --json``."""
        return {
            "name": self.name,
            "txn": self.txn,
            "time": self.time,
            "created": self.created,
            "creator": self.creator,
            "path": self.path,
        }


def _records(root: StoreRoot) -> OOBTree:
    return cast(OOBTree, root.snapshots)


def create_snapshot(root: StoreRoot, name: str, tid: bytes, creator: str) -> NamedSnapshot:
    """Record *name* for transaction *tid* (in the caller's transaction)."""
    validate_name(name)
    records = _records(root)
    if name in records:
        raise AlreadyExists(name, "a snapshot of that name exists")
    snapshot = NamedSnapshot(name, tid, time.time(), creator)
    records[name] = snapshot
    return snapshot


def remove_snapshot(root: StoreRoot, name: str) -> NamedSnapshot:
    """Forget *name*; what it kept may then be packed away."""
    records = _records(root)
    if name not in records:
        raise NotFound(name, "no such snapshot")
    return cast(NamedSnapshot, records.pop(name))


def find_snapshot(root: StoreRoot, name: str) -> NamedSnapshot | None:
    return cast("NamedSnapshot | None", _records(root).get(name))


def list_snapshots(root: StoreRoot) -> list[NamedSnapshot]:
    """Every snapshot, oldest transaction first (then by name)."""
    return sorted(_records(root).values(), key=lambda s: (s.tid, s.name))


def pack_horizon(root: StoreRoot, wanted: float) -> float:
    """The latest time a pack may use that keeps every snapshot's state.

    ZODB's ``pack(t)`` keeps the state as of *t* and everything after, so a
    pack no later than the oldest snapshot's transaction keeps them all.
    """
    snapshots = list_snapshots(root)
    if not snapshots:
        return wanted
    return min(wanted, snapshots[0].time)


# -- as a principal asks: taking and dropping is for administrators ----------


def take_snapshot(view: StoreView, name: str) -> NamedSnapshot:
    """Name the transaction *view* reads (the latest when it began); admins only.

    Recorded in the caller's (write) transaction, with an audit entry.
    """
    view.require_admin(name)
    snapshot = create_snapshot(view.root, name, view.snapshot_tid(), view.principal.name)
    view.audit("snapshot create", snapshot.path, f"txn={snapshot.txn}")
    return snapshot


def drop_snapshot(view: StoreView, name: str) -> NamedSnapshot:
    """Forget snapshot *name* (what only it kept may then be packed); admins only."""
    view.require_admin(name)
    snapshot = remove_snapshot(view.root, name)
    view.audit("snapshot rm", snapshot.path, f"txn={snapshot.txn}")
    return snapshot


def visible_snapshots(view: StoreView) -> list[NamedSnapshot]:
    """Every snapshot: their names and times are open to every user.

    What each one holds is not: reading inside it takes the rights on each
    object then and now.
    """
    return list_snapshots(view.root)


# -- browsing: /.snapshots -------------------------------------------------


class PastNeedsTransaction(Exception):
    """A snapshot was opened from a connection with no transaction to close it with.

    The event-loop reader (:mod:`omsh.store.loopreads`) reads without one;
    it turns this into "not cheap" and the read runs again in a worker.
    """


class PastOpener:
    """Opens the tree of each snapshot at most once for one transaction.

    The historical connections are closed when the transaction of the
    current connection ends (commit or abort), so objects read through
    them are valid exactly as long as the current ones.
    """

    def __init__(self, current: Connection) -> None:
        self._current = current
        self._trees: dict[str, Container] = {}
        self._open: list[tuple[Connection, transaction.TransactionManager]] = []

    def tree(self, snapshot: NamedSnapshot) -> Container:
        """The root container as of *snapshot*, mounted at its path."""
        tree = self._trees.get(snapshot.name)
        if tree is None:
            tree = self._trees[snapshot.name] = self._open_tree(snapshot)
        return tree

    def _open_tree(self, snapshot: NamedSnapshot) -> Container:
        try:
            outer = self._current.transaction_manager.get()
        except transaction.interfaces.NoTransaction:
            raise PastNeedsTransaction() from None
        if not self._open:
            outer.addAfterCommitHook(lambda _ok: self.close())
            outer.addAfterAbortHook(self.close)
        require_history(self._current.db())
        last_transaction(self._current.db())  # ZODB refuses a ``before`` past what it saw
        manager = transaction.TransactionManager(explicit=True)
        then = self._current.db().open(
            transaction_manager=manager, before=p64(u64(snapshot.tid) + 1)
        )
        manager.begin()
        self._open.append((then, manager))
        setattr(then, MOUNT_ATTRIBUTE, snapshot.path)
        try:
            root = then.root().get(ROOT_KEY)
            if root is None:
                raise POSKeyError(snapshot.tid)
            return cast(Container, root.tree)
        except POSKeyError:
            raise NotFound(snapshot.path, "packed away; run 'omsh check'") from None

    def close(self) -> None:
        for then, manager in self._open:
            manager.abort()
            setattr(then, MOUNT_ATTRIBUTE, None)
            then.close()
        self._open.clear()
        self._trees.clear()


class SnapshotDirectory(VirtualContainer):
    """``/.snapshots``: the snapshots' trees, in name order, made up on each read."""

    refusal = "snapshots are read-only"

    def __init__(self, root: StoreRoot, opener: PastOpener) -> None:
        super().__init__(root.tree, SNAPSHOTS_NAME, SNAPSHOTS_PATH)
        self._root = root
        self._opener = opener

    def __len__(self) -> int:
        return len(_records(self._root))

    def __contains__(self, name: str) -> bool:
        return name in _records(self._root)

    def get(self, name: str) -> StoreObject | None:
        snapshot = find_snapshot(self._root, name)
        return None if snapshot is None else self._opener.tree(snapshot)

    def names(self, start: str | None = None) -> Iterator[str]:
        return iter(_records(self._root).keys(min=start))

    def items(self, after: str | None = None) -> Iterator[tuple[str, StoreObject]]:
        records = _records(self._root)
        found = records.values() if after is None else records.values(after, excludemin=True)
        for snapshot in list(found):
            yield snapshot.name, self._opener.tree(snapshot)


def is_past(obj: StoreObject) -> bool:
    """Whether *obj* was read through a historical connection."""
    return getattr(obj._p_jar, "before", None) is not None
