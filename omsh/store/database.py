"""Opening a ZODB database and running transactions on it.

:class:`Store` is the handle the rest of omsh holds.  Work happens in
:meth:`Store.run`, which gives a function the store root inside a fresh
connection and transaction, commits (or aborts, for reads), and retries a
bounded number of times on ``ConflictError`` so concurrent writers never see
one.  Connections are not shared between threads: each ``run`` opens one
from ZODB's pool with its own transaction manager, so ``run`` is safe to call
from any worker thread.

Values returned by the function must be plain data: persistent objects
cannot be used after their connection is closed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import TypeVar, cast

import transaction
import ZODB
import zodburi
from ZODB.blob import BlobStorage
from ZODB.Connection import Connection
from ZODB.FileStorage import FileStorage
from ZODB.MappingStorage import MappingStorage
from ZODB.POSException import ConflictError, POSKeyError, ReadOnlyHistoryError
from ZODB.utils import p64, u64

from omsh.errors import AlreadyExists, OmshError, PermissionDenied
from omsh.store.access import ADMIN_GROUP
from omsh.store.asof import HistoricalView, When, nothing_then
from omsh.store.content import COPY_PREFIX, UPLOAD_PREFIX
from omsh.store.ids import new_object_id
from omsh.store.model import ROOT_KEY, Container, StoreRoot
from omsh.store.principals import Principals, parse_authorized_key
from omsh.store.schema import upgrade
from omsh.store.storages import last_transaction, require_history
from omsh.store.view import StoreView

log = logging.getLogger(__name__)

T = TypeVar("T")

ADMIN_USER = "admin"
#: Tries of one write before "concurrent update conflict" (ARCHITECTURE §4).  What
#: still conflicts is B-tree buckets splitting under concurrent inserts: rare for
#: one write, but with several nodes a write may lose many times in a row (4 nodes
#: x 8 writers into one container, writes twice as fast as when this was 16: one
#: write in 1,920 lost 16 times running, once in a few runs).  A few more seconds
#: of retrying under such contention beats an error.
CONFLICT_ATTEMPTS = 32
#: The longest pause between two tries, in seconds.
CONFLICT_PAUSE_CAP = 0.2
CACHE_OBJECTS = 20_000
#: Historical connections (``--at``) cache as many objects as current ones:
#: ZODB's default of 1,000 makes ``ls --at`` of a big container reload it.
CACHES = {"cache_size": CACHE_OBJECTS, "historical_cache_size": CACHE_OBJECTS}
STAGING_PREFIXES = (UPLOAD_PREFIX, COPY_PREFIX)


class ConflictPersists(AlreadyExists):
    """A write kept conflicting with concurrent writers after every retry."""

    def __init__(self) -> None:
        super().__init__(None, "concurrent update conflict; try again")


class RecordMissing(OmshError):
    """A record the tree refers to is not in the storage (packed away, or damage)."""

    def __init__(self) -> None:
        super().__init__("part of the store is missing (packed away, or damaged); run 'omsh check'")


#: URI schemes of RelStorage on PostgreSQL (:mod:`omsh.store.postgres`): RelStorage
#: registers ``postgres`` with zodburi; ``postgresql`` (libpq's spelling) is the same.
POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def _see_other_nodes(storage: object) -> None:
    """Have a ZEO client ask its server at each transaction's start (ZEO's ``server_sync``).

    ZEO tells a client of other clients' commits asynchronously, so a
    transaction begun just after another node committed could still read
    the state before it: a password changed on one node would be accepted
    on another for a moment.  One round trip per transaction closes that
    (ARCHITECTURE §4); other storages need nothing.
    """
    if hasattr(storage, "server_sync") and hasattr(storage, "ping"):
        storage.server_sync = True  # kept across reconnections
        storage.sync = storage.ping  # type: ignore[attr-defined]


class Store:
    """One open ZODB database holding an omsh tree."""

    def __init__(self, db: ZODB.DB, *, cleanup_dir: str | None = None) -> None:
        self.db = db
        self._cleanup_dir = cleanup_dir
        _see_other_nodes(db.storage)
        #: Held by each write transaction, tries included (see :meth:`run`).
        self._writes = threading.RLock()

    # -- opening ---------------------------------------------------------

    @classmethod
    def open(cls, *, data_dir: str | None = None, uri: str | None = None) -> Store:
        """Open by URI (``file://``, ``memory://``, ``zeo://``, ``postgres://``…) or data folder.

        A data folder holds ``Data.fs`` and ``blobs/``.  ``file://`` URIs get a
        blob directory beside the file unless they name one, and
        ``memory://`` is given a temporary one, because content lives in blobs.
        ``postgresql://`` and ``postgres://`` open RelStorage with blobs in
        the database (see :mod:`omsh.store.postgres`).
        """
        if uri is None:
            data_dir = data_dir or "var"
            os.makedirs(data_dir, exist_ok=True)
            storage = FileStorage(
                os.path.join(data_dir, "Data.fs"), blob_dir=os.path.join(data_dir, "blobs")
            )
            return cls(ZODB.DB(storage, **CACHES))
        if uri.startswith("memory://"):
            blob_dir = tempfile.mkdtemp(prefix="omsh-blobs-")
            storage = BlobStorage(blob_dir, MappingStorage(uri[len("memory://") :] or "memory"))
            return cls(ZODB.DB(storage, **CACHES), cleanup_dir=blob_dir)
        if not uri.startswith(POSTGRES_SCHEMES):
            if uri.startswith("file://") and "blobstorage_dir" not in uri:
                path = uri[len("file://") :].split("?", 1)[0]
                separator = "&" if "?" in uri else "?"
                uri = f"{uri}{separator}blobstorage_dir={os.path.dirname(path) or '.'}/blobs"
            storage_factory, db_kw = zodburi.resolve_uri(uri)
            return cls(ZODB.DB(storage_factory(), **{**CACHES, **db_kw}))
        # Here only: RelStorage is the optional extra omsh[postgresql].
        from omsh.store.postgres import postgres_storage

        storage_factory, db_kw, cleanup_dir = postgres_storage(uri)
        try:
            db = ZODB.DB(storage_factory(), **{**CACHES, **db_kw})
        except Exception as error:  # the driver's own errors: unreachable, refused, no database
            if cleanup_dir:
                shutil.rmtree(cleanup_dir, ignore_errors=True)
            reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise OmshError(f"cannot open the PostgreSQL database: {reason}") from error
        return cls(db, cleanup_dir=cleanup_dir)

    def close(self) -> None:
        self.db.close()
        if self._cleanup_dir:
            shutil.rmtree(self._cleanup_dir, ignore_errors=True)

    def temporary_directory(self) -> str:
        """Where uploads are staged: beside the blobs, so attaching is a rename."""
        return cast(str, self.db.storage.temporaryDirectory())

    def sweep_staging(self) -> int:
        """Delete uploads left behind by a process that stopped mid-transfer.

        Only safe before any session starts (``omsh serve`` calls it at
        start-up): staged files are never part of a committed object.
        Returns how many files were removed.
        """
        directory = self.temporary_directory()
        removed = 0
        for name in os.listdir(directory):
            if name.startswith(STAGING_PREFIXES):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, name))
                    removed += 1
        return removed

    # -- transactions ----------------------------------------------------

    def run(self, work: Callable[[StoreRoot], T], *, write: bool = True) -> T:
        """Run *work* on the store root in its own transaction.

        Writes commit, reads abort.  ``ConflictError`` is retried with a
        short growing pause; *work* must therefore be safe to run again.
        Writes run one at a time in this process (ARCHITECTURE §4): writers
        into one container touch the same B-trees, and under the GIL they
        gain little by overlapping, while any two that overlap may conflict
        (a bucket split by one breaks the other).  A retry starts from the
        transaction that won (a ZEO client asks its server at every start:
        :func:`_see_other_nodes`).
        """
        with self._writes if write else contextlib.nullcontext():
            for attempt in range(CONFLICT_ATTEMPTS):
                try:
                    return self._attempt(work, write)
                except ConflictError as conflict:  # names the record (oid and class)
                    log.info("conflict on attempt %d; retrying: %s", attempt + 1, conflict)
                    pause = min(0.005 * 2**attempt, CONFLICT_PAUSE_CAP)
                    time.sleep(pause * (0.5 + secrets.randbelow(100) / 100))
        raise ConflictPersists()

    def _attempt(self, work: Callable[[StoreRoot], T], write: bool) -> T:
        """One try of :meth:`run`: a fresh connection and transaction."""
        manager = transaction.TransactionManager(explicit=True)
        connection = self.db.open(transaction_manager=manager)
        try:
            manager.begin()
            result = work(connection.root()[ROOT_KEY])
            if write:
                manager.commit()
            else:
                manager.abort()
            return result
        except ReadOnlyHistoryError:  # a write reached the past: never partial
            manager.abort()
            raise PermissionDenied(None, "the past is read-only") from None
        except POSKeyError:  # a record gone: a snapshot packed by another tool, damage
            manager.abort()
            log.exception("a record is missing")
            raise RecordMissing() from None
        except BaseException:
            manager.abort()
            raise
        finally:
            connection.close()

    def read(self, work: Callable[[StoreRoot], T]) -> T:
        return self.run(work, write=False)

    def read_as(self, user: str, when: When | None, work: Callable[[StoreView], T]) -> T:
        """Run *work* on a read-only view for *user*: of now, or as of *when*.

        As of *when*, the view is a :class:`HistoricalView`: every right is
        checked then and now.
        """
        if when is None:
            return self.read(lambda root: work(StoreView.for_user(root, user)))
        return self.read_at(
            when, lambda then, now, tid: work(HistoricalView.for_user_at(then, now, user, tid))
        )

    def read_at(
        self,
        when: When,
        work: Callable[[StoreRoot, StoreRoot, bytes], T],
        *,
        write: bool = False,
    ) -> T:
        """Run *work* on the root as of *when* (read-only), the root now, and the tid.

        The historical connection reads every object, content included, as
        of the last transaction at or before *when* (a snapshot's name is
        read as its transaction); any change through it
        is refused as "permission denied" (ARCHITECTURE §4).  The current
        connection lets *work* check rights now as well (:mod:`omsh.store.asof`).
        With *write* the current one is a write transaction (:meth:`run`:
        committed, conflicts retried with the same past): ``restore`` writes
        the past back as a new change (:mod:`omsh.store.restore`).
        """
        when = self.read(when.resolved)  # a snapshot's name: its transaction
        before = when.before(time.time(), last_transaction(self.db))

        def on(then: Connection) -> T:
            root = then.root().get(ROOT_KEY)
            if root is None:
                raise nothing_then(when)

            def both(now: StoreRoot) -> T:
                try:
                    return work(root, now, p64(u64(before) - 1))
                except POSKeyError:  # packed away since: before run() calls it damage
                    raise nothing_then(when) from None

            return self.run(both, write=write)

        try:
            return self.read_before(before, on)
        except ReadOnlyHistoryError:
            raise PermissionDenied(None, "the past is read-only") from None
        except POSKeyError:  # packed away since
            raise nothing_then(when) from None

    def read_before(self, before: bytes, work: Callable[[Connection], T]) -> T:
        """Run *work* on a read-only historical connection: the state just before *before*.

        The one way omsh opens the past (``--at`` and ``history``): its own
        transaction manager, aborted and closed whatever *work* does.  A
        storage that keeps no history refuses in one line
        (:class:`~omsh.store.storages.NoHistoryKept`).
        """
        require_history(self.db)
        last_transaction(self.db)  # ZODB refuses a ``before`` past what the storage saw
        manager = transaction.TransactionManager(explicit=True)
        connection = self.db.open(transaction_manager=manager, before=before)
        try:
            manager.begin()
            return work(connection)
        finally:
            manager.abort()
            connection.close()

    # -- first start -----------------------------------------------------

    def bootstrap(
        self,
        *,
        admin_password: str | None = None,
        admin_keys: Iterable[str] = (),
        first_admin: str = ADMIN_USER,
        populate: Callable[[StoreRoot], None] | None = None,
    ) -> str | None:
        """Create the tree and its first administrator in an empty database.

        *populate* (the offline ``omsh user add``) runs on a fresh store in
        the same transaction, before the administrator is made: if it
        created *first_admin* itself, with the operator's password and keys,
        nothing else is made, so no password is ever generated behind the
        operator's back.  Otherwise *first_admin* is created with
        *admin_password*, or a generated one that is returned to be shown
        once (else ``None``), and *admin_keys*.  The root is owned by
        *first_admin*.  An existing store is only upgraded to the current
        schema (:func:`omsh.store.schema.upgrade`); *populate* is not run.
        """
        generated: list[str] = []

        def create(connection_root: MutableMapping[str, StoreRoot]) -> None:
            if ROOT_KEY in connection_root:
                upgrade(connection_root[ROOT_KEY])
                return
            principals = Principals()
            tree = Container("", first_admin, new_object_id())
            root = connection_root[ROOT_KEY] = StoreRoot(tree, principals)
            upgrade(root)
            if populate is not None:
                populate(root)
            if first_admin in principals.users:
                return
            admin = principals.add_user(first_admin)
            password = admin_password
            if not password:
                password = secrets.token_urlsafe(15)
                generated.append(password)
            admin.set_password(password)
            for line in admin_keys:
                if line.strip() and not line.lstrip().startswith("#"):
                    admin.add_key(parse_authorized_key(line))
            principals.add_member(ADMIN_GROUP, first_admin)

        manager = transaction.TransactionManager(explicit=True)
        connection = self.db.open(transaction_manager=manager)
        try:
            manager.begin()
            create(connection.root())
            manager.commit()
        except BaseException:
            manager.abort()
            raise
        finally:
            connection.close()
        return generated[0] if generated else None

    def is_initialized(self) -> bool:
        manager = transaction.TransactionManager(explicit=True)
        connection = self.db.open(transaction_manager=manager)
        try:
            manager.begin()
            return ROOT_KEY in connection.root()
        finally:
            manager.abort()
            connection.close()
