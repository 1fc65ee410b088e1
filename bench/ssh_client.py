"""The OpenSSH client command line, identical for omsh and the reference.

Both servers are reached by the same ``ssh`` binary with the same options:
no user or system configuration (``-F /dev/null``), key authentication with
one ed25519 key, strict host-key checking against our own known_hosts file,
no connection sharing (``ControlMaster=no``), no compression, no PTY, and a
pinned cipher and key exchange so that both sides do the same cryptography.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.harness import BenchError

DEFAULT_CIPHER = "aes128-gcm@openssh.com"
#: OpenSSH would pick sntrup761x25519 against sshd, which asyncssh lacks;
#: pinning curve25519 keeps the key exchange the same on both sides.
DEFAULT_KEX = "curve25519-sha256"
HOST_KEY_ALGORITHM = "ssh-ed25519"

_KEX = re.compile(r"kex: algorithm: (\S+)")
_CIPHER = re.compile(r"kex: server->client cipher: (\S+) MAC: (\S+) compression: (\S+)")
_HOST_KEY = re.compile(r"kex: host key algorithm: (\S+)")


def need(tool: str) -> str:
    """The absolute path of *tool*, or a :class:`BenchError` if it is missing."""
    path = shutil.which(tool)
    if path is None:
        raise BenchError(f"{tool} is not installed")
    return path


def generate_key(path: Path, comment: str) -> Path:
    """An unencrypted ed25519 key pair at *path* (and ``path.pub``)."""
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


@dataclass(frozen=True)
class Endpoint:
    """One server the client talks to."""

    label: str
    host: str
    port: int
    user: str
    #: The server's public host key, ``TYPE BASE64``.
    host_key: str


class SSHClient:
    """Builds ``ssh`` command lines for any :class:`Endpoint`."""

    def __init__(self, workdir: Path, *, cipher: str = DEFAULT_CIPHER, kex: str = DEFAULT_KEX):
        workdir.mkdir(parents=True, exist_ok=True)
        self.ssh = need("ssh")
        self.cipher = cipher
        self.kex = kex
        self.key = generate_key(workdir / "id_ed25519", "omsh-bench@client")
        self.known_hosts = workdir / "known_hosts"
        self.known_hosts.touch()

    def trust(self, endpoint: Endpoint) -> None:
        """Record *endpoint*'s host key, so strict checking passes."""
        with self.known_hosts.open("a", encoding="ascii") as known:
            known.write(f"[{endpoint.host}]:{endpoint.port} {endpoint.host_key}\n")

    def options(self) -> list[str]:
        """The options every connection uses, to either server."""
        settings = {
            "BatchMode": "yes",
            "IdentitiesOnly": "yes",
            "UserKnownHostsFile": str(self.known_hosts),
            "GlobalKnownHostsFile": "/dev/null",
            "StrictHostKeyChecking": "yes",
            "UpdateHostKeys": "no",
            "ControlMaster": "no",
            "ControlPath": "none",
            "Compression": "no",
            "RequestTTY": "no",
            "ForwardAgent": "no",
            "ForwardX11": "no",
            "LogLevel": "ERROR",
            "Ciphers": self.cipher,
            "KexAlgorithms": self.kex,
            "HostKeyAlgorithms": HOST_KEY_ALGORITHM,
        }
        options = ["-F", "/dev/null", "-i", str(self.key)]
        for name, value in settings.items():
            options += ["-o", f"{name}={value}"]
        return options

    def argv(self, endpoint: Endpoint, command: str, *, verbose: bool = False) -> list[str]:
        """``ssh [-v] OPTIONS -p PORT USER@HOST COMMAND``."""
        # -v must come before -o LogLevel, which would otherwise win.
        return [
            self.ssh,
            *(["-v"] if verbose else []),
            *self.options(),
            "-p",
            str(endpoint.port),
            f"{endpoint.user}@{endpoint.host}",
            command,
        ]

    def negotiated(self, endpoint: Endpoint, command: str) -> dict[str, str]:
        """What a real connection to *endpoint* agreed on: kex, host key, cipher, MAC."""
        done = subprocess.run(
            self.argv(endpoint, command, verbose=True),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
        log = done.stderr.decode("utf-8", "replace")
        cipher = _CIPHER.search(log)
        kex = _KEX.search(log)
        host_key = _HOST_KEY.search(log)
        if not (cipher and kex and host_key):
            raise BenchError(f"could not connect to {endpoint.label}: {log.strip()[-500:]}")
        return {
            "kex": kex.group(1),
            "host_key": host_key.group(1),
            "cipher": cipher.group(1),
            "mac": cipher.group(2),
            "compression": cipher.group(3),
        }
