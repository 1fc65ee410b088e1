"""The ACL case: ``ls -l`` of a big container as admin vs as a user with inherited access.

Issue 3's benchmark: ``check_access`` on objects 10 levels deep with 50 ACEs
on the path.  One omsh server, its store filled offline::

    /acl/l01/l02/…/l10           DEPTH nested containers, ACES / DEPTH ACEs each
    /acl/l01/…/l10/fNNNNN        CHILDREN empty objects without ACEs of their own

Every ACE on the path covers the bits ``ls -l`` asks for (list on the
container, read-metadata on each child), so each one is looked at; all but
one name other users and groups (allows and denies).  The reader's only
grant is the last ACE of ``l01``: DEPTH levels above every child, reached
after the other 49.  Administrators are let through before any ACE is read,
so admin is the baseline.

Two figures, both ``reader / admin`` as ratios of medians, runs interleaved:

``acl ls -l``   ``ssh reader@omsh 'ls -l PATH'`` vs the same as admin: fresh
                OpenSSH connection each, output to /dev/null (what a user waits for);
``acl listing`` the listing transaction alone, in process, before the server
                starts: :meth:`StoreView.children` plus the entries ``ls -l``
                describes (no SSH, no rendering: the ACL cost undiluted).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import (
    BenchError,
    CaseResult,
    Target,
    count_output,
    interleave,
    run_checked,
)
from bench.launcher import public_key_file
from bench.omsh_server import OmshServer
from bench.runner import Group, option, positive
from bench.ssh_client import SSHClient
from omsh.store.acl import ACE, INHERIT, READ_WORD, AceFlag, AceType
from omsh.store.database import ADMIN_USER, Store
from omsh.store.model import StoreRoot
from omsh.store.principals import parse_authorized_key
from omsh.store.system import describe
from omsh.store.view import StoreView

READER = "reader"
TARGET = Target("<=", 1.3)


@dataclass(frozen=True)
class Settings:
    runs: int = option(20, positive, "timed runs of each side (20)", quick=5)
    children: int = option(10_000, positive, "children of the container (10,000)", quick=2_000)
    depth: int = 10
    aces: int = 50

    @property
    def path(self) -> str:
        return "/acl/" + "/".join(f"l{level:02d}" for level in range(1, self.depth + 1))


def _milliseconds(seconds: float) -> float:
    return seconds * 1000


def path_acls(settings: Settings) -> list[tuple[str, tuple[ACE, ...]]]:
    """The ACL of each container on the path: others' entries, the reader's last on top.

    The others are users ``u00``… and groups ``g00``… the reader is not in;
    every third entry is a deny.
    """
    per_level = settings.aces // settings.depth
    levels = []
    for level in range(1, settings.depth + 1):
        entries = []
        for slot in range(per_level):
            number = (level - 1) * per_level + slot
            if level == 1 and slot == per_level - 1:
                entries.append(ACE(AceType.ALLOW, READER, INHERIT, READ_WORD))
                continue
            group = number % 2 == 0
            flags = INHERIT | (AceFlag.IDENTIFIER_GROUP if group else AceFlag.NONE)
            acetype = AceType.DENY if number % 3 == 0 else AceType.ALLOW
            entries.append(ACE(acetype, f"{'g' if group else 'u'}{number:02d}", flags, READ_WORD))
        prefix = settings.path.split("/")[: level + 2]
        levels.append(("/".join(prefix), tuple(entries)))
    return levels


class AclBench(Group):
    """One omsh server; the reader and admin list the same big container."""

    description = "ls -l of a big container as a user with inherited access vs as admin"
    quick_help = "2,000 children, 5 runs"
    settings_type = Settings

    def __init__(self, workdir: Path, settings: Settings, say: Callable[[str], None]) -> None:
        if settings.aces % settings.depth:
            raise BenchError("the ACE count must be a multiple of the depth")
        super().__init__(workdir, settings, say)
        self.client = SSHClient(workdir / "client")
        self.omsh = OmshServer(workdir / "omsh", public_key_file(self.client.key))
        self.argv: dict[str, list[str]] = {}
        self.in_process: dict[str, list[float]] = {}

    def setup(self) -> None:
        settings = self.settings
        names = [f"f{index:05d}" for index in range(settings.children)]
        self.say(f"filling the omsh store offline ({settings.children} children)")
        self.omsh.populate(containers=(settings.path,), objects={}, children=(settings.path, names))
        store = Store.open(data_dir=str(self.omsh.data))
        try:
            store.run(self._grant)
            self.say("timing the listing transaction in process")
            self.in_process = self._time_in_process(store)
        finally:
            store.close()
        self.say("starting omsh")
        admin = self.omsh.start().endpoint()
        self.client.trust(admin)
        reader = dataclasses.replace(admin, label=READER, user=READER)
        command = f"ls -l {settings.path}"
        self.argv = {
            ADMIN_USER: self.client.argv(admin, command),
            READER: self.client.argv(reader, command),
        }

    def _grant(self, root: StoreRoot) -> None:
        """The reader (with the client key), the others, and the ACLs on the path."""
        principals = root.principals
        reader = principals.add_user(READER)
        reader.add_key(parse_authorized_key(self.omsh.authorized_keys.read_text()))
        for _, entries in path_acls(self.settings):
            for ace in entries:
                if ace.identifier == READER:
                    continue
                (principals.add_group if ace.is_group else principals.add_user)(ace.identifier)
        view = StoreView.for_user(root, ADMIN_USER)
        for path, entries in path_acls(self.settings):
            view.replace_acl(view.resolve(path), path, entries, action="bench-acl")

    def _time_in_process(self, store: Store) -> dict[str, list[float]]:
        path = self.settings.path

        def listing(user: str) -> Callable[[], float]:
            def work(root: StoreRoot) -> int:
                view = StoreView.for_user(root, user)
                entries = [describe(child) for _, child in view.children(view.resolve(path), path)]
                return len(entries)

            def timed() -> float:
                started = time.perf_counter()
                listed = store.read(work)
                elapsed = time.perf_counter() - started
                if listed != self.settings.children:
                    raise BenchError(f"{user} listed {listed} children in process")
                return elapsed

            return timed

        listing(ADMIN_USER)(), listing(READER)()  # warm the object cache
        reader, admin = interleave(self.settings.runs, listing(READER), listing(ADMIN_USER))
        return {READER: reader, ADMIN_USER: admin}

    def teardown(self) -> None:
        self.omsh.stop()

    def run(self) -> list[CaseResult]:
        settings = self.settings
        shape = (
            f"{settings.children} children {settings.depth} levels deep,"
            f" {settings.aces} ACEs on the path, the reader's grant {settings.depth} levels up"
        )
        over_ssh = CaseResult(
            "acl ls -l",
            f"`ls -l` over ssh, reader / admin; {shape}",
            "ms",
            TARGET,
        )
        listing = CaseResult(
            "acl listing",
            f"the ls -l transaction in process (no SSH, no rendering), reader / admin; {shape}",
            "ms",
            TARGET,
        )
        listing.omsh = [_milliseconds(s) for s in self.in_process[READER]]
        listing.reference = [_milliseconds(s) for s in self.in_process[ADMIN_USER]]
        try:
            for user, argv in self.argv.items():
                lines = count_output(argv).lines
                if lines != settings.children:
                    raise BenchError(
                        f"ls -l as {user} printed {lines} lines, not {settings.children}"
                    )
            reader, admin = interleave(
                settings.runs,
                lambda: run_checked(self.argv[READER]),
                lambda: run_checked(self.argv[ADMIN_USER]),
            )
            over_ssh.omsh = [_milliseconds(s) for s in reader]
            over_ssh.reference = [_milliseconds(s) for s in admin]
        except BenchError as exc:
            over_ssh.error = str(exc)
        return [over_ssh, listing]

    # -- the report ------------------------------------------------------------------

    def head(self, context: dict[str, Any]) -> list[str]:
        depth, aces, runs = self.settings.depth, self.settings.aces, self.settings.runs
        return [
            f"ACL cost: reader (access inherited {depth} levels up through {aces} ACEs)"
            f" vs admin, medians of {runs} interleaved runs;"
            " 'omsh' is the reader, 'reference' is admin",
        ]

    def record(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self.settings), "path": self.settings.path}
