"""Small reads on the event loop thread, through one dedicated ZODB connection.

A worker hop is the largest cost of a small read (a CDMI GET of a few
kilobytes, an SFTP ``stat``): the thread hand-off and
the GIL passing back and forth cost more than the read itself, and opening a
pooled ZODB connection per request (its cache collection, a new transaction
manager) costs as much again.  So :class:`LoopReader` keeps *one* ZODB
connection, with its own transaction manager, for reads done on the event
loop thread, and a front end runs a read there when it is known to be
cheap (CDMI's ``Backend.read_on_loop``, SFTP's ``stat``).  Why this is safe:

* ZODB connections may not be shared between threads at the same time; this
  one is only ever used on the loop thread, and a read runs to completion
  without awaiting, so two reads never interleave on it.
* Each read starts a new transaction on the connection, so it sees every
  commit made before it, like a pooled connection would (MVCC: reads never
  block or conflict with writers); and it cannot write (see
  :class:`LoopReader`).
* Blocking I/O on the loop would stall every SSH session too.  Loop reads
  are only enabled for storages in local files or memory (FileStorage,
  MappingStorage): a cache miss there is a read of a local, usually
  page-cached file.  A network storage (ZEO, RelStorage) keeps every read
  in the workers.  CDMI reads blob files on the loop only for values of at
  most ``omsh.cdmi.values.CACHED_LIMIT`` bytes, usually cached already;
  SFTP reads no content there.
* The work is bounded: a read that turns out not to be cheap — a larger
  value, a container with many children, a query — raises
  :class:`NotCheap` before doing it and is run again in a worker.
  Argon2 never runs on the loop (unknown credentials go to a worker first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import transaction
from ZODB.blob import BlobStorage
from ZODB.FileStorage import FileStorage
from ZODB.MappingStorage import MappingStorage

from omsh.store.database import Store
from omsh.store.model import ROOT_KEY, StoreRoot
from omsh.store.snapshots import PastNeedsTransaction

T = TypeVar("T")


class NotCheap(Exception):
    """A read started on the event loop would take too long there: use a worker."""


def is_local(storage: object) -> bool:
    """Whether *storage* keeps its records in local files or memory."""
    if isinstance(storage, BlobStorage):  # blob support wrapped around another storage
        storage = vars(storage).get("_BlobStorage__storage", storage)
    return isinstance(storage, FileStorage | MappingStorage)


class LoopReader:
    """One ZODB connection for read transactions on the event loop thread only.

    A read starts with the connection's ``newTransaction`` (its
    ``ISynchronizer`` hook, what ``TransactionManager.begin`` calls): the
    invalidations of every commit so far are applied, so the read sees the
    latest state.  No transaction is begun on its explicit transaction
    manager, so any attempt to change an object read here fails with
    ``NoTransaction`` instead of changing anything — reads only.  The object
    cache is trimmed every :data:`GC_EVERY` reads, as a transaction's end
    would do.
    """

    GC_EVERY = 100

    def __init__(self, store: Store) -> None:
        self.manager = transaction.TransactionManager(explicit=True)
        self.connection = store.db.open(transaction_manager=self.manager)
        self.reads = 0

    def read(self, work: Callable[[StoreRoot], T]) -> T:
        self.connection.newTransaction(None)
        try:
            return work(self.connection.root()[ROOT_KEY])
        except PastNeedsTransaction:  # a snapshot's tree needs a connection of its own
            raise NotCheap() from None
        finally:
            self.reads += 1
            if self.reads % self.GC_EVERY == 0:
                self.connection.cacheGC()

    def close(self) -> None:
        self.connection.close()
