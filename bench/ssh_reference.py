"""The reference: OpenSSH's own ``sshd``, run unprivileged in a temp folder.

It gets a freshly generated ed25519 host key, its own config, PID file and
authorized_keys file, listens on a free loopback port and logs to stderr
(``-D -e``), which we keep in a file.  It runs as whoever runs the bench and
accepts only that user, with the client's key.

One deliberate deviation from a stock set-up: ``SetEnv HOME=<empty folder>``.
``bash -c CMD`` started by sshd sources ``~/.bashrc``; on a developer's
machine that can run tools like ``pyenv init`` (about 100 ms here) that have
nothing to do with OpenSSH and would flatter omsh.  With an empty home the
reference pays only for sshd, ``bash -c`` and the command itself.

It also serves SFTP (``internal-sftp``), so the client end-to-end tests can
show what sftp, scp, sshfs, rclone and friends do against the real thing.
"""

from __future__ import annotations

import os
import pwd
import re
from pathlib import Path

from bench.launcher import HOST, LaunchError, ServerProcess, free_port, generate_key, public_key
from bench.ssh_client import Endpoint

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")


def find_sshd() -> str:
    """sshd must be started by absolute path (it re-executes itself)."""
    for candidate in SSHD_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    raise LaunchError("sshd is not installed (apt-get install openssh-server)")


class OpenSSHServer(ServerProcess):
    """A private ``sshd -D -e`` on a loopback port."""

    label = "openssh"

    def __init__(
        self, workdir: Path, client_public_key: Path, *, read_only_sftp: bool = False
    ) -> None:
        super().__init__(workdir / "sshd.log")
        #: ``internal-sftp -R``: SFTP refuses every change, as omsh does in /.snapshots.
        self.read_only_sftp = read_only_sftp
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host_key = generate_key(workdir / "ssh_host_ed25519_key", "omsh-bench@sshd")
        self.authorized_keys = workdir / "authorized_keys"
        self.authorized_keys.write_text(client_public_key.read_text(encoding="ascii"))
        self.home = workdir / "home"
        self.home.mkdir(exist_ok=True)
        self.config = workdir / "sshd_config"
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.port = 0

    def _write_config(self) -> None:
        settings = [
            f"Port {self.port}",
            f"ListenAddress {HOST}",
            f"HostKey {self.host_key}",
            f"PidFile {self.workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            f"AllowUsers {self.user}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            "PrintMotd no",
            "UseDNS no",
            "Subsystem sftp internal-sftp" + (" -R" if self.read_only_sftp else ""),
            f"SetEnv HOME={self.home}",
        ]
        self.config.write_text("\n".join(settings) + "\n", encoding="ascii")

    def start(self, timeout: float = 15.0) -> Endpoint:
        sshd = find_sshd()
        if os.getuid() == 0:
            PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        self.port = free_port()
        self._write_config()
        ready = re.compile(re.escape(f"Server listening on {HOST} port {self.port}"))
        self.launch([sshd, "-f", str(self.config), "-D", "-e"], ready, timeout=timeout)
        return Endpoint(self.label, HOST, self.port, self.user, public_key(self.host_key))
