"""What every CDMI handler works with: the parsed request and the store plumbing.

Store work normally runs in the server's worker threads, one
:meth:`Store.run` transaction per :meth:`Backend.view` call, through a
:class:`StoreView` for the caller — the same checks, catalog upkeep and
audit as the shell.

Small reads on the event loop
-----------------------------
A worker hop is the largest cost of a small GET: the thread hand-off and
the GIL passing back and forth cost more than the read itself, and opening a
pooled ZODB connection per request (its cache collection, a new transaction
manager) costs as much again.  So :class:`LoopReader` keeps *one* ZODB
connection, with its own transaction manager, for reads done on the event
loop thread, and :meth:`Backend.read_on_loop` runs a read there when it is
known to be cheap.  Why this is safe:

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
  in the workers.  Blob files are read on the loop only for values of at
  most :data:`~omsh.cdmi.values.CACHED_LIMIT` bytes, and those are usually
  in :class:`~omsh.cdmi.values.SmallValues` already.
* The work is bounded: a read that turns out not to be cheap — a larger
  value, a container with many children, a query — raises
  :class:`NotCheap` before doing it and is run again in a worker.
  Argon2 never runs on the loop (unknown credentials go to a worker first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

import transaction
from aiohttp import web
from ZODB.blob import BlobStorage
from ZODB.FileStorage import FileStorage
from ZODB.MappingStorage import MappingStorage

from omsh.cdmi.auth import BasicAuth, Caller, StaleCredentials
from omsh.cdmi.protocol import OBJECTID_PREFIX, VERSION_HEADER, Selectors, Target
from omsh.cdmi.values import SmallValues
from omsh.store.commits import GroupCommit
from omsh.store.content import ContentUpload
from omsh.store.database import ROOT_KEY, Store
from omsh.store.model import StoreObject, StoreRoot
from omsh.store.view import StoreView

T = TypeVar("T")


@dataclass(slots=True)
class Call:
    """One request as the handlers see it."""

    request: web.BaseRequest
    target: Target
    caller: Caller
    #: The negotiated CDMI version; None for a plain (non-CDMI) request.
    version: str | None
    selectors: Selectors

    @property
    def cdmi(self) -> bool:
        return self.version is not None

    def headers(self) -> dict[str, str]:
        """Headers every answer to this request carries."""
        return {VERSION_HEADER: self.version} if self.version else {}

    def no_content(self, status: int = 204) -> web.Response:
        return web.Response(status=status, headers=self.headers())


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
        finally:
            self.reads += 1
            if self.reads % self.GC_EVERY == 0:
                self.connection.cacheGC()

    def close(self) -> None:
        self.connection.close()


class Backend:
    """The store, the worker threads and the credentials the handlers share."""

    def __init__(self, store: Store, executor: Executor, auth: BasicAuth, json_limit: int) -> None:
        self.store = store
        self.executor = executor
        self.auth = auth
        self.json_limit = json_limit
        self.values = SmallValues()
        self.group = GroupCommit(store, self.in_thread)
        self._loop_reader: LoopReader | None = None
        #: Whether cheap reads may run on the event loop (see the module docstring).
        self.loop_reads = is_local(store.db.storage)

    def close(self) -> None:
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None

    async def read_on_loop(self, call: Call, work: Callable[[StoreView, bool], T]) -> T:
        """``work(view, on_loop)`` in a read transaction on the loop thread.

        If it raises :class:`NotCheap` there (or loop reads are off for this
        storage) it runs in a worker instead, told so by ``on_loop=False``.
        """
        if self.loop_reads:
            if self._loop_reader is None:
                self._loop_reader = LoopReader(self.store)
            reader = self._loop_reader

            def run(root: StoreRoot) -> T:
                return work(StoreView(root, call.caller.principal(root)), True)

            try:
                try:
                    return reader.read(run)
                except StaleCredentials:
                    self.auth.forget(call.caller)
                    call.caller = await self.auth.caller(
                        call.request.headers.get("Authorization"), call.request.remote or "?"
                    )
                    return reader.read(run)
            except NotCheap:
                pass
        return await self.view(call, lambda view: work(view, False))

    async def in_thread(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    async def view(self, call: Call, work: Callable[[StoreView], T], *, write: bool = False) -> T:
        """*work* in one transaction: a read in a worker, a write group-committed."""
        if write:
            return await self._as_caller(call, lambda: self.group.run(self._as_view(call, work)))
        return await self._as_caller(
            call, lambda: self.in_thread(lambda: self.store.read(self._as_view(call, work)))
        )

    async def store_bytes(
        self, call: Call, data: bytes, work: Callable[[StoreView, ContentUpload], T]
    ) -> T:
        """Stage *data* in a worker, then commit *work* with it (group-committed).

        For values already in memory; the staged file is gone afterwards
        (stored in a blob, or deleted).
        """

        def staged() -> ContentUpload:
            upload = ContentUpload(self.store.temporary_directory())
            try:
                upload.write(data)
                upload.finish()
            except BaseException:
                upload.discard()
                raise
            return upload

        with self.group.coming():
            upload = await self.in_thread(staged)
        try:
            return await self.view(call, lambda view: work(view, upload), write=True)
        finally:
            upload.discard()

    @staticmethod
    def _as_view(call: Call, work: Callable[[StoreView], T]) -> Callable[[StoreRoot], T]:
        """*work* given the root, through a view for the caller (read in the same snapshot)."""
        return lambda root: work(StoreView(root, call.caller.principal(root)))

    async def _as_caller(self, call: Call, run: Callable[[], Awaitable[T]]) -> T:
        """Await *run*; remembered credentials found stale are verified again.

        The work then runs a second time: like a conflict retry, it must be
        safe to repeat.
        """
        try:
            return await run()
        except StaleCredentials:
            self.auth.forget(call.caller)
            call.caller = await self.auth.caller(
                call.request.headers.get("Authorization"), call.request.remote or "?"
            )
            return await run()


@dataclass(slots=True)
class Located:
    """The object a request names, its path, and how errors name it."""

    obj: StoreObject
    path: str
    subject: str


def locate(view: StoreView, target: Target) -> Located:
    """The object a target names, by path or by ID."""
    if target.kind == "objectid":
        obj = view.by_object_id(target.object_id)
        return Located(obj, obj.path, OBJECTID_PREFIX + target.object_id)
    obj = view.lookup(target.path)  # already absolute and normalised
    if obj is None:
        raise view.missing(target.path, target.path)
    return Located(obj, target.path, target.path)


def target_path(view: StoreView, target: Target) -> str:
    """The store path a PUT writes to (an ID must name an existing object)."""
    if target.kind == "objectid":
        return view.by_object_id(target.object_id).path
    return target.path
