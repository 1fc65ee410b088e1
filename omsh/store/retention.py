"""How much history a store keeps: packing it to an age, and whether it keeps any.

ZODB keeps every revision of every object until the storage is packed;
``pack(t)`` keeps the state as of *t* and every transaction after it, and
removes the rest (on a FileStorage with blobs, the old blob files too).
omsh packs only when asked: ``omsh pack --keep AGE`` with the server
stopped, or the administrators' ``pack --keep AGE`` in the shell, while
the server keeps serving (a FileStorage packs concurrently with commits).
Both run :func:`plan_pack` and :func:`pack_store`.

A named snapshot (:mod:`omsh.store.snapshots`) holds the horizon back: the
pack time is never later than its transaction
(:func:`~omsh.store.snapshots.pack_horizon`), so its tree stays readable.

Not every storage keeps history: a RelStorage configured history-free
(``keep-history false``) keeps only the current state.
:func:`~omsh.store.storages.keeps_history` tells, and
:meth:`Store.read_before <omsh.store.database.Store.read_before>` (every
read of the past: ``--at``, ``history``) refuses with one line,
:class:`~omsh.store.storages.NoHistoryKept`, rather than reading something
that is not the past.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import ZODB
from ZODB.blob import BlobStorage
from ZODB.FileStorage import FileStorage
from ZODB.FileStorage.FileStorage import FileStorageError
from ZODB.POSException import POSKeyError
from ZODB.utils import p64, u64

from omsh.errors import AlreadyExists, UsageError
from omsh.store.asof import parse_moment
from omsh.store.metadata import format_timestamp
from omsh.store.model import StoreRoot
from omsh.store.snapshots import SNAPSHOTS_NAME, NamedSnapshot, list_snapshots, pack_horizon
from omsh.store.storages import NoHistoryKept, last_transaction, require_history
from omsh.store.views import VIEWS_NAME

if TYPE_CHECKING:
    from ZODB.Connection import Connection

    from omsh.store.database import Store

#: How far before a snapshot's transaction a pack held back by it goes: a
#: pack time is a float (a few tenths of a microsecond apart, where
#: transaction ids are 14 ns apart), and rounding it to a transaction id
#: must never land after the snapshot's own transaction.
SNAPSHOT_MARGIN = 1e-5
#: The key of the store root under a ZODB connection's root (as in database.py).
_ROOT_KEY = "omsh"
#: The names at the root that show something else than a stored object.
RESERVED = {SNAPSHOTS_NAME: "snapshots", VIEWS_NAME: "live views"}
#: One pack at a time in this process (FileStorage refuses a second one).
_PACKING = threading.Lock()
KEEP_FORMS = "an age (30d, 12h, 0 for only the current state) or an ISO time"


class PackRunning(AlreadyExists):
    """Another pack of the same storage has not finished (exit status 5)."""

    def __init__(self) -> None:
        super().__init__(None, "a pack is already running; try again when it is done")


# -- packing ---------------------------------------------------------------


def keep_moment(text: str, now: float) -> float:
    """The oldest moment ``--keep TEXT`` keeps: *now* minus an age, or an ISO time.

    ``0`` (or ``0s``) keeps only the current state.  A moment in the
    future is refused: packing to it would keep less than the present.
    """
    moment = now if text.strip() == "0" else parse_moment(text, "--keep", now, KEEP_FORMS)
    if moment > now:
        raise UsageError(f"--keep {text}: that is in the future")
    return moment


@dataclass(frozen=True)
class PackPlan:
    """What a pack will do: the moment asked for, the one used, and why they differ."""

    #: ``now - AGE``: the oldest moment ``--keep`` asked to keep.
    wanted: float
    #: The pack time: *wanted*, or earlier when a snapshot holds it back.
    time: float
    #: The oldest snapshot, when it held the pack time back.
    held_by: NamedSnapshot | None = None

    def lines(self, *, done: bool = True) -> list[str]:
        """What a pack prints before its figures; ``--dry-run`` (not *done*) only this."""
        removed = "are removed" if done else "would be removed (dry run)"
        lines = [f"pack time {format_timestamp(self.time)}: older revisions {removed}"]
        if self.held_by is not None:
            lines.append(
                f"kept history back to {format_timestamp(self.held_by.time)}"
                f" for snapshot {self.held_by.name}"
            )
        return lines

    def document(self) -> dict[str, Any]:
        return {
            "pack_time": self.time,
            "wanted": self.wanted,
            "held_by": None if self.held_by is None else self.held_by.name,
        }


def _snapshots(root: StoreRoot) -> list[NamedSnapshot]:
    """The snapshots, oldest first; none in a store older than them (schema 6)."""
    return list_snapshots(root) if getattr(root, "snapshots", None) is not None else []


def plan_pack(store: Store, keep: str, now: float | None = None) -> PackPlan:
    """The pack time for ``--keep KEEP``: now minus it, held back by any snapshot.

    Raises :class:`UsageError` for a *keep* that is not an age or time, and
    :class:`NoHistoryKept` on a storage with no history to pack.
    """
    require_history(store.db)
    now = time.time() if now is None else now
    wanted = keep_moment(keep, now)

    def horizon(root: StoreRoot) -> tuple[float, NamedSnapshot | None]:
        snapshots = _snapshots(root)
        if not snapshots:
            return wanted, None
        return pack_horizon(root, wanted), snapshots[0]

    allowed, oldest = store.read(horizon)
    if allowed >= wanted:
        return PackPlan(wanted, wanted)
    return PackPlan(wanted, allowed - SNAPSHOT_MARGIN, oldest)


@dataclass(frozen=True)
class Footprint:
    """What a storage takes: its size, and its blob files when they are local."""

    #: ``getSize()``: the Data.fs size of a FileStorage (as its server says, over ZEO).
    size: int
    #: Blob files and their bytes, or None where this process does not see them (ZEO).
    blob_files: int | None = None
    blob_bytes: int | None = None


def _blob_directory(db: ZODB.DB) -> str | None:
    """Where the storage keeps its committed blob files, if this process sees them.

    A FileStorage's blob directory, or a MappingStorage's (``memory://``,
    wrapped in a BlobStorage).  Not a ZEO client's (only a cache of the
    server's) nor a RelStorage's (blobs live in its database).
    """
    storage = db.storage
    if isinstance(storage, FileStorage):
        return cast("str | None", storage.blob_dir)
    if isinstance(storage, BlobStorage):
        return cast(str, storage.fshelper.base_dir)
    return None


def footprint(db: ZODB.DB) -> Footprint:
    """The storage's size now, and its committed blob files (count and bytes)."""
    size = int(db.storage.getSize())
    directory = _blob_directory(db)
    if directory is None:
        return Footprint(size)
    files = total = 0
    for folder, dirs, names in os.walk(directory):
        dirs[:] = [name for name in dirs if name != "tmp"]  # uploads being staged
        for name in names:
            if name.endswith(".blob"):
                try:
                    total += os.stat(os.path.join(folder, name)).st_size
                except FileNotFoundError:  # removed by a pack meanwhile
                    continue
                files += 1
    return Footprint(size, files, total)


