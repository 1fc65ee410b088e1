"""What every CDMI handler works with: the parsed request and the store plumbing.

Store work normally runs in the server's worker threads, one
:meth:`Store.run` transaction per :meth:`Backend.view` call, through a
:class:`StoreView` for the caller — the same checks, catalog upkeep and
audit as the shell.

Small reads run on the event loop when they are cheap, through one
:class:`~omsh.store.loopreads.LoopReader` (that module says why that is
safe); the rest, and every write, go to the worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from omsh.cdmi.auth import BasicAuth, Caller, StaleCredentials
from omsh.cdmi.protocol import OBJECTID_PREFIX, VERSION_HEADER, Selectors, Target
from omsh.cdmi.values import SmallValues
from omsh.store.commits import GroupCommit
from omsh.store.content import ContentUpload
from omsh.store.database import Store
from omsh.store.loopreads import LoopReader, NotCheap, is_local
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
