"""The server's persistent host key.

Generated once (Ed25519) into the keys folder with mode 0600 and reused on
every start, so clients' ``known_hosts`` entries stay valid.  A key file
readable by others is refused rather than used, as sshd does.
"""

from __future__ import annotations

import os
import stat

import asyncssh

HOST_KEY_NAME = "ssh_host_ed25519_key"


class HostKeyError(Exception):
    pass


def load_or_create_host_key(keys_dir: str) -> asyncssh.SSHKey:
    os.makedirs(keys_dir, exist_ok=True)
    path = os.path.join(keys_dir, HOST_KEY_NAME)
    if not os.path.exists(path):
        key = asyncssh.generate_private_key("ssh-ed25519", comment="omsh host key")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as stream:
            stream.write(key.export_private_key())
        with open(path + ".pub", "wb") as stream:
            stream.write(key.export_public_key())
        return key
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise HostKeyError(f"{path} is accessible by others (mode {mode:o}); chmod 600 it")
    return asyncssh.read_private_key(path)


def fingerprint(key: asyncssh.SSHKey) -> str:
    return key.get_fingerprint("sha256")
