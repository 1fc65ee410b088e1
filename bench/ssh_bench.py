"""The SSH cases: omsh against OpenSSH's ``sshd``, same client, same cipher.

Both servers hold the same tree, omsh in its store and the reference in a
temp folder::

    /bench/big        SIZE random bytes       REF/bench/big (the source file)
    /bench/many/      CHILDREN empty objects  REF/bench/many/ (empty files)
    /bench/upload     ``put`` target          REF/bench/upload (``cat >``)

and every case runs an untimed warm-up on each side that also checks the
work was really done (byte or line counts), then times fresh ``ssh``
connections, alternating which server goes first.

Cases:

``exec``  ``ssh omsh 'ls /'`` vs ``ssh sshd 'ls REF'``: round-trip time.
``cat``   ``cat /bench/big`` to ``/dev/null``: throughput.
``put``   ``put /bench/upload < big`` vs ``cat > REF/bench/upload < big``: throughput.
``rss``   omsh's peak RSS over its idle RSS during the ``cat`` and ``put`` runs.
``ls``    ``ls`` of the container with CHILDREN children: time.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import ssh_client
from bench.harness import (
    MIB,
    BenchError,
    CaseResult,
    CaseSpec,
    MemoryWatch,
    OutputCount,
    Target,
    count_output,
    interleave,
    load_line,
    negotiated_lines,
    run_checked,
    write_random,
)
from bench.launcher import public_key_file
from bench.omsh_server import OmshServer
from bench.runner import Group, option, parse_size, positive
from bench.ssh_client import Endpoint, SSHClient, cipher_option, kex_option
from bench.ssh_reference import OpenSSHServer

GIB = 1024 * MIB
OMSH_TOP = "/bench"


#: The cases in the order they run: the transfers come before the big ``ls``
#: so that the idle RSS is read before 10,000 objects fill omsh's cache.
CASES = (
    CaseSpec(
        "exec",
        "exec round trip",
        "fresh connection, key auth, `ls /` (omsh) vs `ls DIR` (sshd); wall time",
        "ms",
        Target("<=", 0.5),
    ),
    CaseSpec(
        "cat",
        "cat throughput",
        "`cat` of a {size_mib} MiB object/file, client output to /dev/null",
        "MiB/s",
        Target(">=", 0.65),
    ),
    CaseSpec(
        "put",
        "put throughput",
        "{size_mib} MiB from stdin: `put PATH` (omsh) vs `cat > FILE` (sshd)",
        "MiB/s",
        Target(">=", 0.6),
        notes=("omsh fsyncs an upload before committing it; `cat > FILE` does not",),
    ),
    CaseSpec(
        "rss",
        "server RSS over idle",
        "omsh server peak RSS (VmHWM + VmRSS sampling) during the cat and put runs, minus idle",
        "MiB",
        Target("<", 150),
        judged="max",
    ),
    CaseSpec(
        "ls",
        "ls big container",
        "`ls` of a container/directory with {children} children; wall time",
        "ms",
        Target("<=", 2.0),
    ),
)
CASE_KEYS = tuple(spec.key for spec in CASES)


@dataclass(frozen=True)
class Settings:
    """What to run and how often."""

    runs: int = option(20, positive, "timed runs of the small cases (20)", quick=3)
    big_runs: int = option(5, positive, "timed runs of the cat and put transfers (5)", quick=1)
    size: int = option(GIB, parse_size, "transfer size, e.g. 1G, 256M (1G)", quick=64 * MIB)
    children: int = option(10_000, positive, "children of the big container (10000)")
    cases: tuple[str, ...] = CASE_KEYS
    cipher: str = cipher_option()
    kex: str = kex_option()

    @property
    def placeholders(self) -> dict[str, Any]:
        """What case descriptions may use."""
        return {"size_mib": f"{self.size / MIB:g}", "children": self.children}


def _milliseconds(seconds: float) -> float:
    return seconds * 1000


def _expect_output(
    expected: str, good: Callable[[OutputCount], bool]
) -> Callable[[list[str]], None]:
    """A warm-up that runs a command and checks what it printed."""

    def warm_up(argv: list[str]) -> None:
        count = count_output(argv)
        if not good(count):
            raise BenchError(
                f"{argv[-1]!r} printed {count.size} bytes in {count.lines} lines;"
                f" expected {expected}"
            )

    return warm_up


@dataclass
class Sides:
    """One command line per server for the same operation."""

    omsh: list[str]
    reference: list[str]


class SSHBench(Group):
    """Sets both servers up, runs the cases, tears everything down."""

    description = "omsh vs OpenSSH sshd, as ratios of medians"
    quick_help = "3 runs, 1 x 64 MiB"
    settings_type = Settings
    case_specs = CASES
    versions = staticmethod(ssh_client.versions)

    def __init__(self, workdir: Path, settings: Settings, say: Callable[[str], None]) -> None:
        super().__init__(workdir, settings, say)
        self.client = SSHClient(workdir / "client", cipher=settings.cipher, kex=settings.kex)
        client_key = public_key_file(self.client.key)
        self.omsh = OmshServer(workdir / "omsh", client_key)
        self.sshd = OpenSSHServer(workdir / "sshd", client_key)
        self.ref_top = workdir / "reference" / "bench"
        self.source = self.ref_top / "big"
        self.omsh_end: Endpoint | None = None
        self.ref_end: Endpoint | None = None
        self.negotiated: dict[str, dict[str, str]] = {}
        self.memory = MemoryWatch()

    # -- set-up ----------------------------------------------------------------

    def _names(self) -> list[str]:
        return [f"f{index:05d}" for index in range(self.settings.children)]

    def _write_reference_tree(self) -> None:
        (self.ref_top / "many").mkdir(parents=True, exist_ok=True)
        write_random(self.source, self.settings.size)
        for name in self._names():
            (self.ref_top / "many" / name).touch()

    def setup(self) -> None:
        size_mib = self.settings.size / MIB
        self.say(
            f"writing the reference tree ({size_mib:g} MiB file, {self.settings.children} files)"
        )
        self._write_reference_tree()
        self.say("filling the omsh store offline")
        self.omsh.populate(
            containers=(OMSH_TOP, f"{OMSH_TOP}/many"),
            objects={f"{OMSH_TOP}/big": self.source},
            children=(f"{OMSH_TOP}/many", self._names()),
        )
        self.say("starting omsh and sshd")
        self.omsh_end = self.omsh.start().endpoint()
        self.ref_end = self.sshd.start()
        for endpoint, probe in ((self.omsh_end, "pwd"), (self.ref_end, "true")):
            self.client.trust(endpoint)
            self.negotiated[endpoint.label] = self.client.negotiated(endpoint, probe)

    def teardown(self) -> None:
        self.omsh.stop()
        self.sshd.stop()

    # -- helpers -----------------------------------------------------------------

    def sides(self, omsh_command: str, reference_command: str) -> Sides:
        assert self.omsh_end is not None and self.ref_end is not None, "not set up"
        return Sides(
            self.client.argv(self.omsh_end, omsh_command),
            self.client.argv(self.ref_end, reference_command),
        )

    @contextlib.contextmanager
    def _sampled(self, sample: bool) -> Iterator[None]:
        """Record omsh's peak RSS over the block, if *sample*."""
        if not sample:
            yield
            return
        with self.memory.sampled(self.omsh.pid):
            yield

    def timed(
        self, runs: int, sides: Sides, *, stdin: Path | None = None, sample_rss: bool = False
    ) -> tuple[list[float], list[float]]:
        """Interleaved wall times (seconds) of both sides."""

        def omsh() -> float:
            with self._sampled(sample_rss):
                return run_checked(sides.omsh, stdin=stdin)

        return interleave(runs, omsh, lambda: run_checked(sides.reference, stdin=stdin))

    def _omsh_size(self, path: str) -> int:
        """``cdmi_size`` of an omsh object, from ``stat --json``."""
        assert self.omsh_end is not None
        done = subprocess.run(
            self.client.argv(self.omsh_end, f"stat --json {path}"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"stat {path} failed: {done.stderr.decode(errors='replace')}")
        return int(json.loads(done.stdout.splitlines()[0])["cdmi_size"])

    # -- the cases -----------------------------------------------------------------
    # Each fills in the samples of a CaseResult made from its CaseSpec.

    def _measure(
        self,
        result: CaseResult,
        sides: Sides,
        runs: int,
        convert: Callable[[float], float],
        warm_up: Callable[[list[str]], None],
        *,
        stdin: Path | None = None,
        sample_rss: bool = False,
    ) -> None:
        """Warm each side up (checking its work), then time *runs* of both.

        *convert* turns seconds into the case's unit.  With *sample_rss*,
        omsh's idle RSS is read first (once, before any transfer has grown
        its heap) and its peak RSS is recorded during each timed run.
        """
        if sample_rss:
            self.memory.read_idle(self.omsh.pid)
        for argv in (sides.omsh, sides.reference):
            warm_up(argv)
        omsh, reference = self.timed(runs, sides, stdin=stdin, sample_rss=sample_rss)
        result.omsh = [convert(seconds) for seconds in omsh]
        result.reference = [convert(seconds) for seconds in reference]

    def _throughput(self, seconds: float) -> float:
        return self.settings.size / MIB / seconds

    def case_exec(self, result: CaseResult) -> None:
        sides = self.sides("ls /", f"ls {self.ref_top.parent}")
        warm_up = _expect_output("some output", lambda count: count.lines >= 1)
        self._measure(result, sides, self.settings.runs, _milliseconds, warm_up)

    def case_cat(self, result: CaseResult) -> None:
        size = self.settings.size
        sides = self.sides(f"cat {OMSH_TOP}/big", f"cat {self.source}")
        warm_up = _expect_output(f"{size} bytes", lambda count: count.size == size)
        self._measure(
            result, sides, self.settings.big_runs, self._throughput, warm_up, sample_rss=True
        )

    def case_put(self, result: CaseResult) -> None:
        size = self.settings.size
        target = self.ref_top / "upload"
        sides = self.sides(f"put {OMSH_TOP}/upload", f"cat > {target}")

        def warm_up(argv: list[str]) -> None:
            run_checked(argv, stdin=self.source)

        self._measure(
            result,
            sides,
            self.settings.big_runs,
            self._throughput,
            warm_up,
            stdin=self.source,
            sample_rss=True,
        )
        stored = (self._omsh_size(f"{OMSH_TOP}/upload"), target.stat().st_size)
        if stored != (size, size):
            raise BenchError(f"uploads stored {stored[0]} (omsh) and {stored[1]} bytes, not {size}")

    def case_rss(self, result: CaseResult) -> None:
        self.memory.fill(result, "the cat or put case")

    def case_ls(self, result: CaseResult) -> None:
        children = self.settings.children
        sides = self.sides(f"ls {OMSH_TOP}/many", f"ls {self.ref_top / 'many'}")
        warm_up = _expect_output(f"{children} lines", lambda count: count.lines == children)
        self._measure(result, sides, self.settings.runs, _milliseconds, warm_up)

    # -- the report ------------------------------------------------------------------

    def head(self, context: dict[str, Any]) -> list[str]:
        settings = self.settings
        return [
            f"omsh vs OpenSSH sshd: medians of {settings.runs} runs (exec, ls) and"
            f" {settings.big_runs} runs of {settings.size / MIB:g} MiB (cat, put),"
            " runs interleaved, fresh connection each",
            load_line(context),
            *negotiated_lines(self.negotiated),
        ]

    def details(self) -> dict[str, Any]:
        return {"negotiated": self.negotiated}
