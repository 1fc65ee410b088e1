"""SFTP clients against a real omsh server, and the same client against OpenSSH's sshd.

OpenSSH ``sftp``/``scp`` with ``-p``, lftp's ``mirror``, PuTTY's ``psftp`` and
paramiko: what each does against sshd (modification times kept, a file open
for writing visible to ``stat``, ``posix-rename``) is what users expect of
omsh too.
"""

from __future__ import annotations

import os
import shlex
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import Result, run
from tests.reference_sshd import (
    OLD_MTIME,
    OmshTarget,
    Target,
    failed,
    targets_fixture,
    tool,
)

pytestmark = pytest.mark.e2e

OLD_ATIME = OLD_MTIME - 6
#: A small tree for mirroring: a nested folder, an empty file, odd names, > 32 KiB.
TREE = {
    "a.txt": b"a\n",
    "empty": b"",
    "with space/b é.bin": os.urandom(70_000),
    "with space/日本語/c.txt": b"c\n",
}


targets = targets_fixture("clients")


def old_file(path: Path, size: int = 50_000) -> Path:
    """A file with random content, last modified in 2001."""
    path.write_bytes(os.urandom(size))
    os.utime(path, (OLD_ATIME, OLD_MTIME))
    return path


def write_tree(root: Path) -> Path:
    """:data:`TREE` below *root*, ``a.txt`` dated 2001 (mirror must keep the date)."""
    for relative, data in TREE.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    os.utime(root / "a.txt", (OLD_ATIME, OLD_MTIME))
    return root


def local_tree(root: Path) -> dict[str, bytes]:
    """Relative path -> content of every file below *root*, to compare with :data:`TREE`."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# -- OpenSSH sftp and scp ----------------------------------------------------------


def test_openssh_preserved_times_are_kept_and_shown(targets, tmp_path):
    """``put -p``/``scp -p`` send the file's mtime (SETSTAT); it is stored, listed,
    sent back by ``get -p``/``scp -p`` and still there after a server restart."""
    local = old_file(tmp_path / "old.bin")
    listed_date = time.strftime("%b %e  %Y", time.localtime(OLD_MTIME))
    #: How ``ls -l`` over ssh shows the time: GNU ls (sshd) or omsh's ls (UTC).
    shell_dates = (listed_date, time.strftime("%Y-%m-%d %H:%M", time.gmtime(OLD_MTIME)))
    for target in targets:
        folder = target.path("times")
        target.make_dirs(folder)
        back = tmp_path / f"back-{target.name}"
        back.mkdir()
        batch = target.sftp(
            f"""
            put -p {local} {folder}/sftp.bin
            ls -l {folder}/sftp.bin
            get -p {folder}/sftp.bin {back}/sftp.bin
            """
        )
        assert batch.status == 0, failed(target, "sftp put -p/get -p", batch)
        listing = batch.out.split(f"ls -l {folder}/sftp.bin\n")[1].splitlines()[0]
        assert listed_date in listing, f"{target.name}: sftp ls -l shows {listing!r}"
        for name, flags in (("scp.bin", []), ("scp-legacy.bin", ["-O"])):
            up = target.scp(*flags, "-p", str(local), target.remote(f"{folder}/{name}"))
            assert up.status == 0, failed(target, f"scp {' '.join(flags)} -p upload", up)
            down = target.scp(*flags, "-p", target.remote(f"{folder}/{name}"), str(back / name))
            assert down.status == 0, failed(target, f"scp {' '.join(flags)} -p download", down)
        names = ["sftp.bin", "scp.bin", "scp-legacy.bin"]
        for name in names:
            assert target.mtime(f"{folder}/{name}") == OLD_MTIME, (target.name, name)
            assert int((back / name).stat().st_mtime) == OLD_MTIME, (target.name, name)
            assert (back / name).read_bytes() == local.read_bytes(), (target.name, name)
        shown = target.ssh(f"ls -l {shlex.quote(folder)}")
        assert shown.status == 0, failed(target, "ssh ls -l", shown)
        for line in shown.out.splitlines()[-3:]:
            assert any(date in line for date in shell_dates), f"{target.name}: ls -l {line!r}"
        target.restart()
        kept = {name: target.mtime(f"{folder}/{name}") for name in names}
        assert kept == dict.fromkeys(names, OLD_MTIME), f"{target.name} after a restart"


# -- lftp --------------------------------------------------------------------------


def lftp(target: Target, *commands: str) -> Result:
    """``lftp -c``: connect over sftp with the test's key and known_hosts, then *commands*."""
    binary = tool("lftp", "lftp")
    ssh = (
        f"ssh -a -x -i {target.key} -o UserKnownHostsFile={target.known_hosts()} "
        f"-o StrictHostKeyChecking=yes -o BatchMode=yes -p {target.port}"
    )
    script = [
        f"set sftp:connect-program {shlex.quote(ssh)}",
        f"open -u {target.user}, sftp://127.0.0.1:{target.port}",  # empty password: no prompt
        *commands,
    ]
    return run([binary, "-c", "; ".join(script)], timeout=60)


