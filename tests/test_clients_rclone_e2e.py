"""rclone against a real omsh server, and the same commands against OpenSSH's sshd.

The rclone remote is configured as a user would: ``type = sftp`` with host,
port, user, key and known_hosts file, nothing else, so rclone probes the
server itself (hash commands over exec, SETSTAT for modification times,
large pipelined writes).  sshd shows in each test what that produces against
the real thing; omsh must produce the same.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e import Result, run
from tests.reference_sshd import (
    Target,
    brief,
    failed,
    need_fuse,
    targets_fixture,
    tool,
    unmount,
)

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
#: Sizes around rclone's 32 KiB write chunks and the SFTP packet limits.
EDGE_SIZES = [
    0,
    1,
    1024,
    32767,
    32768,
    32769,
    65536,
    100_000,
    MiB,
    MiB + 1,
    5 * MiB,
    20 * MiB,
    50 * MiB,
]
#: Folders (and name parts) with spaces and non-ASCII characters.
FOLDERS = ["", "with space", "é à ü", "日本語/深い", "emoji 🎉"]
TREE_FILES = 100


def make_tree(root: Path, count: int, largest: int) -> dict[str, bytes]:
    """*count* random files below *root*: the edge sizes first, then 1 KiB-2 MiB.

    Returns relative path -> content, for comparing with what arrived.
    """
    chooser = random.Random(8)
    sizes = [size for size in EDGE_SIZES if size <= largest]
    sizes += [int(1024 * 2 ** chooser.uniform(0, 11)) for _ in range(count - len(sizes))]
    tree = {}
    for index, size in enumerate(sizes):
        folder = FOLDERS[index % len(FOLDERS)]
        relative = "/".join(filter(None, [folder, f"file {index} ü {size}.bin"]))
        tree[relative] = os.urandom(size)
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(tree[relative])
    return tree


def rclone_config(path: Path, targets: tuple[Target, ...]) -> Path:
    """One sftp remote per target, named after it, with no options beyond the connection."""
    sections = [
        f"[{target.name}]\ntype = sftp\nhost = 127.0.0.1\nport = {target.port}\n"
        f"user = {target.user}\nkey_file = {target.key}\n"
        f"known_hosts_file = {target.known_hosts()}\n"
        for target in targets
    ]
    path.write_text("\n".join(sections))
    return path


class Rclone:
    """Runs rclone with a config file for both targets."""

    def __init__(self, workdir: Path, targets: tuple[Target, ...]) -> None:
        self.binary = tool("rclone", "rclone")
        self.workdir = workdir
        self.config = rclone_config(workdir / "rclone.conf", targets)

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--config", str(self.config), *args]

    def __call__(self, *args: str, timeout: float = 180) -> Result:
        return run(self.argv(*args, "-v", "--stats-one-line"), timeout=timeout)


def rclone_path(target: Target, path: str) -> str:
    """``REMOTE:PATH`` for rclone; remotes are named after their targets."""
    return f"{target.name}:{path}"


def stored_digests(target: Target, base: str, tree: dict[str, bytes]) -> dict[str, str]:
    """Relative path -> SHA-256 of what *target* stored under *base*."""
    found = target.sha256([f"{base}/{relative}" for relative in tree])
    return {relative: found[f"{base}/{relative}"] for relative in tree}


def expected_digests(tree: dict[str, bytes]) -> dict[str, str]:
    """Relative path -> SHA-256 of the local content, to compare with :func:`stored_digests`."""
    return {relative: hashlib.sha256(data).hexdigest() for relative, data in tree.items()}


def transfers(result: Result) -> list[str]:
    """rclone's per-file INFO lines (copied, deleted, modification time updated)."""
    return re.findall(r"INFO  : (.+: (?:Copied|Deleted|Updated|Moved).*)", result.err)


targets = targets_fixture("rclone")


@pytest.fixture(scope="module")
def rclone(targets: tuple[Target, Target], tmp_path_factory: pytest.TempPathFactory) -> Rclone:
    """rclone with a remote for each target (rclone skips the module if it is missing)."""
    return Rclone(tmp_path_factory.mktemp("rclone"), targets)


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """The tree to copy: :data:`TREE_FILES` files up to 50 MiB, written once per module."""
    root = tmp_path_factory.mktemp("tree")
    return root, make_tree(root, TREE_FILES, 50 * MiB)


@pytest.fixture(scope="module")
def copied(targets, rclone, big_tree) -> dict[str, Result]:
    """``rclone copy`` of the big tree to each target's ``copy`` folder, once."""
    local, _ = big_tree
    return {
        target.name: rclone("copy", str(local), rclone_path(target, target.path("copy")))
        for target in targets
    }


def test_copy_arrives_byte_identical(targets, big_tree, copied):
    """Every file arrives whole: pkg/sftp pads its writes, which broke files > 32 KiB."""
    _, tree = big_tree
    for target in targets:
        assert copied[target.name].status == 0, failed(target, "rclone copy", copied[target.name])
        assert stored_digests(target, target.path("copy"), tree) == expected_digests(tree), (
            target.name
        )


