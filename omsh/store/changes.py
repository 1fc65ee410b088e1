"""A change feed from ZODB's transaction log: ``watch`` and CDMI's ``/cdmi_changes``.

Every committed transaction is in the storage's log until a pack, and
``storage.iterator(start, stop)`` reads it back on the storages omsh opens
(FileStorage, ``memory://``'s MappingStorage, ZEO's ClientStorage); a
storage without it cannot be followed (:class:`NotFollowable`).  For each
transaction, the records of tree objects (a :class:`Container` or
:class:`DataObject` pickle, told by its class name without unpickling) are
read as they were just before and just after it, through historical
connections (:meth:`Store.read_before`), as :class:`Revision` values, and
compared:

* no revision before: ``created``; a different path: ``moved`` (with the
  old path); then ``content`` (size or hash), ``metadata`` (user metadata or
  mimetype), ``acl``, ``owner``.  A change of times only (``touch``, atime)
  is no event.
* removals leave no record of their own: the parent container is touched
  whenever a name is added or removed (:class:`StoreView`), so a changed
  container whose child count fell by more than the children that arrived
  in it lost some.  They are found in the B-tree buckets the transaction
  rewrote (entries naming a child of that container), so the cost does not
  grow with the container; one whose object did not move elsewhere in the
  same transaction is ``removed`` (one event for a removed subtree, at its
  top).  A container's own children changing is not its own event.

Other records (the catalog, the audit trail, principals, B-tree buckets)
are never events.

Who sees an event: what ``ls`` of the object's container would show, by the
rule of ``--at`` (:class:`HistoricalView`): the object as it was after the
transaction (before it, for a removal) must be visible (read-metadata) and
its container listable (read), each checked then and now with the same
``check_access`` (now: the same object by ID, or its nearest surviving
ancestor).  A query keeps events for objects
whose metadata matched it at that transaction's state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from ZODB.Connection import Connection
from ZODB.FileStorage.format import CorruptedError
from ZODB.POSException import POSKeyError
from ZODB.TimeStamp import TimeStamp
from ZODB.utils import get_pickle_metadata, p64, u64

from omsh.errors import NotFound, OmshError, UsageError
from omsh.store.asof import HistoricalView, parse_tid
from omsh.store.database import Store
from omsh.store.history import Entry, Revision, describe, tid_text, transaction_users
from omsh.store.index import indexed_values
from omsh.store.model import ROOT_KEY, Container, StoreObject, StoreRoot
from omsh.store.query import Node
from omsh.store.storages import last_transaction, learns_commits_by_query
from omsh.store.trees import ObjectTree
from omsh.store.view import StoreView

#: Classes whose records are tree objects (module, class), as pickles name them.
TREE_CLASSES = frozenset({("omsh.store.model", "Container"), ("omsh.store.model", "DataObject")})
#: Classes of the B-tree records a container's children live in (a small
#: tree keeps its one bucket's entries in its own record).
NAME_TREES = frozenset(
    {
        ("BTrees.OOBTree", "OOBucket"),
        ("BTrees.OOBTree", "OOBTree"),
        (ObjectTree.__module__, ObjectTree.__name__),
    }
)
#: The order in which an event's kind is chosen among its changes.
KINDS = ("created", "removed", "moved", "content", "metadata", "acl", "owner")
#: Transactions read per :meth:`Feed.poll` at most, so a long catch-up streams.
BATCH = 64
#: How often a follower looks at the storage's last transaction (seconds):
#: at first, and again right after something arrived (:class:`PollInterval`).
POLL_INTERVAL = 0.01
#: The longest a quiet follower waits between two looks (seconds): on
#: RelStorage each look is a query to the database.
MAX_POLL_INTERVAL = 0.05
#: Reading the log while a commit is half-written can fail; tries before giving up.
LOG_READ_TRIES = 20

#: Builds the caller's view of the tree now, in the transaction *root* is read in.
Viewer = Callable[[StoreRoot], StoreView]


class PollInterval:
    """How long a follower sleeps before looking again: short while changes come, longer when quiet.

    Starts at :data:`POLL_INTERVAL` and doubles with each look that found
    nothing, up to :data:`MAX_POLL_INTERVAL`; :meth:`reset` when something
    arrives.  A change after a quiet spell is seen within 50 ms (the
    ``watch`` latency target is a 100 ms median), while an idle follower on
    RelStorage queries PostgreSQL 20 times a second, not 100.
    """

    def __init__(self) -> None:
        self._next = POLL_INTERVAL

    def __next__(self) -> float:
        interval = self._next
        self._next = min(interval * 2, MAX_POLL_INTERVAL)
        return interval

    def reset(self) -> None:
        self._next = POLL_INTERVAL


class NotFollowable(OmshError):
    """The storage keeps no transaction log that can be read back."""

    def __init__(self) -> None:
        super().__init__("this storage keeps no transaction log to follow")


class StoreClosed(OmshError):
    """The store was closed while a feed was followed."""

    def __init__(self) -> None:
        super().__init__("the store was closed (the server is stopping)")


def packed_away(tid: str) -> NotFound:
    """The error for a resume point older than what the storage still keeps."""
    return NotFound(None, f"--since {tid}: the history from then was packed away")


@dataclass(frozen=True)
class Change(Entry):
    """One event: what happened to one object in one transaction.

    :attr:`changes` lists every kind of change the transaction made to the
    object (of :data:`KINDS`).
    """

    #: The main kind (the first of :data:`KINDS` among :attr:`changes`).
    event: str = ""
    path: str = ""
    type: str = ""
    #: What changed, in ``history``'s words.
    detail: tuple[str, ...] = ()
    #: Where a moved object was before.
    source: str | None = None

    def document(self) -> dict[str, object]:
        """The JSON form (keys documented in ``watch --help``)."""
        document: dict[str, object] = {
            "txn": self.tid,
            "time": self.time,
            "user": self.user,
            "users": list(self.users),
            "event": self.event,
            "path": self.path,
            "type": self.type,
            "changes": list(self.changes),
            "detail": list(self.detail),
        }
        if self.source is not None:
            document["from"] = self.source
        return document


def _kinds(old: Revision, new: Revision) -> list[str]:
    """The kinds of change from *old* to *new* (times and children are not kinds)."""
    kinds: list[str] = []
    if old.path != new.path:
        kinds.append("moved")
    if (old.size, old.sha256) != (new.size, new.sha256):
        kinds.append("content")
    if old.metadata != new.metadata or old.mimetype != new.mimetype:
        kinds.append("metadata")
    if old.acl != new.acl:
        kinds.append("acl")
    if old.owner != new.owner:
        kinds.append("owner")
    return kinds


def _under(path: str, scope: str) -> bool:
    return scope == "/" or path == scope or path.startswith(scope + "/")


@dataclass
class _Record:
    """One tree object written by a transaction: its states around it."""

    oid: bytes
    before: StoreObject | None
    after: StoreObject | None


class _Transaction:
    """The tree objects one transaction wrote, loaded before and after it."""

    def __init__(self, then: Connection, after: Connection, logged: _Logged) -> None:
        self.then, self.after = then, after
        self.before_root = cast(StoreRoot, then.root().get(ROOT_KEY))
        self.after_root = cast(StoreRoot, after.root()[ROOT_KEY])
        self.records = [_Record(oid, _load(then, oid), _load(after, oid)) for oid in logged.oids]
        #: Objects whose path the transaction changed: moved, not removed.
        self.moved = {
            record.oid
            for record in self.records
            if record.before is not None
            and record.after is not None
            and record.before.path != record.after.path
        }
        self.names = logged.names

    def removed(self, record: _Record) -> Iterator[StoreObject]:
        """Children gone from *record*'s container (as they were), not moved elsewhere.

        Only looked for when the container's count fell by more than the
        children that arrived in it; then among the entries of the B-tree
        records (buckets) the transaction rewrote whose value was a child
        of this container under its own name, so a container of any size
        costs a few buckets, not a scan of its names.
        """
        old, new = record.before, record.after
        if not isinstance(old, Container) or not isinstance(new, Container):
            return
        arrived = sum(
            1
            for other in self.records
            if other.after is not None
            and other.after.__parent__ is new
            and (other.before is None or other.before.path != other.after.path)
        )
        if len(old) + arrived <= len(new):
            return  # nothing left
        seen: set[bytes] = set()
        for oid in self.names:
            bucket = _load(self.then, oid)
            for name, child in bucket.items() if bucket is not None else ():
                if not isinstance(child, StoreObject) or child._p_oid in seen:
                    continue
                if child.__parent__ is not old or child.__name__ != name:
                    continue  # another container's, or the ID map's
                seen.add(cast(bytes, child._p_oid))
                now = new.get(name)
                if now is not None and now._p_oid == child._p_oid:
                    continue
                if child._p_oid not in self.moved:
                    yield child


def _load(connection: Connection, oid: bytes) -> Any:
    """The object *oid* as *connection* reads it, or None if it did not exist then."""
    try:
        obj = connection.get(oid)
        obj._p_activate()
    except (POSKeyError, KeyError):
        return None
    return obj


@dataclass(frozen=True)
class _Logged:
    """One transaction from the log: its id, status, who, and the tree objects it wrote."""

    tid: bytes
    status: str
    users: tuple[str, ...]
    #: Records of tree objects (containers, data objects).
    oids: tuple[bytes, ...]
    #: Records of B-trees keyed by names (children, among others).
    names: tuple[bytes, ...]

    @classmethod
    def of(cls, record: Any) -> _Logged:
        oids: list[bytes] = []
        names: list[bytes] = []
        for data in record:
            kind = get_pickle_metadata(data.data) if data.data is not None else None
            if kind in TREE_CLASSES:
                oids.append(data.oid)
            elif kind in NAME_TREES:
                names.append(data.oid)
        users = transaction_users({"user_name": record.user, "extension": record.extension})
        status = getattr(record, "status", " ")
        return cls(cast(bytes, record.tid), status, users, tuple(oids), tuple(names))


def _half_written(error: Exception) -> bool:
    """Whether *error* is FileStorage's iterator meeting a commit being written.

    Opened then, ``FileIterator`` cannot find the last transaction: a file
    over 1 MiB raises ``ValueError`` ("Can't find last transaction"), a
    smaller one calls ``_scan_foreward``, a method ZODB misspells and never
    defined (``AttributeError``); the tids read may also be half there
    (``CorruptedError``).  Read again a moment later, the commit is whole.
    """
    if isinstance(error, AttributeError):
        return error.name == "_scan_foreward"
    return True


class Feed:
    """The changes one caller may see, transaction by transaction, resumable.

    :attr:`position` is the last transaction read (16 hex digits): give it
    as *since* to go on from there.  Not thread-safe: one reader per feed.
    """

    def __init__(
        self,
        store: Store,
        viewer: Viewer,
        *,
        scope: str = "/",
        query: Node | None = None,
        since: str | None = None,
    ) -> None:
        self.store = store
        self.viewer = viewer
        self.scope = scope
        self.query = query
        storage = store.db.storage
        if not callable(getattr(storage, "iterator", None)):
            raise NotFollowable()
        last = self.last
        if since is None:
            self._position = last
        else:
            self._position = self._resume_point(since, last)

    @property
    def position(self) -> str:
        return tid_text(self._position)

    @property
    def last(self) -> bytes:
        """The storage's last committed transaction now.

        Raises :class:`StoreClosed` once the database is closed (a server
        stopping while a feed is followed).
        """
        if getattr(self.store.db.storage, "lastTransaction", None) is None:
            raise StoreClosed()
        return last_transaction(self.store.db)

    def _resume_point(self, since: str, last: bytes) -> bytes:
        """Check *since* is a transaction id still covered by the kept history."""
        tid = parse_tid(since, f"--since {since}")
        if tid > last:
            raise UsageError(f"--since {since}: that is in the future")
        following = next(iter(self._log(p64(u64(tid) + 1), last, limit=1)), None)
        if following is not None and following.status == "p":
            raise packed_away(since)  # FileStorage marks what a pack has thinned out
        return tid

    def _log(self, start: bytes, stop: bytes, limit: int = BATCH) -> list[_Logged]:
        """The transactions from *start* to *stop* (inclusive), at most *limit*.

        Read whole while the storage's iterator is open (a FileStorage
        record reads its data from the iterator's file).  A FileStorage
        read while a commit is being written may find the file's end
        half-written: it is read again a moment later.
        """
        storage = self.store.db.storage
        for attempt in range(LOG_READ_TRIES):
            log = None
            try:
                log = storage.iterator(start, stop)
                found: list[_Logged] = []
                for record in log:
                    found.append(_Logged.of(record))
                    if len(found) >= limit:
                        break
                return found
            except (ValueError, OSError, CorruptedError, AttributeError) as error:
                if not _half_written(error) or attempt == LOG_READ_TRIES - 1:
                    raise
                time.sleep(POLL_INTERVAL)
            finally:
                close = getattr(log, "close", None)
                if close is not None:
                    close()
        return []

    def reached(self, until: bytes) -> bool:
        """Whether every transaction up to *until* has been read."""
        return self._position >= until

    def pending(self) -> bool:
        """Whether transactions were committed after :attr:`position`."""
        return self.last > self._position

    def wait(self, timeout: float, check: Callable[[], None] | None = None) -> bool:
        """Sleep until a transaction is committed after :attr:`position`, up to *timeout*.

        Looks at :class:`PollInterval`'s pace (on FileStorage a lock and an
        attribute read), so following costs little when nothing happens;
        *check* runs at each look (a Ctrl-C check raises).  Returns
        :meth:`pending`.
        """
        deadline = time.monotonic() + timeout
        intervals = PollInterval()
        while not self.pending():
            if check is not None:
                check()
            if time.monotonic() >= deadline:
                return False
            time.sleep(next(intervals))
        return True

    @property
    def polls_cheaply(self) -> bool:
        """Whether :meth:`pending` is cheap enough for an event loop (no database query).

        RelStorage learns of other commits by querying its database
        (:func:`~omsh.store.storages.last_transaction`); that belongs in a worker.
        """
        return not learns_commits_by_query(self.store.db)

    def poll(self, until: bytes | None = None) -> list[Change]:
        """The events of the next transactions after :attr:`position` (at most :data:`BATCH`).

        Stops at *until* when given (inclusive), else at the last
        transaction committed.  Advances :attr:`position` past every
        transaction read, with or without events.
        """
        stop = self.last if until is None else min(until, self.last)
        if stop <= self._position:
            return []
        records = self._log(p64(u64(self._position) + 1), stop)
        if not records:
            self._position = stop
            return []
        changes = self.store.read(lambda now: self._events(self.viewer(now), records))
        self._position = records[-1].tid
        return changes

    def _events(self, now: StoreView, records: list[_Logged]) -> list[Change]:
        changes: list[Change] = []
        for record in records:
            if record.oids:
                changes += self._transaction_events(now, record)
        return changes

    def _transaction_events(self, now: StoreView, record: _Logged) -> list[Change]:
        tid = record.tid
        stamp = (tid_text(tid), float(TimeStamp(tid).timeTime()), record.users)

        def compare(then: Connection) -> list[Change]:
            return self.store.read_before(
                p64(u64(tid) + 1),
                lambda after: self._compare(now, tid, stamp, _Transaction(then, after, record)),
            )

        return self.store.read_before(tid, compare)

    def _compare(
        self,
        now: StoreView,
        tid: bytes,
        stamp: tuple[str, float, tuple[str, ...]],
        txn: _Transaction,
    ) -> list[Change]:
        changes: list[Change] = []
        for record in txn.records:
            for gone in txn.removed(record):
                old = Revision.of(gone, names=False)
                event = Change(*stamp, ("removed",), "removed", old.path, old.kind, ("removed",))
                if self._shows(now, txn.before_root, tid, gone, event):
                    changes.append(event)
            new_obj = record.after
            if new_obj is None:
                continue
            new = Revision.of(new_obj, names=False)
            detail: tuple[str, ...]
            source: str | None
            if record.before is None:
                kinds, detail, source = ["created"], ("created",), None
            else:
                old = Revision.of(record.before, names=False)
                kinds = _kinds(old, new)
                detail = describe(old, new)
                source = old.path if old.path != new.path else None
            if not kinds:
                continue
            event = Change(*stamp, tuple(kinds), kinds[0], new.path, new.kind, detail, source)
            if self._shows(now, txn.after_root, tid, new_obj, event):
                changes.append(event)
        changes.sort(key=lambda change: (KINDS.index(change.event) != 1, change.path))
        return changes

    def _shows(
        self, now: StoreView, then_root: StoreRoot, tid: bytes, obj: StoreObject, event: Change
    ) -> bool:
        """Whether *event* is within the scope, matches the query and may be seen."""
        if not (
            _under(event.path, self.scope)
            or (event.source is not None and _under(event.source, self.scope))
            or (event.event == "removed" and _under(self.scope, event.path))
        ):
            return False
        if self.query is not None and not self.query.matches(indexed_values(obj)):
            return False
        if now.principal.is_admin:
            return True
        view = HistoricalView(then_root, now, tid)
        parent = obj.__parent__
        return view.can_see(obj) and (parent is None or view.can_list(parent))


def watch_scope(view: StoreView, path: str | None, cwd: str) -> str:
    """The absolute path of the container (or object) to watch: it must be visible now."""
    if path is None:
        return "/"
    return view.stat(view.resolve(path, cwd), path).path
