"""OpenSSH's ``sshd`` beside omsh, so client tests can show what users expect.

:func:`reference_sshd` starts bench's :class:`~bench.ssh_reference.OpenSSHServer`
(private, unprivileged, 127.0.0.1 only, SFTP via ``internal-sftp``) for the
current user and one client key, and stops it afterwards.  It serves the real
file system, so a test gives it a temporary folder and uses absolute paths
below it.

:class:`Target` is what a client test needs of either server: the port, user,
key and known_hosts file a client is configured with, a folder to work in,
OpenSSH ``sftp``/``scp`` runners, and a look at what actually got stored
(omsh over ``ssh``, sshd straight from the disk).  One test can then run the
same client against both and compare.

Also here, for every client test module: :func:`tool` (skip naming the Debian
package when a client is missing), :func:`failed` (assertion messages with the
client's own words) and FUSE mount helpers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from bench.launcher import LaunchError, known_hosts_line, public_key_file
from bench.ssh_reference import OpenSSHServer
from tests.e2e import OmshServer, OpenSSHClients, Result, run

#: A modification time clients set and must get back: 2001-02-03 04:05:06 UTC.
OLD_MTIME = 981173106
#: A ``sha256sum`` output line, text (two spaces) or binary (`` *``) mode.
_SUM_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)$")
_TIMESTAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ")


def brief(text: str, keep: int = 12) -> str:
    """A client's error output for an assertion message: timestamps dropped,
    repeated lines once, and only the first and last lines of a long log."""
    lines = list(dict.fromkeys(_TIMESTAMP.sub("", line) for line in text.splitlines()))
    if len(lines) > keep:
        lines = [*lines[: keep // 2], "...", *lines[-keep // 2 :]]
    return "\n".join(lines)


def failed(target: Target, what: str, result: Result) -> str:
    """Assertion message: which server, which client command, and what it said."""
    output = brief(result.err + result.out)
    return f"{target.name}: {what} (exit status {result.status}):\n{output}"


def tool(name: str, package: str) -> str:
    """The path of client *name*, or skip the test naming the Debian package to install."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package: {package})")
    return path


class Target(OpenSSHClients, ABC):
    """One SSH server as a client sees it, plus a look at what it stored."""

    #: "omsh" or "sshd", for messages and rclone remote names.
    name: str
    user: str
    key: Path

    def __init__(self, base: str) -> None:
        #: Absolute remote folder the tests work under.
        self.base = base.rstrip("/")

    @property
    @abstractmethod
    def port(self) -> int: ...

    @abstractmethod
    def known_hosts(self) -> Path:
        """A known_hosts file holding this server's host key for ``[127.0.0.1]:port``."""

    @abstractmethod
    def restart(self) -> None:
        """Stop and start the server (it may come back on another port)."""

    # -- what the server stored -------------------------------------------

    @abstractmethod
    def read(self, path: str) -> bytes: ...

    def sha256(self, paths: list[str]) -> dict[str, str]:
        """SHA-256 of each stored file's bytes, or ``"unreadable: why"``."""
        digests = {}
        for path in paths:
            try:
                digests[path] = hashlib.sha256(self.read(path)).hexdigest()
            except (AssertionError, OSError) as error:
                digests[path] = f"unreadable: {error}"
        return digests

    @abstractmethod
    def size(self, path: str) -> int: ...

    @abstractmethod
    def mtime(self, path: str) -> int:
        """Modification time in whole seconds, as SFTP reports it."""

    @abstractmethod
    def names(self, path: str) -> list[str]:
        """Sorted entry names of a remote folder."""

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def make_dirs(self, path: str) -> None: ...

    # -- clients (ssh, sftp, scp: OpenSSHClients) ----------------------------

    def path(self, *parts: str) -> str:
        """Absolute remote path of *parts* below :attr:`base`."""
        return "/".join([self.base, *parts])

    def client(self, name: str) -> str:
        """An OpenSSH client, or skip the test if it is missing."""
        return tool(name, "openssh-client")


