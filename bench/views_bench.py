"""The ``views`` cases: listing a live view against running its query (issue 13).

One FileStorage store in process, filled through the store API::

    /home/alice/v/dNN/fNNNNNN   MATCHES objects with kind=match, then as many
                                with kind=other, in 100 containers

Both sides run as a shell command line (:class:`bench.inprocess.ShellGroup`),
warm, interleaved; the figure is the ratio of the medians, view / query:

``admin``  ``ls /.views/v`` against ``query "kind = 'match'" --in /home/alice/v``
           as admin (who sees everything: no object is checked);
``user``   the same as alice, the owner of the objects, whose rights are
           checked on every match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.harness import CaseResult, CaseSpec, Target
from bench.inprocess import ShellGroup
from bench.query_bench import EMPTY
from bench.runner import option, positive
from omsh.commands.runtime import Shell
from omsh.store.model import StoreRoot
from omsh.store.view import StoreView

SCOPE = "/home/alice/v"
EXPRESSION = "kind = 'match'"
TARGET = Target("<=", 1.2)

CASES = (
    CaseSpec("admin", "view, admin", "`ls /.views/v` / `query` of {matches} matches", "ms", TARGET),
    CaseSpec("user", "view, owner", "the same as the objects' owner", "ms", TARGET),
)


@dataclass(frozen=True)
class Settings:
    runs: int = option(20, positive, "timed runs of each side (20)", quick=5)
    matches: int = option(10_000, positive, "objects the view matches (10,000)", quick=1_000)
    cases: tuple[str, ...] = tuple(case.key for case in CASES)

    @property
    def placeholders(self) -> dict[str, Any]:
        return {"matches": self.matches}


class ViewsBench(ShellGroup):
    """A view of MATCHES objects listed against the same query."""

    description = "ls /.views/NAME of 10,000 matches vs query of the same"
    quick_help = "1,000 matches, 5 runs"
    settings_type = Settings
    case_specs = CASES

    def setup(self) -> None:
        matches = self.settings.matches
        store = self.open_store()
        self.run_line("user add alice")

        def fill(root: StoreRoot) -> None:
            view = StoreView.for_user(root, "alice")
            for container in range(100):
                view.make_container(f"{SCOPE}/d{container:02d}", parents=True)
            for index in range(2 * matches):
                kind = "match" if index < matches else "other"
                path = f"{SCOPE}/d{index % 100:02d}/f{index:06d}"
                view.store_data(path, EMPTY, metadata={"kind": kind})

        store.run(fill)
        self.alice = self.shell_for("alice")
        self.run_line(f'view add v "{EXPRESSION}" --in {SCOPE} --shared')
        self.say(f"{2 * matches:,} objects, {matches:,} matching")

    def _compare(self, result: CaseResult, shell: Shell) -> None:
        matches = self.settings.matches
        query = f'query "{EXPRESSION}" --in {SCOPE}'
        note = "'omsh' is ls of the view, 'reference' the query it saves"
        self.compare(
            result,
            "ls /.views/v",
            query,
            lambda data: data.count(b"\n") == matches,
            note,
            shell,
        )

    def case_admin(self, result: CaseResult) -> None:
        self._compare(result, self.shell)

    def case_user(self, result: CaseResult) -> None:
        self._compare(result, self.alice)

    def head(self, context: dict[str, Any]) -> list[str]:
        return [
            f"a live view against its query, in process on FileStorage, medians of"
            f" {self.settings.runs} interleaved runs",
        ]
