"""Helpers for end-to-end tests: a real ``omsh serve`` process and real clients.

:class:`OmshServer` is :class:`bench.launcher.OmshProcess` (the launcher the
benchmarks use too: ``omsh serve`` on free 127.0.0.1 ports with its own data
and key folders) plus a client key pair, the admin's password, and the
clients that reach it: OpenSSH (``ssh``, ``sftp``, ``scp``; key auth, see
:class:`OpenSSHClients`) and PuTTY (``plink``; password via ``-pwfile``,
never on the command line).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.launcher import (
    HOST,
    OMSH,
    OmshProcess,
    generate_key,
    need,
    openssh_options,
    public_key_file,
)

ADMIN_PASSWORD = "admin-e2e-secret"
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


def run(
    argv: list[str],
    *,
    stdin: bytes = b"",
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run a client to completion and collect its status and output (*env* added to ours)."""
    environment = {**os.environ, **env} if env else None
    done = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, env=environment)
    return Result(done.returncode, done.stdout, done.stderr)


class OpenSSHClients:
    """OpenSSH's ``ssh``, ``sftp -b`` and ``scp`` against one server on 127.0.0.1.

    A subclass says where the server listens (:attr:`port`), which key logs
    in (:attr:`key`) as whom by default (:attr:`user`), and which known_hosts
    file holds the server's host key (:meth:`known_hosts`).
    """

    user: str
    key: Path
    port: int

    def known_hosts(self) -> Path:
        """A known_hosts file holding this server's host key for ``[127.0.0.1]:port``."""
        raise NotImplementedError

    def client(self, name: str) -> str:
        """The path of the OpenSSH client *name*."""
        return need(name)

    def ssh_options(self) -> list[str]:
        """OpenSSH options: this key only, strict host key checking, never prompt."""
        return openssh_options(self.known_hosts(), self.key)

    def remote(self, path: str, user: str | None = None) -> str:
        """``user@127.0.0.1:path``, a remote operand for ``scp``."""
        return f"{user or self.user}@{HOST}:{path}"

    def client_argv(self, name: str, *extra: str) -> list[str]:
        """``NAME -p|-P PORT OPTIONS EXTRA…``: client *name*'s command line before its operands."""
        port = "-p" if name == "ssh" else "-P"
        return [self.client(name), port, str(self.port), *self.ssh_options(), *extra]

    def ssh_argv(self, *extra: str, user: str | None = None) -> list[str]:
        return [*self.client_argv("ssh", *extra), f"{user or self.user}@{HOST}"]

    def ssh(
        self,
        command: str,
        *,
        stdin: bytes = b"",
        user: str | None = None,
        extra: tuple[str, ...] = (),
        timeout: float = 60,
    ) -> Result:
        """``ssh USER@127.0.0.1 COMMAND`` with key auth; returns status and output."""
        return run([*self.ssh_argv(*extra, user=user), command], stdin=stdin, timeout=timeout)

    def ok(self, command: str, *, stdin: bytes = b"", user: str | None = None) -> str:
        """``ssh`` *command*, which must succeed (exit 0); its standard output."""
        result = self.ssh(command, stdin=stdin, user=user)
        assert result.status == 0, (command, result.err)
        return result.out

    def sftp_argv(self, *extra: str, user: str | None = None) -> list[str]:
        return [*self.client_argv("sftp", *extra), f"{user or self.user}@{HOST}"]

    def sftp(
        self,
        batch: str,
        *,
        user: str | None = None,
        extra: tuple[str, ...] = (),
        timeout: float = 120,
    ) -> Result:
        """OpenSSH ``sftp -b -``: *batch* holds one sftp command per line.

        Lines are stripped and blank ones dropped, so a batch can be an
        indented triple-quoted string.
        """
        lines = [line.strip() for line in batch.splitlines() if line.strip()]
        argv = self.sftp_argv("-b", "-", *extra, user=user)
        return run(argv, stdin="".join(f"{line}\n" for line in lines).encode(), timeout=timeout)

    def scp(self, *operands: str, timeout: float = 120) -> Result:
        """OpenSSH ``scp`` with key auth; pass ``-O`` first for the legacy protocol."""
        return run(self.client_argv("scp", *operands), timeout=timeout)


class OmshServer(OmshProcess, OpenSSHClients):
    """One server process with its data, host keys and a client key pair."""

    user = "admin"

    def __init__(
        self, root: Path, serve_args: tuple[str, ...] = (), *, cheap_hashing: bool = False
    ) -> None:
        self.client_dir = root / "client"
        self.client_dir.mkdir(parents=True, exist_ok=True)
        self.client_key = generate_key(self.client_dir / "id_ed25519", "e2e@client")
        # argon2 at its lowest cost in the server, for tests that check many
        # passwords but are not about hashing (brute force): at the default
        # cost every check takes a core for ~0.5 s.
        program = (sys.executable, "-c", _CHEAP_HASHING) if cheap_hashing else (OMSH,)
        super().__init__(
            root,
            public_key_file(self.client_key),
            serve_args=serve_args,
            program=program,
            env={"OMSH_ADMIN_PASSWORD": ADMIN_PASSWORD},
        )
        self.key = self.client_key
        self.password_file = self.client_dir / "admin.pw"
        self.password_file.write_text(ADMIN_PASSWORD + "\n")

    # -- lifecycle -------------------------------------------------------

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
        path = self.client_dir / "known_hosts"
        path.write_text(self.known_hosts_line())
        return path

    # -- PuTTY -----------------------------------------------------------

    def plink_argv(
        self, *flags: str, user: str = "admin", password_file: Path | None = None
    ) -> list[str]:
        """``plink FLAGS… -ssh -P PORT -hostkey FINGERPRINT -pwfile FILE USER@127.0.0.1``."""
        return [
            need("plink"),
            *flags,
            "-ssh",
            "-P",
            str(self.port),
            "-hostkey",
            self.host_key,
            "-pwfile",
            str(password_file or self.password_file),
            "-noagent",
            f"{user}@{HOST}",
        ]

    def plink(
        self,
        command: str,
        *,
        user: str = "admin",
        password_file: Path | None = None,
        stdin: bytes = b"",
        timeout: float = 60,
    ) -> Result:
        """``plink -batch … COMMAND``: password authentication, never a prompt."""
        argv = self.plink_argv("-batch", user=user, password_file=password_file)
        return run([*argv, command], stdin=stdin, timeout=timeout)
