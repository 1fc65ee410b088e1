"""Servers on 127.0.0.1, started, waited for and stopped one way for benchmarks and tests.

Both the benchmarks and the end-to-end tests start ``omsh serve`` (and
OpenSSH's ``sshd``, see :mod:`bench.ssh_reference`) on loopback ports and
reach them with the OpenSSH client; this module is the one copy of that.

It lives in ``bench/`` and the tests import it as ``bench.launcher``:
``python -m bench`` runs without pytest and must not import the test suite,
and the shipped ``omsh`` package is no place for test scaffolding (a
top-level package of its own would be one more folder outside what
``make lint`` checks).  The tests already use bench's private sshd as their
reference, so this adds no new direction between the two.  It needs only
the standard library, none of the measurement code.

Everything listens on, and connects to, :data:`HOST` (127.0.0.1); ports
are picked by the kernel.

* :class:`ServerProcess`: a child process that is ready once a line shows
  in its output; stopped with SIGTERM, then SIGKILL.
* :class:`OmshProcess`: ``omsh serve`` with its own data and key folders,
  SSH (and CDMI) on free ports; the host key's fingerprint, the SSH port and
  the CDMI URL are read from what it prints.
* The OpenSSH client side: :func:`need` (a tool's path),
  :func:`generate_key` and friends (an ed25519 key pair),
  :func:`openssh_options` (this key only, strict host key checking against
  our own known_hosts, never a prompt) and :func:`known_hosts_line`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

HOST = "127.0.0.1"
#: The ``omsh`` console script of the Python that runs this.
OMSH = str(Path(sys.executable).with_name("omsh"))
#: The host key ``omsh serve`` makes in its keys folder.
HOST_KEY_NAME = "ssh_host_ed25519_key"
#: How often a starting server's output is looked at.
POLL_INTERVAL = 0.02

_HOST_KEY = re.compile(r"host key (SHA256:\S+)")
_SSH_LISTENING = re.compile(r"SSH listening on [\d.]+:(\d+)")
_CDMI_LISTENING = re.compile(r"CDMI listening on (https?://[\d.]+:(\d+)/)")


class LaunchError(RuntimeError):
    """A tool is missing, or a server did not start."""


# -- the OpenSSH client side ---------------------------------------------------


def need(tool: str) -> str:
    """The absolute path of *tool*, or a :class:`LaunchError` if it is missing."""
    path = shutil.which(tool)
    if path is None:
        raise LaunchError(f"{tool} is not installed (make system-packages installs it)")
    return path


def generate_key(path: Path, comment: str) -> Path:
    """An unencrypted ed25519 key pair at *path* (and ``path.pub``), unless it exists."""
    if not path.exists():
        subprocess.run(
            [need("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
            check=True,
        )
    return path


def public_key_file(private_key: Path) -> Path:
    """Where ssh-keygen put the public half of *private_key*."""
    return private_key.with_name(private_key.name + ".pub")


def public_key(private_key: Path) -> str:
    """``TYPE BASE64`` of *private_key*'s public half (comment dropped)."""
    kind, blob = public_key_file(private_key).read_text(encoding="ascii").split()[:2]
    return f"{kind} {blob}"


def known_hosts_line(port: int, host_key: str, host: str = HOST) -> str:
    """A known_hosts line for a server on a non-default port; *host_key* is ``TYPE BASE64``."""
    return f"[{host}]:{port} {host_key}\n"


def openssh_options(known_hosts: Path, key: Path, **more: str) -> list[str]:
    """OpenSSH client options: this key only, strict host key checking, never prompt.

    *more* adds ``-o NAME=VALUE`` options (the benchmarks pin algorithms
    and turn off whatever could differ between two servers).
    """
    settings = {
        "BatchMode": "yes",
        "IdentitiesOnly": "yes",
        "UserKnownHostsFile": str(known_hosts),
        "StrictHostKeyChecking": "yes",
        "LogLevel": "ERROR",
        **more,
    }
    options = ["-i", str(key)]
    for name, value in settings.items():
        options += ["-o", f"{name}={value}"]
    return options


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the kernel's choice), for servers that need one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


# -- server processes ------------------------------------------------------------


