"""The OpenSSH client command line, identical for omsh and the reference.

Both servers are reached by the same ``ssh`` binary with the same options:
no user or system configuration (``-F /dev/null``), key authentication with
one ed25519 key, strict host-key checking against our own known_hosts file,
no connection sharing (``ControlMaster=no``), no compression, no PTY, and a
pinned cipher and key exchange so that both sides do the same cryptography.
The options every OpenSSH command line gets, in the tests as here, come from
:func:`bench.launcher.openssh_options`; this adds what the comparison pins.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from bench.harness import BenchError, output_of
from bench.launcher import generate_key, known_hosts_line, need, openssh_options
from bench.runner import option

DEFAULT_CIPHER = "aes128-gcm@openssh.com"
#: OpenSSH would pick sntrup761x25519 against sshd, which asyncssh lacks;
#: pinning curve25519 keeps the key exchange the same on both sides.
DEFAULT_KEX = "curve25519-sha256"
HOST_KEY_ALGORITHM = "ssh-ed25519"

_KEX = re.compile(r"kex: algorithm: (\S+)")
_CIPHER = re.compile(r"kex: server->client cipher: (\S+) MAC: (\S+) compression: (\S+)")
_HOST_KEY = re.compile(r"kex: host key algorithm: (\S+)")


def cipher_option() -> Any:
    """The ``--cipher`` setting of a group that compares omsh with sshd."""
    return option(DEFAULT_CIPHER, str, f"cipher pinned for both servers ({DEFAULT_CIPHER})")


def kex_option() -> Any:
    """The ``--kex`` setting of a group that compares omsh with sshd."""
    return option(DEFAULT_KEX, str, f"key exchange pinned for both servers ({DEFAULT_KEX})")


def versions() -> dict[str, Any]:
    """The SSH implementations compared, for the JSON document: OpenSSH's and omsh's asyncssh."""
    return {"openssh": output_of(["ssh", "-V"]), "asyncssh": asyncssh.__version__}


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
            known.write(known_hosts_line(endpoint.port, endpoint.host_key, endpoint.host))

    def options(self) -> list[str]:
        """The options every connection uses, to either server."""
        pinned = {
            "GlobalKnownHostsFile": "/dev/null",
            "UpdateHostKeys": "no",
            "ControlMaster": "no",
            "ControlPath": "none",
            "Compression": "no",
            "RequestTTY": "no",
            "ForwardAgent": "no",
            "ForwardX11": "no",
            "Ciphers": self.cipher,
            "KexAlgorithms": self.kex,
            "HostKeyAlgorithms": HOST_KEY_ALGORITHM,
        }
        return ["-F", "/dev/null", *openssh_options(self.known_hosts, self.key, **pinned)]

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
