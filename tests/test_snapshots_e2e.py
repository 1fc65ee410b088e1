"""``/.snapshots/NAME`` through every client: OpenSSH ssh, sftp and scp, rclone,
sshfs and CDMI over HTTP, against a real ``omsh serve``.

A tree is written, a snapshot taken, then the tree changed; each client must
read the old tree from the snapshot and be refused any change there.  Where
a refusal is the expectation, OpenSSH's own read-only SFTP server
(``internal-sftp -R``, serving the same tree) shows what a client prints
for it, and omsh must print the same.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e import OmshServer, Result, run
from tests.reference_sshd import OmshTarget, ReferenceSSHD, reference_sshd, tool
from tests.test_clients_rclone_e2e import Rclone
from tests.test_clients_sshfs_e2e import sshfs

pytestmark = pytest.mark.e2e

AREA = "/snapshots-e2e"
#: The tree as the snapshot keeps it, by path relative to AREA.
OLD = {
    "a é.txt": b"old a\n",
    "sub/b.bin": os.urandom(70_000),
    "sub/deep/c": b"c\n",
}
SNAPSHOT = f"/.snapshots/e2e{AREA}"


@pytest.fixture(scope="module")
def snapshot(server: OmshServer) -> str:
    """OLD under AREA, snapshot "e2e", then AREA changed: a rewritten, sub/deep gone, added."""
    for relative, data in OLD.items():
        path = shlex.quote(f"{AREA}/{relative}")
        server.ok(f"mkdir -p {shlex.quote(os.path.dirname(f'{AREA}/{relative}'))}")
        server.ok(f"put {path}", stdin=data)
    server.ok("snapshot create e2e")
    server.ok(f"put {shlex.quote(AREA + '/a é.txt')}", stdin=b"new a\n")
    server.ok(f"rm -r {AREA}/sub/deep")
    server.ok(f"put {AREA}/added", stdin=b"added since\n")
    return SNAPSHOT


def _local_tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _old_tree_on_sshd(sshd: ReferenceSSHD) -> str:
    """OLD written into the reference server's folder; returns its path there."""
    base = sshd.path("snapshot")
    for relative, data in OLD.items():
        target = Path(base, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return base


@pytest.fixture(scope="module")
def read_only_sshd(server: OmshServer, tmp_path_factory: pytest.TempPathFactory):
    with reference_sshd(
        tmp_path_factory.mktemp("sshd-ro"), server.client_key, read_only_sftp=True
    ) as sshd:
        yield sshd, _old_tree_on_sshd(sshd)


def test_exec_reads_the_snapshot_and_refuses_changes(server: OmshServer, snapshot: str) -> None:
    assert server.ok(f"cat {shlex.quote(snapshot + '/a é.txt')}") == "old a\n"
    assert server.ok(f"cat {shlex.quote(AREA + '/a é.txt')}") == "new a\n"
    assert server.ok(f"ls {snapshot}").splitlines() == ["a é.txt", "sub/"]
    assert server.ok(f"ls {snapshot}/sub/deep").split() == ["c"]
    listed = [json.loads(line) for line in server.ok("snapshot list --json").splitlines()]
    assert [s["name"] for s in listed] == ["e2e"]
    for command in (f"rm -r {snapshot}/sub", f"put {snapshot}/x", f"set-meta {snapshot}/sub k=v"):
        refused = server.ssh(command, stdin=b"x")
        assert refused.status == 4, (command, refused.err)
        assert "snapshots are read-only" in refused.err and refused.err.count("\n") == 1
    # Copying out of a snapshot is how a whole tree comes back.
    server.ok(f"cp -r {snapshot}/sub {AREA}/sub-restored")
    assert server.ok(f"cat {AREA}/sub-restored/deep/c") == "c\n"


def _sftp_batch(target_root: str, local: Path) -> str:
    """Reads that must work, then changes that must fail (``-``: go on after an error)."""
    return f"""
        get "{target_root}/a é.txt" {local}/a
        get -r "{target_root}/sub" {local}/sub
        -put /etc/hostname "{target_root}/new"
        -rm "{target_root}/sub/b.bin"
        -mkdir "{target_root}/dir"
        -rename "{target_root}/a é.txt" "{target_root}/renamed"
        -rmdir "{target_root}/sub/deep"
    """


def _errors(result: Result, root: str) -> list[str]:
    """The client's complaints, with the server-specific folder taken out."""
    return [line.replace(root, "ROOT") for line in result.err.splitlines() if line.strip()]


def test_sftp_reads_and_is_refused_as_by_a_read_only_sshd(
    server: OmshServer, snapshot: str, read_only_sshd, tmp_path: Path
) -> None:
    sshd, sshd_root = read_only_sshd
    omsh = OmshTarget(server, AREA)
    complaints = {}
    for target, root in ((sshd, sshd_root), (omsh, snapshot)):
        local = tmp_path / target.name
        local.mkdir()
        done = target.sftp(_sftp_batch(root, local))
        assert _local_tree(local) == {
            "a": OLD["a é.txt"],
            "sub/b.bin": OLD["sub/b.bin"],
            "sub/deep/c": OLD["sub/deep/c"],
        }, target.name
        complaints[target.name] = _errors(done, root)
    assert len(complaints["sshd"]) == 5, complaints["sshd"]
    assert complaints["omsh"] == complaints["sshd"]
    assert server.ok(f"ls {snapshot}").splitlines() == ["a é.txt", "sub/"]


@pytest.mark.parametrize("legacy", [False, True], ids=["sftp-mode", "legacy-scp"])
def test_scp_copies_out_and_cannot_copy_in(
    server: OmshServer, snapshot: str, tmp_path: Path, legacy: bool
) -> None:
    flags = ("-O",) if legacy else ()
    # Legacy scp passes the remote path through a shell: no spaces in it here.
    got = server.scp(*flags, "-r", server.remote(f"{snapshot}/sub"), str(tmp_path / "sub"))
    assert got.status == 0, got.err
    assert _local_tree(tmp_path / "sub") == {"b.bin": OLD["sub/b.bin"], "deep/c": b"c\n"}
    sent = server.scp(*flags, "/etc/hostname", server.remote(f"{snapshot}/sub/hostname"))
    assert sent.status != 0 and ("Permission denied" in sent.err or "read-only" in sent.err)
    assert server.ssh(f"stat {snapshot}/sub/hostname").status == 3


def test_rclone_copies_a_snapshot(server: OmshServer, snapshot: str, tmp_path: Path) -> None:
    target = OmshTarget(server, AREA)
    rclone = Rclone(tmp_path, (target,))
    copied = rclone("copy", f"omsh:{snapshot}", str(tmp_path / "copy"))
    assert copied.status == 0, copied.err
    assert _local_tree(tmp_path / "copy") == OLD
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "x.txt").write_bytes(b"x")
    refused = rclone("copy", str(tmp_path / "up"), f"omsh:{snapshot}/sub", "--retries", "1")
    assert refused.status != 0
    assert "permission denied" in refused.err.lower()
    assert server.ssh(f"stat {snapshot}/sub/x.txt").status == 3