@dataclass(frozen=True)
class PackResult:
    """A pack done: its plan, the storage before and after, and how long it took."""

    plan: PackPlan
    before: Footprint
    after: Footprint
    seconds: float

    def lines(self) -> list[str]:
        """The plan's lines, then the sizes: what both ``pack`` commands print."""
        lines = self.plan.lines()
        lines.append(f"storage size: {self.before.size:,} B → {self.after.size:,} B")
        removed = self.blobs_removed
        if removed is None:
            lines.append("blob files: kept by the storage server, not counted here")
        else:
            count, size = removed
            lines.append(f"blob files removed: {count} ({size:,} B)")
        lines.append(f"packed in {self.seconds:.1f} s")
        return lines

    @property
    def blobs_removed(self) -> tuple[int, int] | None:
        """Blob files removed and their bytes (net of any committed meanwhile), if known."""
        before, after = self.before, self.after
        if before.blob_files is None or after.blob_files is None:
            return None
        assert before.blob_bytes is not None and after.blob_bytes is not None
        return before.blob_files - after.blob_files, before.blob_bytes - after.blob_bytes

    def document(self) -> dict[str, Any]:
        removed = self.blobs_removed
        return {
            **self.plan.document(),
            "size_before": self.before.size,
            "size_after": self.after.size,
            "blob_files_removed": None if removed is None else removed[0],
            "blob_bytes_removed": None if removed is None else removed[1],
            "seconds": round(self.seconds, 3),
        }


