"""What every session of one server shares: :class:`ServerContext`.

One instance is built at start-up (``omsh serve``) and handed to the SSH
server (:mod:`omsh.ssh.server`), to every shell session
(:mod:`omsh.ssh.session`, :mod:`omsh.ssh.interactive`), to SFTP
(:mod:`omsh.ssh.sftp`) and to the CDMI endpoint: the store, the command
registry, the authenticator, the worker threads, and what is made on first
use and kept for the life of the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TypeVar

from zope.interface.registry import Components

from omsh.authn import Authenticator
from omsh.store.commits import GroupCommit
from omsh.store.database import Store
from omsh.store.loopreads import LoopReader, NotCheap, is_local
from omsh.store.model import StoreRoot

T = TypeVar("T")


@dataclass
class ServerContext:
    """What every session of one server shares."""

    store: Store
    registry: Components
    authenticator: Authenticator
    executor: Executor
    #: Per-user shell histories kept for the life of the server process.
    histories: dict[str, list[str]] = field(default_factory=dict)
    _group: GroupCommit | None = None
    _loop_reader: LoopReader | None = None

    @property
    def group(self) -> GroupCommit:
        """The group committer SFTP sessions share (created on first use, on the loop)."""
        if self._group is None:
            loop = asyncio.get_running_loop()
            executor = self.executor
            self._group = GroupCommit(self.store, lambda func: loop.run_in_executor(executor, func))
        return self._group

    @property
    def loop_reader(self) -> LoopReader | None:
        """Cheap reads on the event loop (SFTP ``stat``), for local storages only."""
        if self._loop_reader is None and is_local(self.store.db.storage):
            self._loop_reader = LoopReader(self.store)
        return self._loop_reader

    async def read_quickly(self, work: Callable[[StoreRoot], T]) -> T:
        """A short read: on the event loop for local storages (see
        :mod:`omsh.store.loopreads`), else in a worker, as a storage may be remote."""
        reader = self.loop_reader
        if reader is not None:
            try:
                return reader.read(work)
            except NotCheap:  # e.g. a snapshot's tree, which needs a connection of its own
                pass
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.store.read, work)

    def close(self) -> None:
        """Let go of the loop's connection; before the store closes."""
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None
