"""Group commit: the writes of many concurrent requests in one transaction.

A commit costs an ``fsync`` of the storage and, with every writer adding to
the same container, concurrent transactions conflict with each other (the
container's mtime, its children, the catalog) and are retried.  So the
writes of CDMI requests and SFTP sessions queue up here and one task at a
time commits everything queued in one transaction, in a worker thread; while
it runs, the next batch gathers.
Sixteen clients writing small objects then cost about one ``fsync`` per
batch instead of one each, and never conflict with each other.

Each write is still its own unit: it runs with its own caller's
:class:`~omsh.store.view.StoreView` (the same checks and audit), in the
order the requests came, and if any write in a batch fails, the batch is
rolled back and every write in it runs again in a transaction of its own —
so one refused request never takes the others with it, and each gets its
own answer.  Writes must therefore be safe to run again, as a conflict retry
already requires (:meth:`Store.run`).

Durability: staged files are closed unsynced; a batch first syncs all
of them at once (:func:`~omsh.store.staging.sync_staged`), then commits
(the storage's ``fsync``), and only then answers anyone.  Small content
(:data:`~omsh.store.content.INLINE_LIMIT`) goes into the transaction itself,
so that one ``fsync`` is all a batch of small writes costs.  ``put`` runs in a
worker thread per exec session: :class:`BlockingGroupCommit` batches those.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from omsh.store.database import Store
from omsh.store.model import StoreRoot
from omsh.store.staging import sync_staged

log = logging.getLogger(__name__)

#: Writes committed together at most.
MAX_BATCH = 64
#: How long a batch may wait for writes announced as coming (being staged).
GATHER_SECONDS = 0.004
_GATHER_STEP = 0.0005

Work = Callable[[StoreRoot], Any]
T = TypeVar("T")


@dataclass(slots=True)
class _Write:
    work: Work
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit:
    """Queues writes and commits them in batches, one batch at a time."""

    def __init__(
        self, store: Store, in_thread: Callable[[Callable[[], Any]], Awaitable[Any]]
    ) -> None:
        self.store = store
        self.in_thread = in_thread
        self._queue: list[_Write] = []
        self._committer: asyncio.Task[None] | None = None
        #: Writes announced (their value is being staged) but not queued yet.
        self._coming = 0

    @contextlib.contextmanager
    def coming(self) -> Iterator[None]:
        """Around the staging of a write: the next batch waits a moment for it.

        Small writes arrive a staging (an ``fsync``) apart; without this a
        batch would often leave with one write and the next one just behind it.
        """
        self._coming += 1
        try:
            yield
        finally:
            self._coming -= 1

    async def run(self, work: Callable[[StoreRoot], T]) -> T:
        """Commit *work* (given the store root) with whatever else is queued."""
        write = _Write(work)
        self._queue.append(write)
        if self._committer is None or self._committer.done():
            self._committer = asyncio.get_running_loop().create_task(self._commit_all())
        return cast(T, await asyncio.shield(write.done))

    async def _gather(self) -> None:
        """Wait briefly for announced writes, up to a full batch."""
        waited = 0.0
        while self._coming and len(self._queue) < MAX_BATCH and waited < GATHER_SECONDS:
            await asyncio.sleep(_GATHER_STEP)
            waited += _GATHER_STEP

    async def _commit_all(self) -> None:
        while self._queue:
            await self._gather()
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                outcomes = await self.in_thread(functools.partial(self._commit, batch))
            except BaseException:  # shutting down: nobody waits for an answer any more
                for write in batch + self._queue:
                    write.done.cancel()
                self._queue = []
                raise
            for write, (ok, value) in zip(batch, outcomes, strict=True):
                if write.done.cancelled():
                    continue
                if ok:
                    write.done.set_result(value)
                else:
                    write.done.set_exception(value)

    def _commit(self, batch: list[_Write]) -> list[tuple[bool, Any]]:
        return commit_batch(self.store, [write.work for write in batch])


Outcome = tuple[bool, Any]


def commit_batch(store: Store, works: list[Work]) -> list[Outcome]:
    """Commit *works* in one transaction; outcomes in order: ``(True, result)`` or
    ``(False, exception)``.

    First every staged file not yet on disk is synced, all at once
    (:func:`~omsh.store.staging.sync_staged`): one round of ``fsync`` per
    batch, then the storage's own ``fsync`` as the transaction commits.
    If the batch fails, each write runs alone.
    """
    sync_staged()
    if len(works) > 1:
        try:
            results = store.run(lambda root: [work(root) for work in works])
            return [(True, result) for result in results]
        except Exception as exc:
            log.debug("a batch of %d writes failed (%s); each runs alone", len(works), exc)
    outcomes: list[Outcome] = []
    for work in works:
        try:
            outcomes.append((True, store.run(work)))
        except Exception as exc:
            outcomes.append((False, exc))
    return outcomes


@dataclass(slots=True)
class _Waiting:
    """A write queued by a thread, and its outcome once committed."""

    work: Work
    outcome: Outcome | None = None


class BlockingGroupCommit:
    """Group commit for callers in worker threads (``put`` run by exec sessions).

    No committer of its own: the first thread to queue a write while no
    batch is committing commits the queue (its own write and whatever else
    is there, up to :data:`MAX_BATCH`); the others wait and are answered by
    it.  Writes queued during a commit go together in the next one, so
    concurrent ``put`` commands share transactions (and ``fsync`` calls)
    exactly as CDMI requests do, with nobody waiting for a batch to fill.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: list[_Waiting] = []
        self._committing = False
        self._changed = threading.Condition()

    def run(self, work: Callable[[StoreRoot], T]) -> T:
        """Commit *work* with whatever else is queued; its result or its exception."""
        mine = _Waiting(work)
        with self._changed:
            self._queue.append(mine)
        while True:
            with self._changed:
                while mine.outcome is None and self._committing:
                    self._changed.wait()
                if mine.outcome is not None:
                    break
                self._committing = True
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                outcomes = commit_batch(self.store, [waiting.work for waiting in batch])
            except BaseException as exc:  # e.g. the store closed: every waiter learns it
                outcomes = [(False, exc)] * len(batch)
            with self._changed:
                for waiting, outcome in zip(batch, outcomes, strict=True):
                    waiting.outcome = outcome
                self._committing = False
                self._changed.notify_all()
        ok, value = mine.outcome
        if not ok:
            raise value
        return cast(T, value)


_shared: weakref.WeakKeyDictionary[Store, BlockingGroupCommit] = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def blocking_group(store: Store) -> BlockingGroupCommit:
    """The one :class:`BlockingGroupCommit` of *store* (made on first use)."""
    with _shared_lock:
        group = _shared.get(store)
        if group is None:
            group = _shared[store] = BlockingGroupCommit(store)
        return group