def test_lftp_mirror_up_and_down(targets, tmp_path):
    """Upload, download, and a second upload with nothing to do (sizes and times match)."""
    source = write_tree(tmp_path / "source")
    for target in targets:
        folder = shlex.quote(target.path("lftp"))
        down = tmp_path / f"down-{target.name}"
        up = lftp(target, f"mirror -R --verbose {shlex.quote(str(source))} {folder}")
        assert up.status == 0, failed(target, "lftp mirror -R", up)
        again = lftp(target, f"mirror -R --verbose {shlex.quote(str(source))} {folder}")
        assert again.status == 0, failed(target, "second lftp mirror -R", again)
        assert "Transferring" not in again.out, failed(target, "second lftp mirror -R", again)
        mirrored = lftp(target, f"mirror --verbose {folder} {shlex.quote(str(down))}")
        assert mirrored.status == 0, failed(target, "lftp mirror", mirrored)
        assert local_tree(down) == TREE, target.name
        assert int((down / "a.txt").stat().st_mtime) == OLD_MTIME, target.name


# -- PuTTY psftp -------------------------------------------------------------------


def psftp_login(target: Target, workdir: Path) -> list[str]:
    """How psftp authenticates: omsh's admin password from a file; sshd (which
    cannot check passwords unprivileged) the client key converted by puttygen."""
    if isinstance(target, OmshTarget):
        return ["-pwfile", str(target.server.password_file)]
    ppk = workdir / "client.ppk"
    if not ppk.exists():
        puttygen = tool("puttygen", "putty-tools")
        converted = run([puttygen, str(target.key), "-O", "private", "-o", str(ppk)])
        assert converted.status == 0, converted.err
    return ["-i", str(ppk)]


def host_key_fingerprint(target: Target) -> str:
    """``SHA256:...`` for psftp's ``-hostkey``: PuTTY does not read known_hosts."""
    listed = run(["ssh-keygen", "-lf", str(target.known_hosts())])
    assert listed.status == 0, listed.err
    return listed.out.split()[1]


def test_psftp_put_ls_get(targets, tmp_path):
    """PuTTY's SFTP client in batch mode: upload, listing and download of an odd name."""
    binary = tool("psftp", "putty-tools")
    local = tmp_path / "up é.bin"
    local.write_bytes(os.urandom(100_000))
    for target in targets:
        folder = target.path("psftp")
        target.make_dirs(folder)
        back = tmp_path / f"back-{target.name}.bin"
        batch = tmp_path / f"batch-{target.name}"
        batch.write_text(f'cd "{folder}"\nput "{local}" "up é.bin"\nls\nget "up é.bin" "{back}"\n')
        argv = [binary, "-batch", "-bc", "-noagent", "-P", str(target.port)]
        argv += ["-hostkey", host_key_fingerprint(target), *psftp_login(target, tmp_path)]
        session = run([*argv, "-b", str(batch), f"{target.user}@127.0.0.1"])
        assert session.status == 0, failed(target, "psftp", session)
        listed = [line for line in session.out.splitlines() if line.endswith(" up é.bin")]
        assert len(listed) == 1, failed(target, "psftp ls", session)
        assert listed[0].startswith("-rw-") and " 100000 " in listed[0], listed[0]
        assert back.read_bytes() == local.read_bytes(), target.name
        assert target.read(f"{folder}/up é.bin") == local.read_bytes(), target.name


# -- paramiko ----------------------------------------------------------------------


@pytest.fixture
def paramiko_sftp(targets) -> Iterator[dict]:
    """An open paramiko SFTPClient per target name (known host key checked)."""
    paramiko = pytest.importorskip("paramiko", reason="pip install paramiko (the test extra)")
    clients = {}
    try:
        for target in targets:
            client = paramiko.SSHClient()
            client.load_host_keys(str(target.known_hosts()))
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            client.connect(
                "127.0.0.1",
                target.port,
                username=target.user,
                key_filename=str(target.key),
                look_for_keys=False,
                allow_agent=False,
            )
            clients[target.name] = client
        yield {name: client.open_sftp() for name, client in clients.items()}
    finally:
        for client in clients.values():
            client.close()


def test_paramiko_sees_a_file_while_it_is_written(targets, paramiko_sftp):
    """Applications stat a file they are still writing (sshd shows its size so far)."""
    chunk = os.urandom(40_000)
    for target in targets:
        sftp = paramiko_sftp[target.name]
        folder = target.path("paramiko-open")
        target.make_dirs(folder)
        path = f"{folder}/growing.bin"
        with sftp.open(path, "wb") as stream:
            stream.write(chunk)
            stream.flush()
            for look in (sftp.stat, sftp.lstat):
                attrs = look(path)
                assert stat.S_ISREG(attrs.st_mode), (target.name, look.__name__)
                assert attrs.st_size == len(chunk), (target.name, look.__name__)
            assert "growing.bin" in sftp.listdir(folder), target.name
            stream.write(chunk)
        assert sftp.stat(path).st_size == 2 * len(chunk), target.name
        assert target.read(path) == chunk + chunk, target.name


def test_paramiko_posix_rename_and_utime(targets, paramiko_sftp):
    """posix-rename replaces the target (as rename(2) does); utime sets the mtime."""
    for target in targets:
        sftp = paramiko_sftp[target.name]
        folder = target.path("paramiko-rename")
        target.make_dirs(folder)
        for name, data in (("a", b"new content"), ("b", b"old content")):
            with sftp.open(f"{folder}/{name}", "wb") as stream:
                stream.write(data)
        sftp.posix_rename(f"{folder}/a", f"{folder}/b")  # replaces b, as rename(2) does
        assert sorted(sftp.listdir(folder)) == ["b"], target.name
        sftp.utime(f"{folder}/b", (OLD_ATIME, OLD_MTIME))
        assert sftp.stat(f"{folder}/b").st_mtime == OLD_MTIME, target.name
        assert target.mtime(f"{folder}/b") == OLD_MTIME, target.name
        assert target.read(f"{folder}/b") == b"new content", target.name
