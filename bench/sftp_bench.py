"""The SFTP cases: omsh's SFTP server against OpenSSH's sftp-server, same clients.

One source tree is written once per run into the workdir; omsh gets the big
file in its store (filled offline), sshd serves it from the workdir, and
whatever is uploaded to sshd lands in a temp folder under the workdir::

    WORK/source/big               SIZE random bytes: omsh /bench/big, sshd reads it in place
    WORK/source/files/fNNNN       FILES files of FILE_SIZE random bytes (rclone's source)
    omsh /bench/upload            ``put`` target   sshd WORK/sshd-data/upload
    omsh /bench/rclone/NAME/      ``rclone copy``  sshd WORK/sshd-data/rclone/NAME/

The sshd is the bench's private one (:mod:`bench.ssh_reference`) serving
SFTP through ``/usr/lib/openssh/sftp-server`` as a stock Debian sshd does.
Every case first runs an untimed warm-up on each side that checks the work
was done (sizes, file counts), then alternates timed runs between the two
servers, each run a fresh connection.

Cases (throughputs in MiB/s; ratios are omsh over sshd):

``get``     OpenSSH ``sftp -b`` ``get`` of the big file to /dev/null.
``put``     OpenSSH ``sftp -b`` ``put`` of the big file.
``rss``     omsh's peak RSS over its idle RSS during the timed ``get`` and ``put`` runs.
``rclone``  ``rclone copy`` of the small files into a new folder, default options.

The OpenSSH client pins cipher and key exchange (``--cipher``, ``--kex``)
for both servers.  rclone 1.60 (Debian 12) has no option to pin them; its Go
client offers aes128-gcm@openssh.com and curve25519-sha256 first, which
both servers accept, so both negotiate the same.
"""

from __future__ import annotations

import configparser
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

from bench import ssh_client
from bench.harness import (
    MIB,
    BenchError,
    CaseResult,
    CaseSpec,
    MemoryWatch,
    Target,
    checked_output,
    interleave,
    load_line,
    negotiated_lines,
    output_of,
    run_checked,
    write_random,
)
from bench.launcher import need, public_key_file
from bench.omsh_server import OmshServer
from bench.runner import Group, option, parse_size, positive
from bench.ssh_client import Endpoint, SSHClient, cipher_option, kex_option
from bench.ssh_reference import OpenSSHServer

GIB = 1024 * MIB
KIB = 1024
OMSH_TOP = "/bench"
SFTP_SERVERS = (
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/libexec/sftp-server",
)


CASES = (
    CaseSpec(
        "get",
        "sftp get throughput",
        "OpenSSH `sftp -b`, `get` of a {size_mib} MiB object/file to /dev/null",
        "MiB/s",
        Target(">=", 0.8),
    ),
    CaseSpec(
        "put",
        "sftp put throughput",
        "OpenSSH `sftp -b`, `put` of a {size_mib} MiB local file over the same target",
        "MiB/s",
        Target(">=", 0.6),
        notes=("omsh fsyncs an upload before committing it; sftp-server does not",),
    ),
    CaseSpec(
        "rss",
        "server RSS over idle",
        "omsh server peak RSS (VmHWM + VmRSS sampling) during the get and put runs, minus idle",
        "MiB",
        Target("<", 150),
        judged="max",
    ),
    CaseSpec(
        "rclone",
        "rclone copy throughput",
        "`rclone copy` of {files} files of {file_kib} KiB into a new folder, default options",
        "MiB/s",
        Target(">=", 0.5),
    ),
)
CASE_KEYS = tuple(case.key for case in CASES)


@dataclass(frozen=True)
class Settings:
    """What to run and how often."""

    runs: int = option(5, positive, "timed runs of each case (5)", quick=1)
    size: int = option(GIB, parse_size, "get/put size, e.g. 64M (1G)", quick=64 * MIB)
    files: int = option(1000, positive, "files rclone copies (1000)", quick=100)
    file_size: int = option(64 * KIB, parse_size, "size of each (64K)")
    cases: tuple[str, ...] = CASE_KEYS
    cipher: str = cipher_option()
    kex: str = kex_option()

    @property
    def placeholders(self) -> dict[str, str]:
        """What case descriptions may use."""
        return {
            "size_mib": f"{self.size / MIB:g}",
            "files": f"{self.files:,}",
            "file_kib": f"{self.file_size / KIB:g}",
        }


def sftp_server() -> str:
    """OpenSSH's sftp-server binary, or sshd's built-in one if it is not where Debian puts it."""
    for candidate in SFTP_SERVERS:
        if os.access(candidate, os.X_OK):
            return candidate
    return "internal-sftp"