def test_check_compares_hashes(targets, rclone, big_tree, copied):
    """rclone finds a common hash (``md5sum``/``sha1sum`` over exec), so check compares
    content, not just sizes."""
    local, tree = big_tree
    for target in targets:
        checked = rclone("check", str(local), rclone_path(target, target.path("copy")))
        assert checked.status == 0, failed(target, "rclone check", checked)
        assert "No common hash found" not in checked.err, failed(target, "rclone check", checked)
        assert f"{len(tree)} matching files" in checked.err, failed(target, "rclone check", checked)


def test_second_sync_transfers_nothing(targets, rclone, tmp_path):
    """rclone keeps the source's modification times (SETSTAT) and compares them next time."""
    tree = make_tree(tmp_path, 12, 100_000)
    for target in targets:
        base = target.path("sync")
        first = rclone("sync", str(tmp_path), rclone_path(target, base))
        assert first.status == 0, failed(target, "first rclone sync", first)
        assert len(transfers(first)) == len(tree), failed(target, "first rclone sync", first)
        second = rclone("sync", str(tmp_path), rclone_path(target, base))
        assert second.status == 0, failed(target, "second rclone sync", second)
        assert transfers(second) == [], failed(target, "second rclone sync", second)
        assert "There was nothing to transfer" in second.err, failed(
            target, "second rclone sync", second
        )
        for relative, data in tree.items():
            local_mtime = int((tmp_path / relative).stat().st_mtime)
            assert target.mtime(f"{base}/{relative}") == local_mtime, (target.name, relative)
            assert len(data) == target.size(f"{base}/{relative}"), (target.name, relative)


# -- rclone mount ------------------------------------------------------------------

#: Written through the mount: new small, new > 32 KiB, new in a new folder.
MOUNT_WRITES = {
    "note.txt": b"written through rclone mount\n",
    "big é.bin": os.urandom(3 * MiB + 123),
    "new folder/inner.bin": os.urandom(40_000),
}


def wait_for_uploads(log: Path, count: int, timeout: float = 30) -> str:
    """Wait until *count* uploads have finished: rclone 1.60 does not upload what
    is still queued when it is unmounted (it leaves it for the next mount).

    Returns the log; a failed upload ends the wait early (rclone would retry
    in 10 s, and the log line says why).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "failed to upload" in text or text.count("upload succeeded") >= count:
            return text
        time.sleep(0.1)
    return log.read_text(errors="replace")


def write_through_mount(rclone: Rclone, target: Target, workdir: Path) -> str:
    """Mount *target*'s ``mount`` folder, write :data:`MOUNT_WRITES` and an
    overwrite of ``existing.txt``, wait for the uploads, unmount; returns the log."""
    fusermount = need_fuse()
    mountpoint = workdir / f"mnt-{target.name}"
    mountpoint.mkdir()
    log = workdir / f"mount-{target.name}.log"
    argv = rclone.argv(
        "mount",
        rclone_path(target, target.path("mount")),
        str(mountpoint),
        "--vfs-cache-mode",
        "writes",
        "--vfs-write-back",  # the default 5 s just makes the test wait longer
        "1s",
        "--cache-dir",
        str(workdir / f"cache-{target.name}"),
        "-v",
    )
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 15
        while not os.path.ismount(mountpoint):
            assert process.poll() is None, f"rclone mount exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"rclone mount timed out:\n{log.read_text()}"
            time.sleep(0.05)
        for relative, data in MOUNT_WRITES.items():
            (mountpoint / relative).parent.mkdir(exist_ok=True)
            (mountpoint / relative).write_bytes(data)
        with (mountpoint / "existing.txt").open("ab") as stream:
            stream.write(b"appended through the mount\n")
        text = wait_for_uploads(log, len(MOUNT_WRITES) + 1)
        assert run([fusermount, "-u", str(mountpoint)]).status == 0, "fusermount3 -u failed"
        process.wait(timeout=15)
        return text
    finally:
        unmount(mountpoint)
        if process.poll() is None:
            process.kill()
            process.wait()


def test_mount_with_write_cache_stores_objects(targets, rclone, tmp_path):
    """What is written through the mount (new files, a new folder, an append to
    an existing file) is stored once rclone has uploaded it."""
    for target in targets:
        base = target.path("mount")
        target.make_dirs(base)
        existing = tmp_path / f"existing-{target.name}.txt"
        existing.write_bytes(b"first line\n")
        put = target.sftp(f'put "{existing}" "{base}/existing.txt"')
        assert put.status == 0, failed(target, "sftp put", put)
        log = write_through_mount(rclone, target, tmp_path)
        assert "failed to upload" not in log, f"{target.name}: rclone mount log:\n{brief(log)}"
        names = ["big é.bin", "existing.txt", "new folder", "note.txt"]
        assert target.names(base) == names, f"{target.name}: rclone mount log:\n{brief(log)}"
        expected = {
            **MOUNT_WRITES,
            "existing.txt": b"first line\nappended through the mount\n",
        }
        assert stored_digests(target, base, expected) == expected_digests(expected), (
            f"{target.name}: rclone mount log:\n{brief(log)}"
        )
