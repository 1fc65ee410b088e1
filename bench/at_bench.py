"""The ``--at`` cases: reading the past against reading now (issue 12).

One FileStorage store in process, filled through the store API::

    /at/obj           CONTENT bytes, then its metadata changed in DEPTH
                      transactions of its own (FileStorage walks back
                      through every one of them to read the first state)
    /at/big/fNNNNNN   CHILDREN empty objects

Both sides run the shell command line as admin through
:class:`omsh.commands.runtime.Shell` (parsing, the view, output to a
buffer), warm, runs interleaved; the figure is the ratio of the medians,
past / now:

``cat --at``  ``cat --at TID /at/obj``, TID the transaction that stored it,
              DEPTH transactions back, against ``cat /at/obj``;
``ls --at``   ``ls --at TID /at/big`` as of its last child, against ``ls /at/big``;
``snapshot``  ``ls /.snapshots/s/at/big`` (a snapshot taken after the last
              child), against ``ls /at/big``.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import Any

from bench.harness import CaseResult, CaseSpec, Target
from bench.inprocess import ShellGroup
from bench.query_bench import EMPTY
from bench.runner import option, positive
from omsh.store.database import ADMIN_USER
from omsh.store.model import StoreRoot
from omsh.store.view import StoreView

OBJ = "/at/obj"
BIG = "/at/big"
TARGET = Target("<=", 2)

CASES = (
    CaseSpec("cat", "cat --at", "`cat --at` {depth} transactions back / `cat` now", "ms", TARGET),
    CaseSpec("ls", "ls --at", "`ls --at` of {children} children / `ls` now", "ms", TARGET),
    CaseSpec(
        "snapshot",
        "ls /.snapshots",
        "`ls /.snapshots/s/…` of {children} children / `ls` now",
        "ms",
        TARGET,
    ),
)


@dataclass(frozen=True)
class Settings:
    runs: int = option(20, positive, "timed runs of each side (20)", quick=5)
    depth: int = option(1_000, positive, "transactions after the one read (1,000)", quick=100)
    children: int = option(10_000, positive, "children of the container (10,000)", quick=1_000)
    size: int = option(1 << 20, positive, "bytes of the object read (1 MiB)", quick=1 << 16)
    cases: tuple[str, ...] = tuple(case.key for case in CASES)

    @property
    def placeholders(self) -> dict[str, Any]:
        return {"depth": self.depth, "children": self.children}


class AtBench(ShellGroup):
    """One store in process; the same reads as of a past transaction and now."""

    description = "cat --at and ls --at (reads through a historical connection) vs now"
    quick_help = "100 transactions back, 1,000 children, 5 runs"
    settings_type = Settings
    case_specs = CASES
    content_tid = ""
    listing_tid = ""

    def setup(self) -> None:
        settings = self.settings
        store = self.open_store()
        self.run_line(f"mkdir -p {BIG}")
        self.content = secrets.token_bytes(settings.size)
        self.shell.stdin = io.BytesIO(self.content)
        self.run_line(f"put {OBJ}")
        self.content_tid = store.db.lastTransaction().hex()

        def fill(root: StoreRoot) -> None:
            view = StoreView.for_user(root, ADMIN_USER)
            for index in range(settings.children):
                view.store_data(f"{BIG}/f{index:06d}", EMPTY)

        store.run(fill)
        self.listing_tid = store.db.lastTransaction().hex()
        self.run_line("snapshot create s")
        for number in range(settings.depth):
            self.run_line(f"set-meta {OBJ} revision={number}")
        self.say(f"{settings.depth:,} transactions after the object was stored")

    def _compare(self, result: CaseResult, past: str, now: str, check: Any) -> None:
        note = "'omsh' is the read as of then, 'reference' the same read now"
        self.compare(result, past, now, check, note)

    def case_cat(self, result: CaseResult) -> None:
        past = f"cat --at {self.content_tid} {OBJ}"
        self._compare(result, past, f"cat {OBJ}", lambda data: data == self.content)

    def case_ls(self, result: CaseResult) -> None:
        children = self.settings.children
        past = f"ls --at {self.listing_tid} {BIG}"
        self._compare(result, past, f"ls {BIG}", lambda data: data.count(b"\n") == children)

    def case_snapshot(self, result: CaseResult) -> None:
        children = self.settings.children
        past = f"ls /.snapshots/s{BIG}"
        self._compare(result, past, f"ls {BIG}", lambda data: data.count(b"\n") == children)

    def head(self, context: dict[str, Any]) -> list[str]:
        settings = self.settings
        return [
            f"reads as of a past transaction against the same reads now, in process as admin"
            f" on FileStorage, medians of {settings.runs} interleaved runs",
        ]