def pack_store(store: Store, plan: PackPlan) -> PackResult:
    """Pack *store* to *plan*'s time; commits may go on meanwhile (FileStorage, ZEO).

    A FileStorage normally keeps the file before the pack (``Data.fs.old``)
    and a copy of every blob (``blobs.old``) until the next one; a pack
    asked for to free space removes them at once.  Over ZEO the server
    packs and this waits for it.
    """
    if not _PACKING.acquire(blocking=False):
        raise PackRunning()
    try:
        return _pack(store.db, plan)
    except FileStorageError as exc:  # over ZEO: another client's pack
        if "Already packing" in str(exc):
            raise PackRunning() from None
        raise
    finally:
        _PACKING.release()


def _pack(db: ZODB.DB, plan: PackPlan) -> PackResult:
    before = footprint(db)
    started = time.monotonic()
    storage = db.storage
    keep_old = getattr(storage, "pack_keep_old", None)
    if keep_old:
        storage.pack_keep_old = False
    try:
        db.pack(t=plan.time)
    finally:
        if keep_old:
            storage.pack_keep_old = keep_old
    # Idle historical connections cache states the pack removed: drop them,
    # so a read of the past sees what is kept now.
    with db._lock:
        db.historical_pool.clear()
    seconds = time.monotonic() - started
    return PackResult(plan, before, footprint(db), seconds)


# -- checking snapshots ----------------------------------------------------


@dataclass(frozen=True)
class SnapshotFindings:
    """What ``check`` found about snapshots: problems, and warnings (advice)."""

    problems: list[str]
    warnings: list[str]


def _readable(connection: Connection) -> None:
    """Load the root of the tree and its children's records (or raise POSKeyError).

    From the storage, not the connection's cache: a pooled historical
    connection may hold states packed away since.
    """
    connection.cacheMinimize()
    root = connection.root().get(_ROOT_KEY)
    if root is None:
        raise POSKeyError(p64(0))
    tree = root.tree
    tree._p_activate()
    tree._children._p_activate()


def check_snapshots(store: Store) -> SnapshotFindings:
    """Each snapshot's transaction exists and its tree is still readable.

    A snapshot later than the storage's last transaction, or whose tree
    was packed away (a pack that ignored it: another tool, or an older
    omsh), is a problem; so is any snapshot on a storage that keeps no
    history.  A stored object named ``.snapshots`` or ``.views`` at the
    root (made before the name was reserved) is a warning: ``/.snapshots``
    now shows the snapshots (``/.views`` the live views) and hides it.
    """
    snapshots, shadowed = store.read(
        lambda root: (_snapshots(root), [name for name in RESERVED if name in root.tree])
    )
    warnings = [
        f"/{name}: a stored object has this name, now reserved: "
        f"the {RESERVED[name]} are shown there and hide it"
        for name in shadowed
    ]
    problems = []
    last = last_transaction(store.db)
    for snapshot in snapshots:
        label = f"snapshot {snapshot.name} ({snapshot.txn})"
        if snapshot.tid > last:
            problems.append(f"{label}: later than the storage's last transaction {last.hex()}")
            continue
        try:
            store.read_before(p64(u64(snapshot.tid) + 1), _readable)
        except POSKeyError:
            problems.append(f"{label}: its tree was packed away and cannot be read")
        except NoHistoryKept as exc:
            problems.append(f"{label}: {exc}")
    return SnapshotFindings(problems, warnings)
