"""Checking and repairing a whole store: the ``check`` command, ``omsh check`` and ``omsh reindex``.

One implementation serves the shell and the offline console script:
:func:`check_store` and :func:`reindex_store` take a *runner* that runs work on a
:class:`StoreView` in a transaction of its own.  In the shell that is the
session's :meth:`Invocation.view` (so only members of ``admins`` get past
:meth:`StoreView.require_admin`); offline it is :func:`offline_runner`, an
administrator's view of a store opened while the server is stopped.

``check`` finds two kinds of problems:

* content: every data object's committed blob is re-hashed and compared
  with its recorded size and sha256 (as ``verify -r /`` does), and a missing
  blob file is reported rather than crashing;
* catalog: :func:`~omsh.store.index.catalog_problems` compares the metadata
  indexes with the tree.  With ``--repair`` the catalog is rebuilt from the
  tree in the same transaction that found the problems, so nothing can
  slip in between.  Content cannot be repaired: a damaged blob stays a
  problem (exit status 1).

* snapshots (given the store): each named snapshot's transaction is not
  later than the storage's last one and its tree can still be read
  (:func:`~omsh.store.retention.check_snapshots`): ``SNAPSHOT`` problems.

It also warns, in one line, about a root whose inherited ACL lets every
account (``AUTHENTICATED@``) or everyone (``EVERYONE@``, ``ANONYMOUS@``)
read: fresh stores are private, stores made before keep their root ACL; and
about a stored object named ``.snapshots`` or ``.views`` at the root, names
now reserved.
A warning is advice, not damage: it does not change the exit status.

``pack --keep AGE`` (administrators) removes history older than AGE while
the server serves, as ``omsh pack`` does offline: both run
:mod:`omsh.store.retention`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO, TypeVar

from omsh.commands.arguments import arg
from omsh.commands.base import Command, Invocation
from omsh.commands.content import rehash, stored_hashes
from omsh.commands.formatting import printable
from omsh.commands.progress import Progress, following, wants_progress
from omsh.store.access import ADMIN_GROUP, Principal
from omsh.store.acl import open_root_entries
from omsh.store.index import catalog_problems, rebuild_catalog
from omsh.store.metadata import format_timestamp
from omsh.store.retention import check_snapshots, pack_store, plan_pack
from omsh.store.view import StoreView

if TYPE_CHECKING:
    from omsh.store.database import Store

T = TypeVar("T")

#: The principal offline maintenance runs as: a member of ``admins``.
OFFLINE_CHECKER = "omsh-check"


class ViewRunner(Protocol):
    """Runs *work* on a view in a transaction; commits only with *write*."""

    def __call__(self, work: Callable[[StoreView], T], *, write: bool = False) -> T: ...


def offline_runner(store: Store, principal: str = OFFLINE_CHECKER) -> ViewRunner:
    """A runner for the console script: an administrator's view of *store*."""
    checker = Principal(principal, frozenset({ADMIN_GROUP}))

    def run(work: Callable[[StoreView], T], *, write: bool = False) -> T:
        return store.run(lambda root: work(StoreView(root, checker)), write=write)

    return run


#: The kind of a :class:`Finding` that is advice, not a problem.
WARNING = "WARNING"


@dataclass(frozen=True)
class Finding:
    """One problem (``FAILED``/``MISSING`` content, an ``INDEX`` disagreement, a
    ``SNAPSHOT`` no longer readable) or a ``WARNING``."""

    kind: str
    message: str
    repaired: bool = False

    @property
    def is_problem(self) -> bool:
        return self.kind != WARNING

    def __str__(self) -> str:
        return f"{self.kind} {self.message}" + (" (repaired)" if self.repaired else "")

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "repaired": self.repaired}


