"""The bulk case: ``set-meta --query`` on every match against SQLite's ``UPDATE … WHERE``.

The same rows on both sides, built in process (no SSH), seeded nowhere (every
row is the same but its path):

* omsh: a FileStorage store filled through :meth:`StoreView.store_data`
  as ``admin``, :data:`BATCH` empty data objects per transaction, 1,000 per
  container (``/bulk/c0000/o0000000``…), each with ``batch=1`` (an int);
* SQLite: a file database, one row per object (``path``, ``batch``,
  ``stamp``) with an index on ``batch`` and on ``stamp``, as omsh's catalog
  indexes every key.

Each run sets a new value on every row (``stamp = RUN``), so every object
really changes on both sides:

* omsh: the shell command line ``set-meta --query 'batch = 1' stamp=RUN``
  through :class:`omsh.commands.runtime.Shell` as ``admin`` (parsing, the
  query, the rights check, the change, the catalog, the commit, the count);
* SQLite: ``UPDATE objects SET stamp = ? WHERE batch = 1`` and its commit,
  with SQLite's default durability (rollback journal, ``synchronous=FULL``),
  as FileStorage syncs its commit.

Runs are interleaved after an untimed warm-up of each side; the figure is
the ratio of the medians, omsh over SQLite (target ≤ 5).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import BenchError, CaseResult, CaseSpec, Target, interleave
from bench.inprocess import ShellGroup
from bench.query_bench import EMPTY, _milliseconds
from bench.runner import option, positive
from omsh.store.database import ADMIN_USER
from omsh.store.model import StoreRoot
from omsh.store.view import StoreView

#: Objects stored per transaction while building.
BATCH = 10_000
PER_CONTAINER = 1_000
TARGET = Target("<=", 5)


@dataclass(frozen=True)
class Settings:
    """How many objects the query matches, and how many timed runs of each side."""

    objects: int = option(100_000, positive, "objects matched and changed (100,000)", quick=10_000)
    runs: int = option(5, positive, "timed runs of each side (5)", quick=3)
    cases: tuple[str, ...] = ("set_meta",)

    @property
    def placeholders(self) -> dict[str, Any]:
        return {"objects": f"{self.objects:,}"}


CASES = (
    CaseSpec(
        "set_meta",
        "set-meta --query",
        "`set-meta --query 'batch = 1' stamp=N` on {objects} objects / SQLite UPDATE … WHERE",
        "ms",
        TARGET,
    ),
)


def _path(index: int) -> str:
    return f"/bulk/c{index // PER_CONTAINER:04d}/o{index:07d}"


class BulkBench(ShellGroup):
    """One store and one SQLite database in process, the same rows changed on both."""

    settings_type = Settings
    case_specs = CASES
    description = "set-meta --query on 100,000 objects vs SQLite's UPDATE … WHERE"
    quick_help = "10,000 objects, 3 runs"

    def __init__(self, workdir: Path, settings: Settings, say: Callable[[str], None]) -> None:
        super().__init__(workdir, settings, say)
        self.sqlite: sqlite3.Connection | None = None
        #: Seconds the omsh store took to build, and the last value each run set.
        self.build_seconds = 0.0
        self.stamp = 0

    @staticmethod
    def versions() -> dict[str, Any]:
        return {"sqlite": sqlite3.sqlite_version}

    def setup(self) -> None:
        objects = self.settings.objects
        self.say(f"storing {objects:,} objects in omsh ({BATCH:,} per transaction)")
        started = time.perf_counter()
        store = self.open_store()
        for start in range(0, objects, BATCH):

            def fill(root: StoreRoot, start: int = start) -> None:
                view = StoreView.for_user(root, ADMIN_USER)
                for index in range(start, min(start + BATCH, objects)):
                    path = _path(index)
                    if index % PER_CONTAINER == 0:
                        view.make_container(path.rpartition("/")[0], parents=True)
                    view.store_data(path, EMPTY, metadata={"batch": 1})

            store.run(fill)
            store.db.cacheMinimize()
        self.build_seconds = time.perf_counter() - started
        self.say(f"stored in {self.build_seconds:.1f} s; loading SQLite")
        self.sqlite = db = sqlite3.connect(self.workdir / "reference.sqlite", isolation_level=None)
        db.execute("CREATE TABLE objects (path TEXT NOT NULL, batch INTEGER, stamp INTEGER)")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO objects (path, batch) VALUES (?, 1)",
            ((_path(index),) for index in range(objects)),
        )
        db.execute("COMMIT")
        db.execute("CREATE INDEX objects_batch ON objects (batch)")
        db.execute("CREATE INDEX objects_stamp ON objects (stamp)")
        db.execute("ANALYZE")

    def teardown(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
        super().teardown()

    def _omsh(self) -> None:
        self.stamp += 1
        line = f"set-meta --query 'batch = 1' stamp={self.stamp}"
        printed = self.run_line(line).decode()
        expected = f"set 1 key on {self.settings.objects:,} objects\n"
        if printed != expected:
            raise BenchError(f"{line!r} printed {printed!r}, not {expected!r}")

    def _sqlite(self) -> None:
        assert self.sqlite is not None, "not set up"
        self.stamp += 1
        db = self.sqlite
        db.execute("BEGIN")
        changed = db.execute("UPDATE objects SET stamp = ? WHERE batch = 1", (self.stamp,))
        db.execute("COMMIT")
        if changed.rowcount != self.settings.objects:
            raise BenchError(f"SQLite changed {changed.rowcount:,} rows")

    def case_set_meta(self, result: CaseResult) -> None:
        self._omsh()  # the warm-ups, which also check both sides change every row
        self._sqlite()
        result.omsh, result.reference = interleave(
            self.settings.runs, _milliseconds(self._omsh), _milliseconds(self._sqlite)
        )
        result.notes.append(f"store built in process in {self.build_seconds:.1f} s")

    def head(self, context: dict[str, Any]) -> list[str]:
        settings = self.settings
        return [
            f"bulk metadata edit of {settings.objects:,} objects in one transaction, in process"
            f" as admin on FileStorage, vs SQLite {sqlite3.sqlite_version} UPDATE … WHERE with"
            f" an index on the key; medians of {settings.runs} interleaved runs",
        ]