def test_sshfs_reads_a_snapshot_and_writes_fail_as_on_a_read_only_sshd(
    server: OmshServer, snapshot: str, read_only_sshd, tmp_path: Path
) -> None:
    tool("sshfs", "sshfs")
    sshd, sshd_root = read_only_sshd
    failures = {}
    for target, root in ((sshd, sshd_root), (OmshTarget(server, AREA), snapshot)):
        with sshfs(target, tmp_path / f"mnt-{target.name}") as mountpoint:
            mounted = mountpoint / root.lstrip("/")
            assert _local_tree(mounted) == OLD, target.name
            write = run(["sh", "-c", f"echo x > '{mounted}/sub/new.txt'"])
            remove = run(["rm", f"{mounted}/sub/b.bin"])
            failures[target.name] = [
                (result.status, result.err.replace(str(mountpoint), "MNT").replace(root, "ROOT"))
                for result in (write, remove)
            ]
    assert all(status != 0 for status, _ in failures["sshd"]), failures
    assert failures["omsh"] == failures["sshd"]


def test_cdmi_reads_a_snapshot_and_refuses_changes(cdmi, snapshot: str) -> None:
    base = quote(snapshot)
    assert cdmi.value(f"{base}/{quote('a é.txt')}") == b"old a\n"
    listing = cdmi.read(f"{base}/")
    assert listing["children"] == ["a é.txt", "sub/"]
    assert listing["parentURI"] == "/.snapshots/e2e/"
    assert cdmi.read("/.snapshots/e2e/")["objectName"] == "e2e/"
    assert cdmi.read("/.snapshots/e2e/")["parentURI"] == "/.snapshots/"
    assert "e2e/" in cdmi.read("/.snapshots/")["children"]
    put = cdmi.put_plain(f"{base}/new.txt", b"x", "text/plain")
    assert put.status == 403 and b"read-only" in put.body
    assert cdmi.delete(f"{base}/sub/b.bin").status == 403
    assert cdmi.put_container(f"{base}/newdir/").status == 403
    assert cdmi.get(f"{base}/new.txt").status == 404
    assert cdmi.value(f"{base}/sub/b.bin") == OLD["sub/b.bin"]
