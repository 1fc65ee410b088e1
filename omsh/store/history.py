"""Every kept revision of one object, and what each changed: ``history PATH``.

ZODB keeps each revision of each persistent record until the storage is
packed.  An object's history is the transactions that wrote its own record
and, for a container, the records of its children (the ``OOBTree`` and the
``Length`` counting them: the counter changes with every name added or
removed, even when only a bucket of a large tree was rewritten).  Each
revision's state is read through a historical connection
(``db.open(at=tid)``), turned into a plain :class:`Revision`, and compared
with the revision before it.

Limits, by design of this first slice: a change of a parent's ACL (what an
object inherits) is the parent's history, not the child's; only the
current object's read-metadata right is checked (what the object was at an
older time is shown to whoever may see it now); an object's oldest kept
revision counts as its creation when its ``mtime`` still equals its
``ctime`` and that falls within a few minutes before the transaction's time
(ZODB does not say whether older revisions were packed away; an ACL or
owner change, which leaves mtime alone, made within those minutes of the
creation and then packed, would read as the creation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from ZODB.TimeStamp import TimeStamp
from ZODB.utils import p64, u64

from omsh.errors import OmshError
from omsh.store.database import Store
from omsh.store.metadata import MetadataValue
from omsh.store.model import Container, DataObject, StoreObject
from omsh.store.view import USERS_KEY, StoreView

#: Largest gap between an object's ctime and its first transaction's time
#: for that revision to count as its creation.
CREATION_WINDOW = 300.0
#: Child names listed in one entry before "+N more".
NAMES_SHOWN = 5
_ALL = 1 << 30


class NoHistory(OmshError):
    """The storage keeps no revisions to read."""

    def __init__(self) -> None:
        super().__init__("this storage keeps no history")


@dataclass(frozen=True)
class Revision:
    """What one revision of an object held, as plain data."""

    path: str
    kind: str
    owner: str
    ctime: float
    mtime: float
    metadata: dict[str, MetadataValue]
    acl: tuple[Any, ...]
    size: int = 0
    sha256: str = ""
    mimetype: str = ""
    children: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, obj: StoreObject, *, names: bool = True) -> Revision:
        """*obj*'s state; without its children's *names* (a big container's cost) if asked."""
        data = obj if isinstance(obj, DataObject) else None
        size, sha256, mimetype = (data.size, data.sha256, data.mimetype) if data else (0, "", "")
        children = frozenset(obj.names()) if isinstance(obj, Container) and names else frozenset()
        state = (obj.path, obj.kind, obj.owner, obj.ctime, obj.mtime, obj.metadata)
        return cls(*state, tuple(obj.acl), size, sha256, mimetype, children)


@dataclass(frozen=True)
class Entry:
    """One change: when, in which transaction, by whom, and what it changed."""

    tid: str
    time: float
    users: tuple[str, ...]
    changes: tuple[str, ...]

    @property
    def user(self) -> str:
        return ",".join(self.users) or "unknown"

    def document(self) -> dict[str, object]:
        return {
            "time": self.time,
            "txn": self.tid,
            "user": self.user,
            "users": list(self.users),
            "changes": list(self.changes),
        }


@dataclass(frozen=True)
class History:
    """An object's changes, newest first, and where its kept history begins."""

    path: str
    entries: tuple[Entry, ...]
    #: Every kept revision is in :attr:`entries` (no ``-n`` cut them short).
    complete: bool
    #: The oldest kept revision is the object's creation.
    created: bool


def _sizes(old: int, new: int) -> str:
    return f"{old} B → {new} B"


def _names(sign: str, names: Iterable[str]) -> list[str]:
    ordered = sorted(names)
    shown = [f"{sign}{name}" for name in ordered[:NAMES_SHOWN]]
    if len(ordered) > NAMES_SHOWN:
        shown.append(f"{sign}{len(ordered) - NAMES_SHOWN} more")
    return shown


def describe(old: Revision, new: Revision) -> tuple[str, ...]:
    """What changed from *old* to *new*, in words; ``("touched",)`` for times only."""
    changes: list[str] = []
    if old.path != new.path:
        changes.append(f"moved from {old.path}")
    if (old.size, old.sha256) != (new.size, new.sha256):
        changes.append(f"content {_sizes(old.size, new.size)}")
    if old.mimetype != new.mimetype:
        changes.append(f"mimetype {old.mimetype} → {new.mimetype}")
    if old.metadata != new.metadata:
        added = [f"+{key}" for key in sorted(new.metadata.keys() - old.metadata.keys())]
        removed = [f"-{key}" for key in sorted(old.metadata.keys() - new.metadata.keys())]
        changed = [
            f"~{key}"
            for key in sorted(old.metadata.keys() & new.metadata.keys())
            if old.metadata[key] != new.metadata[key]
        ]
        changes.append(" ".join(["metadata", *added, *changed, *removed]))
    if old.acl != new.acl:
        changes.append("acl")
    if old.owner != new.owner:
        changes.append(f"owner {old.owner} → {new.owner}")
    if old.children != new.children:
        words = _names("+", new.children - old.children) + _names("-", old.children - new.children)
        changes.append(" ".join(["children", *words]))
    return tuple(changes) or ("touched",)


def tid_text(tid: bytes) -> str:
    """A transaction id as 16 hex digits, the form ``--at`` takes."""
    return tid.hex()


def transaction_users(info: dict[str, Any]) -> tuple[str, ...]:
    listed = info.get(USERS_KEY) or info.get("extension", {}).get(USERS_KEY)
    if listed:
        return tuple(str(name) for name in listed)
    user = info.get("user_name") or ""
    if isinstance(user, bytes):
        user = user.decode("utf-8", "replace")
    return tuple(name for name in user.strip().split(",") if name)


def _records(store: Store, user: str, path: str, cwd: str) -> tuple[str, list[bytes]]:
    """The object's absolute path and the oids whose revisions are its history."""

    def find(root: Any) -> tuple[str, list[bytes]]:
        view = StoreView.for_user(root, user)
        obj = view.stat(view.resolve(path, cwd), path)
        records: list[Any] = [obj]
        if isinstance(obj, Container):
            records += [obj._children, obj._count]
        return obj.path, [cast(bytes, record._p_oid) for record in records]

    return store.read(find)


def _revisions(
    store: Store, oids: list[bytes], size: int
) -> tuple[list[dict[str, Any]], set[bytes]]:
    """Transaction records newest first, each once, at most *size* of them.

    Also the transactions that wrote the object's own record (the first oid).
    """
    history = getattr(store.db.storage, "history", None)
    if history is None:
        raise NoHistory()
    seen: dict[bytes, dict[str, Any]] = {}
    own: set[bytes] = set()
    for oid in oids:
        # By keyword: RelStorage's is history(oid, version=None, size=1).
        for info in history(oid, size=size):
            seen.setdefault(info["tid"], info)
            if oid == oids[0]:
                own.add(info["tid"])
    return [seen[tid] for tid in sorted(seen, reverse=True)[:size]], own


def _snapshot_at(store: Store, oid: bytes, tid: bytes) -> Revision:
    """The object's state as of transaction *tid*, through a historical connection."""
    return store.read_before(
        p64(u64(tid) + 1), lambda connection: Revision.of(cast(StoreObject, connection.get(oid)))
    )


def object_history(
    store: Store, user: str, path: str, cwd: str = "/", limit: int | None = None
) -> History:
    """The changes of the object at *path*, newest first, as *user* may see them.

    Needs read-metadata on the object now (:meth:`StoreView.stat`).  At most
    *limit* entries; a revision that changed none of what is compared (a
    child tree rewritten without a name added or removed) is left out.
    """
    absolute, oids = _records(store, user, path, cwd)
    wanted = _ALL if limit is None else limit + 1
    revisions, own = _revisions(store, oids, wanted)
    snapshots = [_snapshot_at(store, oids[0], info["tid"]) for info in revisions]
    entries: list[Entry] = []
    for index, info in enumerate(revisions):
        older = index + 1
        if older < len(snapshots):
            changes = describe(snapshots[older], snapshots[index])
            if changes == ("touched",) and info["tid"] not in own:
                continue  # only the child tree's buckets were rewritten
        elif limit is not None and len(revisions) == wanted:
            break  # the revision before the last asked for, read only to compare
        else:
            changes = ("created",) if _is_creation(snapshots[index], info) else ("oldest kept",)
        entries.append(Entry(tid_text(info["tid"]), info["time"], transaction_users(info), changes))
    entries = entries[: _ALL if limit is None else limit]
    complete = len(revisions) < wanted
    created = complete and bool(entries) and entries[-1].changes == ("created",)
    return History(absolute, tuple(entries), complete, created)


def _is_creation(snapshot: Revision, info: dict[str, Any]) -> bool:
    """Whether the oldest kept revision looks like the creation.

    A new object has ``mtime == ctime`` (every later content or metadata
    change touches mtime), written by a transaction just after its ctime.
    """
    time = float(TimeStamp(info["tid"]).timeTime())
    fresh = snapshot.mtime == snapshot.ctime
    return fresh and -1 <= time - snapshot.ctime <= CREATION_WINDOW
