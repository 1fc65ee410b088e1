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
``ls --at``   ``ls --at TID /at/big`` as of its last child, against ``ls /at/big``.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import Any

from bench.harness import BenchError, CaseResult, CaseSpec, Target, interleave
from bench.query_bench import EMPTY, _milliseconds
from bench.runner import Group, option, positive
from omsh.commands.base import ShellSession
from omsh.commands.output import BufferOutput
from omsh.commands.registry import default_registry
from omsh.commands.runtime import Shell
from omsh.store.database import ADMIN_USER, Store
from omsh.store.model import StoreRoot
from omsh.store.view import StoreView

OBJ = "/at/obj"
BIG = "/at/big"
TARGET = Target("<=", 2)

CASES = (
    CaseSpec("cat", "cat --at", "`cat --at` {depth} transactions back / `cat` now", "ms", TARGET),
    CaseSpec("ls", "ls --at", "`ls --at` of {children} children / `ls` now", "ms", TARGET),
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


def admin_shell(store: Store) -> Shell:
    """A shell on *store* as ``admin`` in process, its output to buffers (set per line)."""
    session = ShellSession(user=ADMIN_USER, cwd="/")
    return Shell(store, default_registry(), session, BufferOutput(), BufferOutput(), io.BytesIO())


class AtBench(Group):
    """One store in process; the same reads as of a past transaction and now."""

    description = "cat --at and ls --at (reads through a historical connection) vs now"
    quick_help = "100 transactions back, 1,000 children, 5 runs"
    settings_type = Settings
    case_specs = CASES
    store: Store | None = None
    content_tid = ""
    listing_tid = ""

    def setup(self) -> None:
        settings = self.settings
        self.store = store = Store.open(data_dir=str(self.workdir / "var"))
        store.bootstrap(admin_password=secrets.token_urlsafe(16))
        self.shell = admin_shell(store)
        self._run(f"mkdir -p {BIG}")
        self.content = secrets.token_bytes(settings.size)
        self.shell.stdin = io.BytesIO(self.content)
        self._run(f"put {OBJ}")
        self.content_tid = store.db.lastTransaction().hex()

        def fill(root: StoreRoot) -> None:
            view = StoreView.for_user(root, ADMIN_USER)
            for index in range(settings.children):
                view.store_data(f"{BIG}/f{index:06d}", EMPTY)

        store.run(fill)
        self.listing_tid = store.db.lastTransaction().hex()
        for number in range(settings.depth):
            self._run(f"set-meta {OBJ} revision={number}")
        self.say(f"{settings.depth:,} transactions after the object was stored")

    def _run(self, line: str) -> bytes:
        """Run *line* as admin; its output (an error is a :class:`BenchError`)."""
        self.shell.out = out = BufferOutput()
        self.shell.err = err = BufferOutput()
        if self.shell.execute(line) != 0:
            raise BenchError(f"{line!r} failed: {err.text.strip()}")
        return bytes(out.data)

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close()

    def _compare(self, result: CaseResult, past: str, now: str, check: Any) -> None:
        for line in (past, now):  # also the warm-up
            if not check(self._run(line)):
                raise BenchError(f"{line!r} did not read what was stored")
        then, current = interleave(
            self.settings.runs,
            _milliseconds(lambda: self._run(past)),
            _milliseconds(lambda: self._run(now)),
        )
        result.omsh, result.reference = then, current
        result.notes.append("'omsh' is the read as of then, 'reference' the same read now")

    def case_cat(self, result: CaseResult) -> None:
        past = f"cat --at {self.content_tid} {OBJ}"
        self._compare(result, past, f"cat {OBJ}", lambda data: data == self.content)

    def case_ls(self, result: CaseResult) -> None:
        children = self.settings.children
        past = f"ls --at {self.listing_tid} {BIG}"
        self._compare(result, past, f"ls {BIG}", lambda data: data.count(b"\n") == children)

    def head(self, context: dict[str, Any]) -> list[str]:
        settings = self.settings
        return [
            f"reads as of a past transaction against the same reads now, in process as admin"
            f" on FileStorage, medians of {settings.runs} interleaved runs",
        ]