@dataclass
class CheckReport:
    """What a check looked at and what it found."""

    #: Data objects whose content was re-hashed.
    objects: int = 0
    #: Objects indexed again by a repair (0 when nothing was rebuilt).
    reindexed: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def unrepaired(self) -> int:
        return sum(f.is_problem and not f.repaired for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(not finding.is_problem for finding in self.findings)

    @property
    def exit_status(self) -> int:
        """0 when the store is sound (or was made so), else 1."""
        return 1 if self.unrepaired else 0

    def summary(self) -> str:
        problems = self.unrepaired
        text = f"checked {self.objects} objects, {problems} problem{'' if problems == 1 else 's'}"
        if self.reindexed:
            repaired = len(self.findings) - self.warnings - problems
            text += f", {repaired} repaired (catalog rebuilt: {self.reindexed} objects indexed)"
        if self.warnings:
            text += f", {self.warnings} warning{'' if self.warnings == 1 else 's'}"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "problems": [finding.as_json() for finding in self.findings],
            "unrepaired": self.unrepaired,
            "warnings": self.warnings,
            "reindexed": self.reindexed,
        }


#: ``progress(done, total)``: how far a long step got (objects or bytes).
Progressed = Callable[[int, int], None]


def _check_catalog(
    view: StoreView, repair: bool, indexing: Progressed | None = None
) -> tuple[list[str], int]:
    """The catalog's problems and, with *repair*, how many objects a rebuild indexed."""
    view.require_admin()
    root = view.root
    problems = catalog_problems(root.catalog, root.tree)
    rebuilt = rebuild_catalog(root, indexing) if problems and repair else 0
    return problems, rebuilt


def check_store(
    run: ViewRunner,
    *,
    store: Store | None = None,
    repair: bool = False,
    on_finding: Callable[[Finding], None] | None = None,
    indexing: Progressed | None = None,
    hashing: Progressed | None = None,
) -> CheckReport:
    """Check the catalog (repairing it with *repair*), the snapshots of *store*
    (when given), then every object's content.

    *on_finding* sees each problem as soon as it is known, so a long check
    reports as it goes.  *indexing* follows a repair (objects indexed),
    *hashing* the re-hashing (bytes): progress bars, and Ctrl-C checks that
    may raise (a repair cut short is rolled back whole).
    """
    report = CheckReport()

    def found(finding: Finding) -> None:
        report.findings.append(finding)
        if on_finding is not None:
            on_finding(finding)

    problems, report.reindexed = run(
        lambda view: _check_catalog(view, repair, indexing), write=repair
    )
    open_to = run(lambda view: [ace.identifier for ace in open_root_entries(view.root.tree)])
    if open_to:
        found(Finding(WARNING, open_root_warning(open_to)))
    for problem in problems:
        found(Finding("INDEX", problem, repaired=report.reindexed > 0))
    if store is not None:
        snapshots = check_snapshots(store)
        for warning in snapshots.warnings:
            found(Finding(WARNING, warning))
        for problem in snapshots.problems:
            found(Finding("SNAPSHOT", problem))

    stored = run(lambda view: stored_hashes(view, "/", "/", True))
    report.objects = len(stored)
    total, done = sum(item.size for item in stored), 0

    def hashed(size: int) -> None:
        nonlocal done
        done += size
        if hashing is not None:
            hashing(done, total)

    for item in stored:
        size, digest = rehash(item, hashed)
        if digest is None:
            found(Finding("MISSING", f"{item.path}: content file is missing or unreadable"))
        elif (size, digest) != (item.size, item.sha256):
            found(Finding("FAILED", f"{item.path}: sha256 {digest} != stored {item.sha256}"))
    return report


def open_root_warning(identifiers: list[str]) -> str:
    """The one line ``check`` prints about a root readable by *identifiers*, with the fix."""
    revokes = "; ".join(f"acl revoke / {identifier}" for identifier in identifiers)
    return (
        f"/ is readable by {', '.join(identifiers)}, inherited by every object: "
        f"to make the store private: {revokes}"
    )


