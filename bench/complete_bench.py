"""The completion cases: Tab in a container of 100,000 children vs listing it.

Issue 11's benchmark: completing must not cost a listing.  One store in process,
filled through the store API in large transactions with empty objects (as
the query group fills its own, :data:`bench.query_bench.EMPTY`)::

    /complete/big/fNNNNNN     CHILDREN empty objects, three with a metadata key

Both sides run as admin in a read transaction of their own, warm, runs
interleaved; the figure is the ratio of the medians, completion / listing:

``complete path``  :meth:`ShellCompleter.get_completions` for ``ls BIG/fPREFIX``
                   where the prefix names ten children (a B-tree range from
                   just before the prefix, stopped at the first name past it);
``complete keys``  the same for ``find BIG --meta `` (metadata keys from the
                   catalog, :meth:`StoreView.metadata_keys`, no tree walk);
reference          :meth:`StoreView.children` of BIG fully iterated: the
                   listing ``ls`` reads (without its rendering, so the
                   reference is the cheaper side).
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from bench.harness import BenchError, CaseResult, CaseSpec, Target, interleave
from bench.query_bench import EMPTY, _milliseconds
from bench.runner import Group, option, positive
from omsh.commands.base import ShellSession
from omsh.commands.registry import default_registry
from omsh.ssh.completer import ShellCompleter
from omsh.store.database import ADMIN_USER, Store
from omsh.store.model import StoreRoot
from omsh.store.view import StoreView

BIG = "/complete/big"
TARGET = Target("<=", 0.1)
#: Children that carry a metadata key, by index (spread over the container).
TAGGED = (7, 5_000, 9_999)
#: Children stored per transaction while filling.
BATCH = 20_000

CASES = (
    CaseSpec(
        "path",
        "complete path",
        "Tab on `ls BIG/{prefix}` ({matches} of {children} children match) / full listing",
        "ms",
        TARGET,
    ),
    CaseSpec(
        "keys",
        "complete keys",
        "Tab on `find BIG --meta ` (keys from the catalog) / full listing of {children}",
        "ms",
        TARGET,
    ),
)


@dataclass(frozen=True)
class Settings:
    runs: int = option(20, positive, "timed runs of each side (20)", quick=5)
    children: int = option(100_000, positive, "children of the container (100,000)", quick=10_000)
    cases: tuple[str, ...] = tuple(case.key for case in CASES)

    @property
    def prefix(self) -> str:
        """A name prefix shared by ten children (the last digit left open)."""
        return name_of(self.children // 2)[:-1]

    @property
    def placeholders(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "matches": 10, "children": self.children}


def name_of(index: int) -> str:
    return f"f{index:06d}"


class CompleteBench(Group):
    """One store in process; completion and listing of the same big container."""

    description = "Tab completion in a container of 100,000 children vs listing it"
    quick_help = "10,000 children, 5 runs"
    settings_type = Settings
    case_specs = CASES
    store: Store | None = None
    completer: ShellCompleter | None = None

    def setup(self) -> None:
        children = self.settings.children
        self.store = store = Store.open(data_dir=str(self.workdir / "var"))
        store.bootstrap(admin_password=secrets.token_urlsafe(16))
        tagged = {index % children: f"key{number}" for number, index in enumerate(TAGGED)}
        store.run(
            lambda root: StoreView.for_user(root, ADMIN_USER).make_container(BIG, parents=True)
        )
        for start in range(0, children, BATCH):
            batch = range(start, min(start + BATCH, children))

            def fill(root: StoreRoot, batch: range = batch) -> None:
                view = StoreView.for_user(root, ADMIN_USER)
                for index in batch:
                    metadata = {tagged[index]: index} if index in tagged else None
                    view.store_data(f"{BIG}/{name_of(index)}", EMPTY, metadata=metadata)

            store.run(fill)
            self.say(f"{batch.stop:,} of {children:,} children stored")
        session = ShellSession(user=ADMIN_USER, cwd="/")
        self.completer = ShellCompleter(store, default_registry(), session)

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close()

    def _complete(self, line: str) -> list[str]:
        assert self.completer is not None
        event = CompleteEvent(completion_requested=True)
        return [c.text for c in self.completer.get_completions(Document(line), event)]

    def _listing(self) -> int:
        assert self.store is not None

        def count(root: StoreRoot) -> int:
            view = StoreView.for_user(root, ADMIN_USER)
            return sum(1 for _ in view.children(view.resolve(BIG), BIG))

        return self.store.read(count)

    def _compare(self, result: CaseResult, line: str, expected: int) -> None:
        """Time completing *line* (which must offer *expected* words) against the listing."""
        offered = self._complete(line)  # also the warm-up
        if len(offered) != expected:
            raise BenchError(f"{line!r} offered {len(offered)} completions, not {expected}")
        listed = self._listing()
        if listed != self.settings.children:
            raise BenchError(f"the listing has {listed} children, not {self.settings.children}")
        completing, listing = interleave(
            self.settings.runs,
            _milliseconds(lambda: self._complete(line)),
            _milliseconds(self._listing),
        )
        result.omsh, result.reference = completing, listing
        result.notes.append("'omsh' is the completion, 'reference' the full listing")

    def case_path(self, result: CaseResult) -> None:
        self._compare(result, f"ls {BIG}/{self.settings.prefix}", 10)

    def case_keys(self, result: CaseResult) -> None:
        self._compare(result, f"find {BIG} --meta ", len(TAGGED))

    def head(self, context: dict[str, Any]) -> list[str]:
        settings = self.settings
        return [
            f"Tab completion in {BIG} ({settings.children} children) against listing it,"
            f" in process as admin, medians of {settings.runs} interleaved runs",
        ]

    def record(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self.settings), "prefix": self.settings.prefix}