class ServerProcess:
    """A server child process whose readiness shows as a line in its output.

    Subclasses build the command line; :meth:`launch` starts it and waits
    for the line, :meth:`stop` ends it (SIGTERM, then SIGKILL).  It may be
    launched again after a stop: only what it printed since is looked at.
    """

    label = "server"

    def __init__(self, log: Path) -> None:
        #: Standard error (and standard output, unless launched with a console file).
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def launch(
        self,
        argv: Sequence[str],
        ready: re.Pattern[str],
        *,
        console: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> re.Match[str]:
        """Start *argv* and return the match of *ready* in its output.

        Standard error goes to the log; standard output goes to *console* if
        given (where *ready* is then looked for), else to the log as well.
        The match's ``string`` is all it printed there until it was ready.
        *env* adds to this process's environment.
        """
        watched = console or self.log
        with self.log.open("ab") as log, watched.open("ab") as out:
            start = out.tell()
            self.process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
                env={**os.environ, **(env or {})},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with watched.open("rb") as out:
                out.seek(start)
                match = ready.search(out.read().decode("utf-8", "replace"))
            if match:
                return match
            if self.process.poll() is not None:
                break
            time.sleep(POLL_INTERVAL)
        self.stop()
        raise LaunchError(
            f"{self.label} did not start; its log:\n{self.log.read_text(errors='replace')}"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class OmshProcess(ServerProcess):
    """``omsh serve`` on 127.0.0.1 with free ports and its own data and key folders.

    ROOT holds ``var/`` (the store), ``keys/`` (host key, and
    authorized_keys with *client_public_key* for the first admin),
    ``omsh.log`` (standard error) and ``omsh.out`` (what it prints).
    """

    label = "omsh"

    def __init__(
        self,
        root: Path,
        client_public_key: Path,
        *,
        cdmi: bool = True,
        serve_args: Sequence[str] = (),
        program: Sequence[str] = (OMSH,),
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(root / "omsh.log")
        self.root = root
        self.data = root / "var"
        self.keys = root / "keys"
        self.keys.mkdir(parents=True, exist_ok=True)
        self.authorized_keys = self.keys / "authorized_keys"
        self.authorized_keys.write_text(client_public_key.read_text(encoding="ascii"))
        self.console = root / "omsh.out"
        #: Serve CDMI too (on a free port); without it, ``--cdmi-port -1``.
        self.cdmi = cdmi
        #: More ``omsh serve`` options, e.g. shorter throttling delays.
        self.serve_args = tuple(serve_args)
        #: What runs ``omsh``: the console script, or ``python -c PROGRAM``.
        self.program = tuple(program)
        self.env = {"PYTHONUNBUFFERED": "1", **(env or {})}
        #: Where the store is: ``--data DIR`` (ROOT/var), or e.g. ``--storage URI``.
        self.store_args: tuple[str, ...] = ("--data", str(self.data))
        self.port = 0
        #: The host key's fingerprint as printed at start (``SHA256:…``, what plink takes).
        self.host_key = ""
        #: Base URL of the CDMI endpoint, ending in "/", and its port.
        self.cdmi_url = ""
        self.cdmi_port = 0

    def start(self, timeout: float = 60.0) -> Self:
        """Start the server and wait until it listens (on CDMI too, if served)."""
        argv = [
            *self.program,
            "serve",
            *self.store_args,
            "--keys",
            str(self.keys),
            "--host",
            HOST,
            "--ssh-port",
            "0",
            "--cdmi-port",
            "0" if self.cdmi else "-1",
            *self.serve_args,
        ]
        ready = _CDMI_LISTENING if self.cdmi else _SSH_LISTENING
        printed = self.launch(argv, ready, console=self.console, env=self.env, timeout=timeout)
        listening = _SSH_LISTENING.search(printed.string)
        host_key = _HOST_KEY.search(printed.string)
        assert listening and host_key, "omsh prints its host key and SSH port before CDMI's"
        self.port = int(listening.group(1))
        self.host_key = host_key.group(1)
        if self.cdmi:
            self.cdmi_url, self.cdmi_port = printed.group(1), int(printed.group(2))
        return self

    def public_host_key(self) -> str:
        """``TYPE BASE64`` of the server's host key (made at its first start)."""
        return public_key(self.keys / HOST_KEY_NAME)

    def known_hosts_line(self) -> str:
        """The line that lets a client check this server's host key strictly."""
        return known_hosts_line(self.port, self.public_host_key())