class SFTPReference(OpenSSHServer):
    """The bench's private sshd, serving SFTP with OpenSSH's sftp-server."""

    label = "sshd"

    def _write_config(self) -> None:
        super()._write_config()
        lines = [
            line
            for line in self.config.read_text(encoding="ascii").splitlines()
            if not line.lower().startswith("subsystem sftp")
        ]
        lines.append(f"Subsystem sftp {sftp_server()}")
        self.config.write_text("\n".join(lines) + "\n", encoding="ascii")


def _quoted(path: str) -> str:
    """*path* as one argument of an sftp batch command."""
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def versions() -> dict[str, Any]:
    """The clients' and servers' versions, for the JSON document."""
    rclone = output_of(["rclone", "version"])
    return {**ssh_client.versions(), "rclone": rclone.splitlines()[0] if rclone else None}


class SFTPBench(Group):
    """Sets both servers up, runs the cases, tears everything down."""

    description = "omsh's SFTP server vs OpenSSH's sftp-server (sftp get/put, rclone copy)"
    quick_help = "1 run, 64 MiB, 100 files"
    settings_type = Settings
    case_specs = CASES
    versions = staticmethod(versions)

    def __init__(self, workdir: Path, settings: Settings, say: Callable[[str], None]) -> None:
        super().__init__(workdir, settings, say)
        self.client = SSHClient(workdir / "client", cipher=settings.cipher, kex=settings.kex)
        client_key = public_key_file(self.client.key)
        self.omsh = OmshServer(workdir / "omsh", client_key)
        self.sshd = SFTPReference(workdir / "sshd", client_key)
        self.source = workdir / "source" / "big"
        self.files = workdir / "source" / "files"
        self.sshd_data = workdir / "sshd-data"
        self.batches = workdir / "batches"
        self.rclone_config = workdir / "rclone.conf"
        self.ends: dict[str, Endpoint] = {}
        #: Where each side's files are: the big one to download, and the upload folder.
        self.big: dict[str, str] = {"omsh": f"{OMSH_TOP}/big", "sshd": str(self.source)}
        self.top: dict[str, str] = {"omsh": OMSH_TOP, "sshd": str(self.sshd_data)}
        self.negotiated: dict[str, dict[str, str]] = {}
        self.memory = MemoryWatch()
        self.sftp = self.rclone = ""
        self._batch_numbers = count()

    # -- set-up ----------------------------------------------------------------

    def setup(self) -> None:
        settings = self.settings
        self.sftp, self.rclone = need("sftp"), need("rclone")
        self.say(
            f"writing the source files ({settings.size / MIB:g} MiB,"
            f" {settings.files} x {settings.file_size / KIB:g} KiB)"
        )
        self.files.mkdir(parents=True)
        write_random(self.source, settings.size)
        for index in range(settings.files):
            write_random(self.files / f"f{index:04d}", settings.file_size)
        (self.sshd_data / "rclone").mkdir(parents=True)
        self.batches.mkdir()
        self.say("filling the omsh store offline")
        self.omsh.populate(
            containers=(OMSH_TOP, f"{OMSH_TOP}/rclone"), objects={f"{OMSH_TOP}/big": self.source}
        )
        self.say("starting omsh and sshd")
        self.ends = {"omsh": self.omsh.start().endpoint(), "sshd": self.sshd.start()}
        for endpoint in self.ends.values():
            self.client.trust(endpoint)
            self.negotiated[endpoint.label] = self.client.negotiated(endpoint, "pwd")
        self._write_rclone_config()

    def _write_rclone_config(self) -> None:
        """One sftp remote per server, named after its label, with the bench's key."""
        sections = []
        for endpoint in self.ends.values():
            sections.append(
                f"[{endpoint.label}]\ntype = sftp\nhost = {endpoint.host}\n"
                f"port = {endpoint.port}\nuser = {endpoint.user}\n"
                f"key_file = {self.client.key}\nknown_hosts_file = {self.client.known_hosts}\n"
            )
        self.rclone_config.write_text("\n".join(sections), encoding="utf-8")

    def teardown(self) -> None:
        self.omsh.stop()
        self.sshd.stop()

    # -- the clients -------------------------------------------------------------

    def sftp_argv(self, side: str, *commands: str) -> list[str]:
        """``sftp -b BATCH`` running *commands* on *side*, with the pinned client options."""
        batch = self.batches / f"{side}-{next(self._batch_numbers)}.sftp"
        batch.write_text("".join(f"{command}\n" for command in commands), encoding="utf-8")
        endpoint = self.ends[side]
        return [
            self.sftp,
            "-b",
            str(batch),
            *self.client.options(),
            "-P",
            str(endpoint.port),
            f"{endpoint.user}@{endpoint.host}",
        ]

    def remote_size(self, side: str, path: str) -> int:
        """The size of *path* on *side* as SFTP reports it (``ls -ln``)."""
        listing = checked_output(self.sftp_argv(side, f"ls -ln {_quoted(path)}"))
        for line in reversed(listing.splitlines()):
            fields = line.split()
            if len(fields) >= 9 and fields[4].isdigit():
                return int(fields[4])
        raise BenchError(f"no size for {path} on {side} in {listing!r}")

    def rclone_argv(self, *arguments: str) -> list[str]:
        return [self.rclone, "--config", str(self.rclone_config), *arguments]

    # -- measuring -----------------------------------------------------------------

    def compare(
        self,
        result: CaseResult,
        warm_up: Callable[[str], None],
        run: Callable[[str], float],
        amount: int,
        *,
        sample_rss: bool = False,
    ) -> None:
        """``warm_up(side)`` once, then interleave timed ``run(side)`` on both sides.

        The samples are *amount* bytes per second, in MiB.  With *sample_rss*
        omsh's idle RSS is read before its first warm-up (once per bench) and
        its peak is recorded during each of its timed runs.
        """
        if sample_rss:
            self.memory.read_idle(self.omsh.pid)
        for side in self.ends:
            warm_up(side)

        def omsh() -> float:
            if not sample_rss:
                return run("omsh")
            with self.memory.sampled(self.omsh.pid):
                return run("omsh")

        ours, theirs = interleave(self.settings.runs, omsh, lambda: run("sshd"))
        result.omsh = [amount / MIB / seconds for seconds in ours]
        result.reference = [amount / MIB / seconds for seconds in theirs]

    # -- the cases -------------------------------------------------------------------
    # Each warm-up checks the work was really done.

    def case_get(self, result: CaseResult) -> None:
        size = self.settings.size
        copy = self.workdir / "downloaded"

        def warm_up(side: str) -> None:
            run_checked(self.sftp_argv(side, f"get {_quoted(self.big[side])} {_quoted(str(copy))}"))
            got = copy.stat().st_size
            copy.unlink()
            if got != size:
                raise BenchError(f"downloaded {got} bytes from {side}, not {size}")

        argv = {
            side: self.sftp_argv(side, f"get {_quoted(self.big[side])} /dev/null")
            for side in self.ends
        }
        self.compare(result, warm_up, lambda side: run_checked(argv[side]), size, sample_rss=True)

    def case_put(self, result: CaseResult) -> None:
        size = self.settings.size
        argv = {
            side: self.sftp_argv(
                side, f"put {_quoted(str(self.source))} {_quoted(f'{top}/upload')}"
            )
            for side, top in self.top.items()
        }

        def warm_up(side: str) -> None:
            run_checked(argv[side])
            stored = self.remote_size(side, f"{self.top[side]}/upload")
            if stored != size:
                raise BenchError(f"{side} stored {stored} bytes, not {size}")

        self.compare(result, warm_up, lambda side: run_checked(argv[side]), size, sample_rss=True)

    def case_rss(self, result: CaseResult) -> None:
        self.memory.fill(result, "the get or put case")

    def case_rclone(self, result: CaseResult) -> None:
        settings = self.settings
        amount = settings.files * settings.file_size
        runs = count()

        def copy(side: str, name: str) -> float:
            return run_checked(
                self.rclone_argv("copy", str(self.files), f"{side}:{self.top[side]}/rclone/{name}")
            )

        def warm_up(side: str) -> None:
            copy(side, "warm-up")
            listing = checked_output(
                self.rclone_argv("size", "--json", f"{side}:{self.top[side]}/rclone/warm-up")
            )
            stored = json.loads(listing)
            if (stored["count"], stored["bytes"]) != (settings.files, amount):
                raise BenchError(f"rclone stored {stored} on {side}")

        self.compare(result, warm_up, lambda side: copy(side, f"run-{next(runs)}"), amount)
        result.notes.append(self._hash_check_note())

    def _hash_check_note(self) -> str:
        """Which servers rclone checks each upload on with a remote ``md5sum`` (an extra exec).

        rclone probes a remote once and writes what it found into its config:
        ``md5sum_command = none`` when the server's exec does not answer it.
        """
        config = configparser.ConfigParser()
        config.read(self.rclone_config, encoding="utf-8")
        found = ", ".join(
            f"{side} {config.get(side, 'md5sum_command', fallback='not probed')}"
            for side in self.ends
        )
        return f"rclone's md5sum_command, run over exec after each upload to check it: {found}"

    # -- the report ------------------------------------------------------------------

    def head(self, context: dict[str, Any]) -> list[str]:
        settings, names = self.settings, self.settings.placeholders
        return [
            f"omsh vs OpenSSH sftp-server: medians of {settings.runs} runs, interleaved, fresh"
            f" connection each; {names['size_mib']} MiB (get, put),"
            f" {names['files']} x {names['file_kib']} KiB (rclone)",
            load_line(context),
            *negotiated_lines(self.negotiated),
        ]

    def details(self) -> dict[str, Any]:
        return {"negotiated": self.negotiated}
