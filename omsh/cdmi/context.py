"""What every CDMI handler works with: the parsed request and the store plumbing.

Store work runs in the server's worker threads, one :meth:`Store.run`
transaction per :meth:`Backend.view` call, through a :class:`StoreView` for
the caller — the same checks, catalog upkeep and audit as the shell.  It is
never done on the event loop: a cache miss reads the storage (a disk, or a
ZEO or PostgreSQL server across the network), and ZODB connections are only
safe in one thread at a time.  See :mod:`omsh.cdmi.handlers` for how few
such hops a request makes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from omsh.cdmi.auth import BasicAuth, Caller, StaleCredentials
from omsh.cdmi.protocol import OBJECTID_PREFIX, VERSION_HEADER, Selectors, Target
from omsh.store.content import ContentUpload
from omsh.store.database import Store
from omsh.store.model import StoreObject
from omsh.store.view import StoreView

T = TypeVar("T")


@dataclass
class Call:
    """One request as the handlers see it."""

    request: web.Request
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

    async def in_thread(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    def transaction(self, call: Call, work: Callable[[StoreView], T], write: bool) -> T:
        """Run *work* in one transaction as the caller (in a worker thread)."""
        return self.store.run(
            lambda root: work(StoreView(root, call.caller.principal(root))), write=write
        )

    async def view(self, call: Call, work: Callable[[StoreView], T], *, write: bool = False) -> T:
        """*work* in one transaction, in a worker thread."""
        return await self._as_caller(call, lambda: self.transaction(call, work, write))

    async def store_bytes(
        self, call: Call, data: bytes, work: Callable[[StoreView, ContentUpload], T]
    ) -> T:
        """Stage *data* and run *work* with it in one write transaction: one hop.

        For values already in memory; the staged file is gone afterwards
        (stored in a blob, or deleted).
        """

        def run() -> T:
            with ContentUpload(self.store.temporary_directory()) as upload:
                upload.write(data)
                upload.finish()
                return self.transaction(call, lambda view: work(view, upload), True)

        return await self._as_caller(call, run)

    async def _as_caller(self, call: Call, run: Callable[[], T]) -> T:
        """*run* in a worker; remembered credentials found stale are verified again.

        The work then runs a second time: like a conflict retry, it must be
        safe to repeat.
        """
        try:
            return await self.in_thread(run)
        except StaleCredentials:
            self.auth.forget(call.caller)
            call.caller = await self.auth.caller(
                call.request.headers.get("Authorization"), call.request.remote or "?"
            )
            return await self.in_thread(run)


@dataclass(frozen=True)
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
    obj = view.resolve(target.path)
    return Located(obj, target.path, target.path)


def target_path(view: StoreView, target: Target) -> str:
    """The store path a PUT writes to (an ID must name an existing object)."""
    if target.kind == "objectid":
        return view.by_object_id(target.object_id).path
    return target.path
