"""Case groups that time shell command lines in process, against each other.

:class:`ShellGroup` opens one FileStorage store in the group's folder, runs
command lines through :class:`omsh.commands.runtime.Shell` (parsing, the
view, output to a buffer) as a given user, and times two lines against each
other, warm and interleaved: the figure is the ratio of the medians.  Used
by the ``at`` and ``views`` groups.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from typing import Any

from bench.harness import BenchError, CaseResult, interleave
from bench.query_bench import _milliseconds
from bench.runner import Group
from omsh.commands.base import ShellSession
from omsh.commands.output import BufferOutput
from omsh.commands.registry import default_registry
from omsh.commands.runtime import Shell
from omsh.store.database import ADMIN_USER, Store


class ShellGroup(Group):
    """One store in process and a shell on it; subclasses fill it and compare lines."""

    store: Store | None = None

    def open_store(self) -> Store:
        self.store = store = Store.open(data_dir=str(self.workdir / "var"))
        store.bootstrap(admin_password=secrets.token_urlsafe(16))
        self.registry = default_registry()
        self.shell = self.shell_for(ADMIN_USER)
        return store

    def shell_for(self, user: str) -> Shell:
        assert self.store is not None
        session = ShellSession(user=user, cwd="/")
        return Shell(
            self.store, self.registry, session, BufferOutput(), BufferOutput(), io.BytesIO()
        )

    def run_line(self, line: str, shell: Shell | None = None) -> bytes:
        """Run *line* (as admin unless *shell* is given); its output, or a :class:`BenchError`."""
        shell = shell or self.shell
        shell.out = out = BufferOutput()
        shell.err = err = BufferOutput()
        if shell.execute(line) != 0:
            raise BenchError(f"{line!r} failed: {err.text.strip()}")
        return bytes(out.data)

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close()

    def compare(
        self,
        result: CaseResult,
        measured: str,
        reference: str,
        check: Callable[[bytes], Any],
        note: str,
        shell: Shell | None = None,
    ) -> None:
        """Time *measured* (omsh's side) against *reference*, after checking both answer."""
        for line in (measured, reference):  # also the warm-up
            if not check(self.run_line(line, shell)):
                raise BenchError(f"{line!r} did not answer what was stored")
        ours, theirs = interleave(
            self.settings.runs,
            _milliseconds(lambda: self.run_line(measured, shell)),
            _milliseconds(lambda: self.run_line(reference, shell)),
        )
        result.omsh, result.reference = ours, theirs
        result.notes.append(note)
