"""The ``writes`` cases: small writes and bulk loading on FileStorage (issue 14).

One FileStorage store in process.  It is filled with ``omsh import``'s
loader (:mod:`omsh.store.bulkload`) to SMALL objects, the two write paths
are timed, then it is filled on to LARGE objects and they are timed again;
each case's figure is the rate at LARGE over the rate at SMALL (the issue:
it must not fall by more than 20%), and both rates are printed (the issue's
goal is ≥ 1,000 objects/s per node):

``group``   the path of CDMI PUTs and SFTP closes: CLIENTS asyncio clients,
            each staging 4 KiB (:class:`~omsh.store.staging.Staging`) and
            queuing ``store_data`` on a :class:`~omsh.store.commits.GroupCommit`.
``put``     the path of ``put`` in exec sessions: CLIENTS threads, each
            staging 4 KiB with ``stage_chunks`` and committing through the
            store's :class:`~omsh.store.commits.BlockingGroupCommit`.
``import``  ``omsh import``'s loader: IMPORTED 4 KiB files into a fresh
            store, objects/s against SQLite loading the same rows (path,
            size, SHA-256, metadata, the 4 KiB as a BLOB) with ``executemany``
            in one transaction.

In process, so neither HTTP nor SSH is in the figures: they are what the
store side can commit, the ceiling for either front end.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.harness import BenchError, CaseResult, CaseSpec, Target
from bench.runner import Group, option, positive
from omsh.store.bulkload import Item, Plan, load
from omsh.store.commits import GroupCommit, blocking_group
from omsh.store.database import ADMIN_USER, Store
from omsh.store.model import StoreRoot
from omsh.store.staging import Staging, stage_chunks
from omsh.store.view import StoreView

SMALL_OBJECT = 4096
SCALING = Target(">=", 0.8)

CASES = (
    CaseSpec(
        "group",
        "4 KiB, group commit",
        "{clients} clients staging 4 KiB and group-committing (CDMI, SFTP): objects/s "
        "at {large:,} objects over at {small:,}",
        "obj/s",
        SCALING,
    ),
    CaseSpec(
        "put",
        "4 KiB, put",
        "{clients} threads as exec `put`s (stage_chunks, BlockingGroupCommit): objects/s "
        "at {large:,} objects over at {small:,}",
        "obj/s",
        SCALING,
    ),
    CaseSpec(
        "import",
        "import 4 KiB",
        "omsh import of {imported:,} 4 KiB files vs SQLite executemany of the same rows",
        "obj/s",
        Target(">=", 10_000 / 167_000),
    ),
)


@dataclass(frozen=True)
class Settings:
    small: int = option(10_000, positive, "objects in the store first (10,000)")
    large: int = option(
        1_000_000, positive, "objects in the store second (1,000,000)", quick=100_000
    )
    writes: int = option(2_000, positive, "objects written per timed run (2,000)", quick=1_000)
    runs: int = option(3, positive, "timed runs at each size (3)", quick=2)
    clients: int = option(16, positive, "concurrent writers (16)")
    imported: int = option(20_000, positive, "objects the import case loads (20,000)", quick=5_000)
    cases: tuple[str, ...] = tuple(case.key for case in CASES)

    @property
    def placeholders(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "small": self.small,
            "large": self.large,
            "imported": self.imported,
        }


class WritesBench(Group):
    """Small writes at two store sizes, and the bulk loader against SQLite."""

    description = "4 KiB writes at 10,000 and 1,000,000 objects; omsh import vs SQLite"
    quick_help = "100,000 objects second, 2 runs of 1,000 writes, 5,000 imported"
    settings_type = Settings
    case_specs = CASES

    def setup(self) -> None:
        self.source = self.workdir / "4k"
        self.source.write_bytes(os.urandom(SMALL_OBJECT))
        self.store = Store.open(data_dir=str(self.workdir / "var"))
        self.store.bootstrap(admin_password="bench")
        self.filled = 0
        self.written = 0
        self.rates: dict[tuple[str, int], list[float]] = {}
        self.pool = ThreadPoolExecutor(32, thread_name_prefix="bench-writes")
        wanted = set(self.settings.cases) & {"group", "put"}
        for size in (self.settings.small, self.settings.large):
            if not wanted:
                break
            self._fill_to(size)
            for _ in range(self.settings.runs):  # interleaved, as the load varies
                for path in sorted(wanted):
                    self.rates.setdefault((path, size), []).append(self._timed(path))
            self.say(
                f"at {size:,} objects: "
                + ", ".join(f"{path} {max(self.rates[path, size]):,.0f}/s" for path in wanted)
            )

    def teardown(self) -> None:
        self.pool.shutdown()
        self.store.close()

    # -- filling -------------------------------------------------------------

    def _fill_to(self, size: int) -> None:
        """Load objects (as ``omsh import`` does) until the store holds *size*."""
        have = self.filled + self.written
        if have >= size:
            return
        self.say(f"filling to {size:,} objects")
        items = [
            Item(f"/fill/d{n % 1000:03d}/o{n:07d}", str(self.source), {"n": n})
            for n in range(self.filled, self.filled + size - have)
        ]
        containers = sorted({item.path.rsplit("/", 1)[0] for item in items})
        loaded = load(self.store, ADMIN_USER, Plan(containers, items))
        self.filled += loaded.objects
        self.say(f"filled at {loaded.rate:,.0f} objects/s")

    # -- the two write paths ---------------------------------------------------

    def _timed(self, path: str) -> float:
        """Objects/s of one run of ``writes`` 4 KiB writes along *path*."""
        data = self.source.read_bytes()
        first = self.written
        self.written += self.settings.writes
        names = [f"/w/{path}/o{n:07d}" for n in range(first, self.written)]
        folder = f"/w/{path}"

        def stored(root: StoreRoot) -> int:
            return len(StoreView.for_user(root, ADMIN_USER).make_container(folder, parents=True))

        before = self.store.run(stored)
        started = time.perf_counter()
        if path == "group":
            asyncio.run(self._group(names, data))
        else:
            self._put(names, data)
        rate = len(names) / (time.perf_counter() - started)
        if self.store.read(stored) != before + len(names):
            raise BenchError(f"{path}: not every write was stored")
        return rate

    async def _group(self, names: list[str], data: bytes) -> None:
        loop = asyncio.get_running_loop()
        group = GroupCommit(self.store, lambda work: loop.run_in_executor(self.pool, work))
        directory = self.store.temporary_directory()
        queue = iter(names)

        async def client() -> None:
            for name in queue:
                with group.coming():
                    staging = await loop.run_in_executor(
                        self.pool, lambda: Staging.create(directory, self.pool)
                    )
                    await staging.feed(data)
                    upload = await staging.finish()
                try:
                    await group.run(_storing(name, upload))
                finally:
                    upload.discard()

        await asyncio.gather(*(client() for _ in range(self.settings.clients)))

    def _put(self, names: list[str], data: bytes) -> None:
        group = blocking_group(self.store)
        directory = self.store.temporary_directory()
        queue = iter(names)
        lock = threading.Lock()

        def client() -> None:
            while True:
                with lock:
                    name = next(queue, None)
                if name is None:
                    return
                upload = stage_chunks([data], directory)
                try:
                    group.run(_storing(name, upload))
                finally:
                    upload.discard()

        threads = [threading.Thread(target=client) for _ in range(self.settings.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # -- cases ---------------------------------------------------------------

    def _scaling(self, result: CaseResult, path: str) -> None:
        small, large = self.settings.small, self.settings.large
        if (path, large) not in self.rates:
            raise BenchError("not measured")
        result.omsh = self.rates[path, large]
        result.reference = self.rates[path, small]
        result.notes.append(
            f"'omsh' is objects/s at {large:,} objects, 'reference' at {small:,}; "
            f"best {max(result.omsh):,.0f} and {max(result.reference):,.0f}/s (goal ≥ 1,000)"
        )

    def case_group(self, result: CaseResult) -> None:
        self._scaling(result, "group")

    def case_put(self, result: CaseResult) -> None:
        self._scaling(result, "put")

    def case_import(self, result: CaseResult) -> None:
        count = self.settings.imported
        folder = self.workdir / "import"
        folder.mkdir(exist_ok=True)
        data = os.urandom(SMALL_OBJECT)
        for n in range(count):
            (folder / f"f{n:06d}").write_bytes(data[:-8] + n.to_bytes(8, "big"))
        items = [
            Item(f"/import/f{n:06d}", str(folder / f"f{n:06d}"), {"n": n}) for n in range(count)
        ]
        for run in range(self.settings.runs):
            store = Store.open(data_dir=str(self.workdir / f"import-{run}"))
            try:
                store.bootstrap(admin_password="bench")
                loaded = load(store, ADMIN_USER, Plan(["/import"], items))
                if store.read(_count_of("/import")) != count:
                    raise BenchError("the import did not store every object")
            finally:
                store.close()
            result.omsh.append(loaded.rate)
            result.reference.append(_sqlite_rate(self.workdir / f"sqlite-{run}.db", items))
        result.notes.append(
            "'omsh' is omsh import's objects/s, 'reference' SQLite's rows/s "
            "(the issue's goal: ≥ 10,000/s; SQLite 167,000/s); omsh import's own batches"
        )

    def head(self, context: dict[str, Any]) -> list[str]:
        return [
            "4 KiB writes in process on FileStorage, each path timed at two store sizes;"
            f" {os.cpu_count()} cores (shared)",
        ]


def _count_of(container: str) -> Any:
    """A read that counts *container*'s children."""

    def count(root: StoreRoot) -> int:
        return len(StoreView.for_user(root, ADMIN_USER).enter(container))

    return count


def _storing(name: str, upload: Any) -> Any:
    def store(root: StoreRoot) -> None:
        StoreView.for_user(root, ADMIN_USER).store_data(name, upload)

    return store


def _sqlite_rate(path: Any, items: list[Item]) -> float:
    """Rows/s of SQLite loading *items* (content read from their files) in one transaction."""
    started = time.perf_counter()
    rows = []
    for item in items:
        assert item.content is not None
        with open(item.content, "rb") as source:
            content = source.read()
        rows.append(
            (
                item.path,
                len(content),
                hashlib.sha256(content).hexdigest(),
                json.dumps(dict(item.metadata)),
                content,
            )
        )
    connection = sqlite3.connect(path)
    try:
        connection.execute(
            "CREATE TABLE objects (path TEXT PRIMARY KEY, size INTEGER, sha256 TEXT,"
            " metadata TEXT, content BLOB)"
        )
        with connection:
            connection.executemany("INSERT INTO objects VALUES (?, ?, ?, ?, ?)", rows)
    finally:
        connection.close()
    return len(items) / (time.perf_counter() - started)