def reindex_store(run: ViewRunner, progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild the catalog from the tree in one transaction; returns the objects indexed."""

    def rebuild(view: StoreView) -> int:
        view.require_admin()
        return rebuild_catalog(view.root, progress)

    return run(rebuild, write=True)


class ProgressLine:
    """``done/total (percent) rate`` on *stream*: redrawn in place on a terminal.

    On a terminal the line is rewritten (``\\r``) at most every
    *tty_interval* seconds; into a pipe or a log, a full line is written
    every *log_interval* seconds, so a log is not flooded.
    """

    def __init__(
        self,
        stream: TextIO,
        label: str,
        *,
        tty_interval: float = 0.2,
        log_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self.interval = tty_interval if self.tty else log_interval
        self.clock = clock
        self.started = clock()
        self.last_shown: float | None = None
        self.drawn = False

    def text(self, done: int, total: int) -> str:
        total = max(total, done)
        percent = 100 * done / total if total else 100.0
        elapsed = self.clock() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        return f"{self.label}: {done:,}/{total:,} ({percent:.0f}%) {rate:,.0f}/s"

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        finished = done >= total
        if not finished and self.last_shown is not None and now - self.last_shown < self.interval:
            return
        self.last_shown = now
        if self.tty:
            self.stream.write("\r" + self.text(done, total) + "\x1b[K")
            self.drawn = True
        else:
            self.stream.write(self.text(done, total) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line, so what follows starts on a fresh one."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


class Check(Command):
    name = "check"
    summary = "verify every object's content and the metadata catalog (administrators)"
    arguments = (arg("--repair", action="store_true", help="rebuild the catalog if it disagrees"),)
    details = """
        Re-hashes the content of every data object and compares it with the
        recorded sha256, and compares the metadata catalog (what query and
        find read) with the tree.  --repair rebuilds the catalog in the same
        transaction; damaged content cannot be repaired.  Exit status 1 if a
        problem remains.  A WARNING line (a root every account may read) is
        advice and leaves the status 0.  The same check as 'omsh check' with
        the server stopped.
    """

    def run(self, inv: Invocation) -> int | None:
        def show(finding: Finding) -> None:
            if not inv.json:
                colour = "ok" if finding.repaired else "error" if finding.is_problem else "bold"
                kind = inv.out.style(finding.kind, colour)
                repaired = " (repaired)" if finding.repaired else ""
                inv.out.line(f"{kind} {printable(finding.message)}{repaired}")

        shown = inv.out if wants_progress(inv) else None
        with (
            Progress(shown, "check: reindex", 0, unit="objects") as indexing,
            Progress(shown, "check", 0) as hashing,
        ):
            report = check_store(
                inv.view,
                store=inv.store,
                repair=inv.args.repair,
                on_finding=show,
                indexing=following(inv, indexing),
                hashing=following(inv, hashing),
            )
        inv.emit(report.as_json(), report.summary())
        return report.exit_status or None


class Pack(Command):
    name = "pack"
    summary = "remove history older than an age; snapshots keep theirs (administrators)"
    arguments = (
        arg(
            "--keep",
            required=True,
            metavar="AGE",
            help="history to keep: an age (30d, 12h; 0 = only the current state) or an ISO time",
        ),
        arg("--dry-run", action="store_true", help="only say what the pack time would be"),
    )
    details = """
        Packs the storage: every revision older than AGE that is no longer
        current is removed (old blob files too), so history and --at reach
        back to AGE and no further.  Never later than the oldest snapshot's
        transaction: a snapshot keeps its whole tree (the output says when
        one held the pack back).  The server keeps serving meanwhile.
        Prints the pack time, the storage size before and after and the
        blob files removed; --dry-run only the pack time.  The same as
        'omsh pack --keep AGE' with the server stopped.

        --json: {"pack_time": EPOCH, "wanted": EPOCH, "held_by": NAME or
        null, "size_before": B, "size_after": B, "blob_files_removed": N,
        "blob_bytes_removed": B, "seconds": S} (without the sizes for
        --dry-run).
    """

    def run(self, inv: Invocation) -> int | None:
        inv.view(lambda view: view.require_admin())
        plan = plan_pack(inv.store, inv.args.keep)
        if inv.args.dry_run:
            _print(inv, plan.document(), plan.lines(done=False))
            return None
        result = pack_store(inv.store, plan)
        held = f", held back by snapshot {plan.held_by.name}" if plan.held_by else ""
        detail = f"pack time {format_timestamp(plan.time)}{held}"
        inv.view(lambda view: view.audit("pack", "/", detail), write=True)
        _print(inv, result.document(), result.lines())
        return None


def _print(inv: Invocation, document: dict[str, Any], lines: list[str]) -> None:
    """*document* with ``--json``, else *lines* (a snapshot's name made printable)."""
    if inv.json:
        inv.out.json(document)
    else:
        for line in lines:
            inv.out.line(printable(line))


COMMANDS = (Check, Pack)
