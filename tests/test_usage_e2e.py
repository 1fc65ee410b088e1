"""Sizes end to end: ``ls -lh`` and ``du`` over OpenSSH ``ssh``, ``df`` in OpenSSH
``sftp`` (``statvfs@openssh.com``) and ``df`` on an sshfs mount.

Each is run against OpenSSH's sshd first (GNU ``ls``/``du`` on the real
files, ``statvfs`` of the real disk), which is what a user expects, then
against omsh, whose answers must read the same way and agree with its own
``df --json``.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from omsh.ssh.sftp import VFS_BLOCK
from tests.reference_sshd import OmshTarget, Target, failed, targets_fixture
from tests.test_clients_sshfs_e2e import sshfs

pytestmark = pytest.mark.e2e

#: name -> size: every rounding case of ``-h`` (bytes, one decimal, whole, MiB).
FILES = {"zero": 0, "five": 5, "k1025": 1025, "k10241": 10241, "m1_5": 1_572_865}
SUBDIR_FILES = {"sub/inner": 3000, "sub/deeper/last": 70_000}

targets = targets_fixture("usage")


def upload(target: Target, folder: str, tmp_path: Path) -> dict[str, int]:
    """:data:`FILES` and :data:`SUBDIR_FILES` below *folder*, with OpenSSH ``sftp``."""
    files = {**FILES, **SUBDIR_FILES}
    local = tmp_path / target.name
    for relative, size in files.items():
        (local / relative).parent.mkdir(parents=True, exist_ok=True)
        (local / relative).write_bytes(os.urandom(size))
    target.make_dirs(f"{folder}/sub/deeper")
    batch = [f"put {local / relative} {folder}/{relative}" for relative in files]
    sent = target.sftp("\n".join(batch))
    assert sent.status == 0, failed(target, "sftp put", sent)
    return files


def remote(target: Target, omsh_command: str, gnu_command: str) -> str:
    """Run the command the target's user would type (omsh's, or GNU's in sshd's shell)."""
    command = omsh_command if isinstance(target, OmshTarget) else f"LC_ALL=C {gnu_command}"
    result = target.ssh(command)
    assert result.status == 0, failed(target, command, result)
    return result.out


def test_ls_lh_shows_sizes_as_gnu_ls_does(targets, tmp_path):
    shown = {}
    for target in targets:
        folder = target.path("ls")
        target.make_dirs(folder)
        upload(target, folder, tmp_path)
        listing = remote(target, f"ls -lh {folder}", f"ls -lh {folder}")
        columns = 2 if isinstance(target, OmshTarget) else 4
        shown[target.name] = {
            line.split()[-1]: line.split()[columns]
            for line in listing.splitlines()
            if line.split()[-1] in FILES
        }
    assert shown["omsh"] == shown["sshd"]
    assert shown["omsh"] == {"zero": "0", "five": "5", "k1025": "1.1K", "k10241": "11K"} | {
        "m1_5": "1.6M"
    }


def test_du_agrees_with_gnu_du_on_the_files(targets, tmp_path):
    """File lines equal GNU ``du -a --apparent-size`` (bytes and -h); a directory's
    line in omsh is the bytes of the files below it (GNU adds its folders' own sizes)."""
    shown: dict[tuple[str, str], dict[str, str]] = {}
    for target in targets:
        folder = target.path("du")
        target.make_dirs(folder)
        files = upload(target, folder, tmp_path)
        for flags, gnu_flags in (("-a", "-a -b"), ("-ah", "-ah")):
            out = remote(target, f"du {flags} {folder}", f"du {gnu_flags} --apparent-size {folder}")
            # Sizes by path relative to the folder ("" is the folder itself).
            shown[target.name, flags] = {
                path[len(folder) :].lstrip("/"): size
                for size, path in (line.split("\t", 1) for line in out.splitlines())
            }
    for flags in ("-a", "-ah"):
        omsh, sshd = shown["omsh", flags], shown["sshd", flags]
        assert {path: omsh[path] for path in files} == {path: sshd[path] for path in files}
        assert set(omsh) == set(sshd)  # the same folders too
    in_bytes = shown["omsh", "-a"]
    assert int(in_bytes[""]) == sum(files.values())
    assert int(in_bytes["sub"]) == sum(SUBDIR_FILES.values())
    assert int(in_bytes["sub/deeper"]) == SUBDIR_FILES["sub/deeper/last"]


def sftp_df(target: Target, flag: str = "") -> dict[str, int]:
    """OpenSSH ``sftp``'s ``df`` (or ``df -i``) of the target's folder, as numbers."""
    result = target.sftp(f"df {flag} {target.base}".replace("  ", " "))
    assert result.status == 0, failed(target, f"sftp df {flag}", result)
    lines = result.out.splitlines()
    header = next(index for index, line in enumerate(lines) if "Capacity" in line)
    names = lines[header].split()
    values = [int(value.rstrip("%")) for value in lines[header + 1].split()]
    return dict(zip(names, values, strict=True))


def test_sftp_df_answers_the_store_figures(targets, tmp_path):
    """sshd answers the disk's figures (in KiB); omsh the store's, as its ``df`` shows them."""
    sshd, omsh = targets
    disk = os.statvfs(sshd.base)
    shown = sftp_df(sshd)
    assert abs(shown["Avail"] - disk.f_bavail * disk.f_frsize // 1024) < 64 * 1024
    assert sftp_df(sshd, "-i")["Inodes"] == disk.f_files

    folder = omsh.path("df")
    omsh.make_dirs(folder)
    upload(omsh, folder, tmp_path)
    figures = json.loads(omsh.ssh("df --json").out)
    shown = sftp_df(omsh)
    used_blocks = -(-figures["used"] // VFS_BLOCK)
    assert shown["Used"] == used_blocks * VFS_BLOCK // 1024
    assert abs(shown["Avail"] - figures["available"] // 1024) < 64 * 1024
    assert shown["Size"] == shown["Used"] + shown["Avail"]
    inodes = sftp_df(omsh, "-i")
    assert inodes["Used"] == figures["objects"] + figures["containers"]
    assert figures["used"] >= sum(FILES.values()) + sum(SUBDIR_FILES.values())


def test_df_on_an_sshfs_mount_shows_the_store(targets, tmp_path):
    """``df`` on a mount asks statvfs: sshd's is the disk, omsh's the store."""
    for target in targets:
        with sshfs(target, tmp_path / f"mnt-{target.name}") as mountpoint:
            seen = os.statvfs(mountpoint)
        used = (seen.f_blocks - seen.f_bfree) * seen.f_frsize
        if isinstance(target, OmshTarget):
            figures = json.loads(target.ssh("df --json").out)
            assert used == -(-figures["used"] // VFS_BLOCK) * VFS_BLOCK
            assert seen.f_files - seen.f_ffree == figures["objects"] + figures["containers"]
            assert abs(seen.f_bavail * seen.f_frsize - figures["available"]) < 64 * 2**20
        else:
            disk = os.statvfs(target.base)
            assert abs(used - (disk.f_blocks - disk.f_bfree) * disk.f_frsize) < 64 * 2**20


def test_ls_lh_and_du_h_are_not_help_over_ssh(server):
    """``-h`` means human-readable for ls/du/df and help elsewhere; ``--help`` always."""
    for command in ("ls -lh /", "du -sh /", "df -h"):
        result = server.ssh(command)
        assert result.status == 0 and not result.out.startswith("usage:"), command
    assert server.ssh("ls --help").out.startswith("usage: ls [--help]")
    assert server.ssh(shlex.join(["stat", "-h"])).out.startswith("usage: stat [-h]")
