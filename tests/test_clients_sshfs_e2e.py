"""sshfs against a real omsh server, and the same steps against OpenSSH's sshd.

A mounted folder is used with everyday shell tools: redirection creates a
file and writes to it while it is open (so the server must show a file that
is still being written), ``>>`` appends, ``sed -i`` writes a temporary file and renames it
over the original, ``touch`` and ``truncate`` change attributes of an
existing file.  Every step must succeed on omsh as it does on sshd, and the
stored result must be the same.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e import run
from tests.reference_sshd import (
    OLD_MTIME,
    Target,
    failed,
    need_fuse,
    targets_fixture,
    tool,
    unmount,
)

pytestmark = pytest.mark.e2e

#: Shell steps run in the mounted folder, in order; ``{local}`` is a local file.
STEPS = [
    "echo x > new.txt",
    "echo y >> new.txt",
    "cp {local} copy.bin",
    "printf 'alpha\\nbeta\\n' > text.txt",
    "sed -i s/alpha/gamma/ text.txt",
    "mv copy.bin moved.bin",
    f"touch -d @{OLD_MTIME} moved.bin new.txt",
    "touch new.txt",
    "printf 'to be emptied\\n' > trunc.txt",
    "truncate -s 0 trunc.txt",
    "echo gone > gone.txt",
    "rm gone.txt",
]
LOCAL_SIZE = 100_000


@contextmanager
def sshfs(target: Target, mountpoint: Path) -> Iterator[Path]:
    """``sshfs user@127.0.0.1:/ MOUNTPOINT`` as a user types it (key, known_hosts,
    strict host key checking, never a prompt); unmounted whatever happens."""
    binary = tool("sshfs", "sshfs")
    need_fuse()
    mountpoint.mkdir()
    options = (
        f"IdentityFile={target.key},UserKnownHostsFile={target.known_hosts()},"
        "StrictHostKeyChecking=yes,BatchMode=yes"
    )
    mounted = run(
        [
            binary,
            "-p",
            str(target.port),
            "-o",
            options,
            f"{target.user}@127.0.0.1:/",
            str(mountpoint),
        ]
    )
    assert mounted.status == 0, failed(target, "sshfs", mounted)
    try:
        yield mountpoint
    finally:
        unmount(mountpoint)


def run_steps(mountpoint: Path, local: Path) -> list[str]:
    """Run :data:`STEPS` in *mountpoint*; returns a line for each step that failed."""
    failures = []
    for step in STEPS:
        command = step.format(local=local)
        done = run(["sh", "-c", f"cd '{mountpoint}' && {command}"])
        if done.status != 0:
            failures.append(f"{step}: exit {done.status}: {done.err.strip()}")
    return failures


def listed_sizes(mountpoint: Path) -> dict[str, int]:
    """Name -> size as ``ls -l`` shows them in the mounted folder."""
    listing = run(["ls", "-l", str(mountpoint)])
    assert listing.status == 0, listing.err
    sizes = {}
    for line in listing.out.splitlines():
        if match := re.match(r"\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+\S+\s+(.+)$", line):
            sizes[match.group(2)] = int(match.group(1))
    return sizes


targets = targets_fixture("sshfs")


def test_shell_tools_in_a_mounted_folder(targets, tmp_path):
    local = tmp_path / "local.bin"
    local.write_bytes(os.urandom(LOCAL_SIZE))
    expected = {
        "moved.bin": local.read_bytes(),
        "new.txt": b"x\ny\n",
        "text.txt": b"gamma\nbeta\n",
        "trunc.txt": b"",
    }
    for target in targets:
        folder = target.path("tools")
        target.make_dirs(folder)
        started = int(time.time()) - 1  # same clock: the server runs here
        with sshfs(target, tmp_path / f"mnt-{target.name}") as mountpoint:
            mounted = mountpoint / folder.lstrip("/")
            failures = run_steps(mounted, local)
            assert not failures, f"{target.name}, steps that failed:\n" + "\n".join(failures)
            sizes = listed_sizes(mounted)
        assert sizes == {name: len(data) for name, data in expected.items()}, target.name
        assert target.names(folder) == sorted(expected), target.name
        for name, data in expected.items():
            assert target.read(f"{folder}/{name}") == data, (target.name, name)
        assert target.mtime(f"{folder}/moved.bin") == OLD_MTIME, f"{target.name}: touch -d"
        assert target.mtime(f"{folder}/new.txt") >= started, f"{target.name}: touch"