class OmshTarget(Target):
    """The omsh server of :mod:`tests.e2e`, inspected with its own commands over ``ssh``."""

    name = "omsh"
    user = "admin"

    def __init__(self, server: OmshServer, base: str) -> None:
        super().__init__(base)
        self.server = server
        self.key = server.client_key

    @property
    def port(self) -> int:
        return self.server.port

    def known_hosts(self) -> Path:
        return self.server.known_hosts()

    def restart(self) -> None:
        self.server.restart()

    def _ok(self, command: str) -> Result:
        result = self.server.ssh(command)
        assert result.status == 0, f"omsh {command!r} failed: {result.err}"
        return result

    def _stat(self, path: str) -> dict:
        return json.loads(self._ok(f"stat --json {shlex.quote(path)}").out)

    def read(self, path: str) -> bytes:
        return self._ok(f"cat {shlex.quote(path)}").stdout

    def sha256(self, paths: list[str]) -> dict[str, str]:
        """omsh's ``sha256sum`` in one session if it has one, else ``cat`` each file."""
        result = self.server.ssh("sha256sum " + " ".join(map(shlex.quote, paths)))
        if "command not found" in result.err:
            return super().sha256(paths)
        digests = dict.fromkeys(paths, f"unreadable: {result.err.strip()}")
        for line in result.out.splitlines():
            if match := _SUM_LINE.match(line):
                digests[match.group(2)] = match.group(1)
        return digests

    def size(self, path: str) -> int:
        return int(self._stat(path)["cdmi_size"])

    def mtime(self, path: str) -> int:
        stamp = self._stat(path)["cdmi_mtime"].replace("Z", "+00:00")
        return int(datetime.fromisoformat(stamp).timestamp())

    def names(self, path: str) -> list[str]:
        listing = self._ok(f"ls --json {shlex.quote(path)}").out
        return sorted(json.loads(line)["name"] for line in listing.splitlines())

    def exists(self, path: str) -> bool:
        return self.server.ssh(f"stat {shlex.quote(path)}").status == 0

    def make_dirs(self, path: str) -> None:
        self._ok(f"mkdir -p {shlex.quote(path)}")


class ReferenceSSHD(Target):
    """A private sshd serving a temporary folder of the real file system."""

    name = "sshd"

    def __init__(self, workdir: Path, client_key: Path, *, read_only_sftp: bool = False) -> None:
        self.files = workdir / "files"
        self.files.mkdir(parents=True, exist_ok=True)
        super().__init__(str(self.files))
        self.key = client_key
        self.process = OpenSSHServer(
            workdir / "sshd", public_key_file(client_key), read_only_sftp=read_only_sftp
        )
        self.user = self.process.user
        self._known_hosts = workdir / "known_hosts"
        self.host_key = ""

    @property
    def port(self) -> int:
        return self.process.port

    def start(self) -> ReferenceSSHD:
        try:
            endpoint = self.process.start()
        except LaunchError as error:
            if "not installed" in str(error):
                pytest.skip("sshd is not installed (Debian package: openssh-server)")
            raise
        self.host_key = endpoint.host_key
        self._known_hosts.write_text(known_hosts_line(self.port, self.host_key))
        return self

    def stop(self) -> None:
        self.process.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def known_hosts(self) -> Path:
        return self._known_hosts

    def read(self, path: str) -> bytes:
        return Path(path).read_bytes()

    def size(self, path: str) -> int:
        return Path(path).stat().st_size

    def mtime(self, path: str) -> int:
        return int(Path(path).stat().st_mtime)

    def names(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def exists(self, path: str) -> bool:
        return Path(path).exists()

    def make_dirs(self, path: str) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)


@contextmanager
def reference_sshd(
    workdir: Path, client_key: Path, *, read_only_sftp: bool = False
) -> Iterator[ReferenceSSHD]:
    """sshd for one test module, accepting *client_key* for the current user.

    With *read_only_sftp*, its SFTP server refuses every change (``internal-sftp -R``).
    """
    server = ReferenceSSHD(workdir, client_key, read_only_sftp=read_only_sftp).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def omsh_and_sshd(
    server: OmshServer, workdir: Path, area: str
) -> Iterator[tuple[OmshTarget, ReferenceSSHD]]:
    """Both servers as targets, each with an empty folder *area* to work in."""
    omsh = OmshTarget(server, f"/{area}")
    omsh.make_dirs(omsh.base)
    with reference_sshd(workdir, server.client_key) as sshd:
        sshd.base = sshd.path(area)
        sshd.make_dirs(sshd.base)
        yield omsh, sshd


def targets_fixture(area: str) -> Callable[..., Iterator[tuple[Target, Target]]]:
    """A module-scoped ``targets`` fixture for a client test module: (sshd, omsh),
    sshd first so each test shows the expectation before omsh is tried.

    Use as ``targets = targets_fixture("area")``; it needs the ``server`` fixture.
    """

    @pytest.fixture(scope="module")
    def targets(
        server: OmshServer, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[tuple[Target, Target]]:
        with omsh_and_sshd(server, tmp_path_factory.mktemp("sshd"), area) as (omsh, sshd):
            yield sshd, omsh

    return targets


# -- FUSE mounts (rclone mount, sshfs) ------------------------------------------


def need_fuse() -> str:
    """``fusermount3``, or skip: mounting needs it and ``/dev/fuse``."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing: FUSE mounts cannot run here")
    return tool("fusermount3", "fuse3")


def unmount(mountpoint: Path) -> None:
    """``fusermount3 -u``, falling back to a lazy ``-uz`` if the mount is busy."""
    if not os.path.ismount(mountpoint):
        return
    fusermount = need_fuse()
    if run([fusermount, "-u", str(mountpoint)]).status != 0:
        run([fusermount, "-uz", str(mountpoint)])
