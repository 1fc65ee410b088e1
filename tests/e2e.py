"""Helpers for end-to-end tests: a real ``omsh serve`` process and real clients.

:class:`OmshServer` starts the console script on a free loopback port with its
own data and key folders, waits for the "listening" line, and knows how to
reach it with OpenSSH (``ssh``, ``sftp``, ``scp``; key auth) and PuTTY
(``plink``; password via ``-pwfile``, never on the command line).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ADMIN_PASSWORD = "admin-e2e-secret"
OMSH = str(Path(sys.executable).with_name("omsh"))
#: ``python -c`` program: lower argon2's cost (new hashes and the unknown-user
#: dummy alike, so unknown users still cost what known ones do), then serve.
_CHEAP_HASHING = """
import sys
from argon2 import PasswordHasher
from omsh.store import principals
principals._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
principals._DUMMY_HASH = principals._hasher.hash("omsh: no such user")
from omsh.cli import main
sys.exit(main(sys.argv[1:]))
"""
_LISTENING = re.compile(r"SSH listening on [\d.]+:(\d+)")
_CDMI_LISTENING = re.compile(r"CDMI listening on (https?://[\d.]+:(\d+)/)")
_HOST_KEY = re.compile(r"host key (SHA256:\S+)")


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(f"{tool} is not installed (make test installs it in CI)")
    return path


def openssh_options(known_hosts: Path, key: Path) -> list[str]:
    """OpenSSH client options: this key only, strict host key checking, never prompt."""
    return [
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "LogLevel=ERROR",
        "-i",
        str(key),
    ]


@dataclass
class Result:
    status: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def run(argv: list[str], *, stdin: bytes = b"", timeout: float = 60) -> Result:
    """Run a client to completion and collect its status and output."""
    done = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
    return Result(done.returncode, done.stdout, done.stderr)


class OmshServer:
    """One server process with its data, host keys and a client key pair."""

    def __init__(
        self, root: Path, serve_args: tuple[str, ...] = (), *, cheap_hashing: bool = False
    ) -> None:
        self.root = root
        #: More ``omsh serve`` options, e.g. shorter throttling delays.
        self.serve_args = serve_args
        #: argon2 at its lowest cost in the server, for tests that check many
        #: passwords but are not about hashing (brute force): at the default
        #: cost every check takes a core for ~0.5 s.
        self.cheap_hashing = cheap_hashing
        self.data = root / "var"
        self.keys = root / "keys"
        self.client = root / "client"
        self.keys.mkdir(parents=True, exist_ok=True)
        self.client.mkdir(parents=True, exist_ok=True)
        self.client_key = self.client / "id_ed25519"
        if not self.client_key.exists():
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "e2e@client",
                    "-f",
                    str(self.client_key),
                ],
                check=True,
            )
            shutil.copy(f"{self.client_key}.pub", self.keys / "authorized_keys")
        self.password_file = self.client / "admin.pw"
        self.password_file.write_text(ADMIN_PASSWORD + "\n")
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.cdmi_port = 0
        #: Base URL of the CDMI endpoint, ending in "/".
        self.cdmi_url = ""
        self.host_key = ""
        self.log = root / "server.log"

    # -- lifecycle -------------------------------------------------------

    def start(self, timeout: float = 30.0) -> OmshServer:
        env = {**os.environ, "OMSH_ADMIN_PASSWORD": ADMIN_PASSWORD, "PYTHONUNBUFFERED": "1"}
        log = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        command = [sys.executable, "-c", _CHEAP_HASHING] if self.cheap_hashing else [OMSH]
        self.process = subprocess.Popen(
            [
                *command,
                "serve",
                "--data",
                str(self.data),
                "--keys",
                str(self.keys),
                "--host",
                "127.0.0.1",
                "--ssh-port",
                "0",
                "--cdmi-port",
                "0",
                *self.serve_args,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"server exited early; log:\n{self.log.read_text()}")
            if match := _HOST_KEY.search(line):
                self.host_key = match.group(1)
            if match := _LISTENING.search(line):
                self.port = int(match.group(1))
            if match := _CDMI_LISTENING.search(line):
                self.cdmi_url, self.cdmi_port = match.group(1), int(match.group(2))
                return self
        raise RuntimeError("server did not start in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> OmshServer:
        self.stop()
        return self.start()

    def add_users(self, users: Mapping[str, Sequence[str]]) -> OmshServer:
        """Create users (name -> groups) that log in with the client key, then restart.

        Uses ``omsh user add`` as an operator would: the store is opened by
        one process at a time, so the server is stopped meanwhile.
        """
        self.stop()
        for name, groups in users.items():
            argv = [OMSH, "user", "add", name, "--key", f"{self.client_key}.pub"]
            for group in groups:
                argv += ["--group", group]
            added = run([*argv, "--data", str(self.data)])
            if added.status != 0:
                raise RuntimeError(f"omsh user add {name} failed: {added.err}")
        return self.start()

    # -- OpenSSH ---------------------------------------------------------

    def known_hosts(self) -> Path:
        path = self.client / "known_hosts"
        public = (self.keys / "ssh_host_ed25519_key.pub").read_text().split()
        path.write_text(f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n")
        return path

    def ssh_options(self) -> list[str]:
        return openssh_options(self.known_hosts(), self.client_key)

    def ssh_argv(self, *extra: str, user: str = "admin") -> list[str]:
        return [need("ssh"), "-p", str(self.port), *self.ssh_options(), *extra, f"{user}@127.0.0.1"]

    def ssh(
        self,
        command: str,
        *,
        stdin: bytes = b"",
        user: str = "admin",
        extra: tuple[str, ...] = (),
        timeout: float = 60,
    ) -> Result:
        """``ssh admin@host COMMAND`` with key auth; returns status and output."""
        return run([*self.ssh_argv(*extra, user=user), command], stdin=stdin, timeout=timeout)

    def sftp_argv(self, *extra: str, user: str = "admin") -> list[str]:
        return [
            need("sftp"),
            "-P",
            str(self.port),
            *self.ssh_options(),
            *extra,
            f"{user}@127.0.0.1",
        ]

    def sftp(
        self, batch: str, *, user: str = "admin", extra: tuple[str, ...] = (), timeout: float = 120
    ) -> Result:
        """OpenSSH ``sftp -b -``: *batch* holds one sftp command per line.

        Lines are stripped and blank ones dropped, so a batch can be an
        indented triple-quoted string.
        """
        lines = [line.strip() for line in batch.splitlines() if line.strip()]
        argv = self.sftp_argv("-b", "-", *extra, user=user)
        return run(argv, stdin="".join(f"{line}\n" for line in lines).encode(), timeout=timeout)

    def remote(self, path: str, user: str = "admin") -> str:
        """``user@127.0.0.1:path``, a remote operand for ``scp``."""
        return f"{user}@127.0.0.1:{path}"

    def scp(self, *operands: str, timeout: float = 120) -> Result:
        """OpenSSH ``scp`` with key auth; pass ``-O`` first for the legacy protocol."""
        return run(
            [need("scp"), "-P", str(self.port), *self.ssh_options(), *operands], timeout=timeout
        )

    # -- PuTTY -----------------------------------------------------------

    def plink(
        self,
        command: str,
        *,
        user: str = "admin",
        password_file: Path | None = None,
        stdin: bytes = b"",
        timeout: float = 60,
    ) -> Result:
        return run(
            [
                need("plink"),
                "-batch",
                "-ssh",
                "-P",
                str(self.port),
                "-hostkey",
                self.host_key,
                "-pwfile",
                str(password_file or self.password_file),
                "-noagent",
                f"{user}@127.0.0.1",
                command,
            ],
            stdin=stdin,
            timeout=timeout,
        )
