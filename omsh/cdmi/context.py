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
from omsh.cdmi.protocol import OBJECTID_PREFIX, VERSION_HEADER, Selectors, Target, fail
from omsh.cdmi.values import SmallValues
from omsh.store.commits import GroupCommit
from omsh.store.content import ContentUpload
from omsh.store.database import Store
from omsh.store.loopreads import LoopReader, NotCheap, is_local
from omsh.store.model import Container, StoreObject, StoreRoot
from omsh.store.staging import stage_chunks
from omsh.store.view import StoreView

T = TypeVar("T")

#: Names CDMI keeps for itself (``cdmi_objectid``, ``cdmi_capabilities``...).
RESERVED_NAME_PREFIX = "cdmi_"


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

        directory = self.store.temporary_directory()
        with self.group.coming():
            upload = await self.in_thread(lambda: stage_chunks([data], directory))
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


def _resolved(view: StoreView, target: Target) -> tuple[str, str]:
    """The store path a target names and how errors name it.

    ``/cdmi_objectid/ID/a/b`` is ``a/b`` below the object with that ID
    (spec §5.10); the ID's object must exist, the rest is looked up as a path.
    """
    if target.kind != "objectid":
        return target.path, target.path
    base = view.by_object_id(target.object_id)
    subject = OBJECTID_PREFIX + target.object_id
    if not target.below:
        return base.path, subject
    path = base.path.rstrip("/") + "/" + "/".join(target.below)
    return path, subject + "/" + "/".join(target.below)


def locate(view: StoreView, target: Target) -> Located:
    """The object a target names, by path, by ID, or by a path below an ID."""
    path, subject = _resolved(view, target)
    obj = view.lookup(path)  # already absolute and normalised
    if obj is None:
        raise view.missing(path, subject)
    return Located(obj, path, subject)


def target_path(view: StoreView, target: Target) -> str:
    """The store path a PUT writes to (an ID must name an existing object)."""
    return _resolved(view, target)[0]


def refuse_reserved(path: str) -> None:
    """CDMI reserves names starting with ``cdmi_`` (spec §9.1.2): none is created."""
    name = path.rsplit("/", 1)[-1]
    if name.startswith(RESERVED_NAME_PREFIX):
        fail(400, f"{name[:60]!r}: names starting with {RESERVED_NAME_PREFIX} are reserved")


def require_canonical_uri(call: Call, obj: StoreObject) -> None:
    """301 to the right URI for a container named without '/' or a data object with one.

    Spec §9.1: a request to an existing container without the trailing
    slash is answered ``301 Moved Permanently`` with the slashed URI in
    ``Location``; a data object's URI likewise loses a trailing slash.  A
    bare ``/cdmi_objectid/ID`` names either kind and is answered as it is.
    """
    target = call.target
    is_container = isinstance(obj, Container)
    if not target.names_by_path or is_container == target.trailing_slash:
        return
    raw_path, _, query = call.request.raw_path.partition("?")
    location = raw_path + "/" if is_container else raw_path.rstrip("/")
    if query:
        location += "?" + query
    what = "a container URI ends in '/'" if is_container else "a data object URI has no '/'"
    fail(301, f"{what}: {location[:200]}", {"Location": location})
