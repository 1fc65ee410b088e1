"""Small content kept in the database, through real clients against a real server.

OpenSSH ``ssh``, ``sftp`` (``put``/``get``/``reput``) and ``scp``, sshfs,
and CDMI over HTTP read and write objects on both sides of
:data:`~omsh.store.content.INLINE_LIMIT`; only the large one leaves a blob
file.  The store side is in ``tests/test_inline.py``; acknowledged small
writes surviving ``kill -9`` in ``tests/test_commits.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from omsh.store.content import INLINE_LIMIT
from tests.cdmi_http import CdmiClient
from tests.e2e import OmshServer, run
from tests.reference_sshd import need_fuse, tool, unmount

SMALL = os.urandom(INLINE_LIMIT)
LARGE = os.urandom(INLINE_LIMIT + 1)


def blob_files_holding(server: OmshServer, data: bytes) -> int:
    """How many committed blob files hold exactly *data*."""
    return sum(
        1
        for path in (server.data / "blobs").rglob("*.blob")
        if path.stat().st_size == len(data) and path.read_bytes() == data
    )


def last_txn(server: OmshServer, path: str) -> str:
    return str(json.loads(server.ok(f"history --json -n 1 {path}").splitlines()[0])["txn"])


def test_ssh_sftp_and_scp_round_trip_on_both_sides_of_the_limit(
    server: OmshServer, tmp_path: Path
) -> None:
    server.ok("mkdir /rt")
    for label, data in (("small", SMALL), ("large", LARGE), ("byte", b"\x00")):
        local = tmp_path / label
        local.write_bytes(data)
        assert server.ok(f"put /rt/{label}.ssh", stdin=data) == ""
        done = server.sftp(f"put {local} /rt/{label}.sftp\nget /rt/{label}.ssh {tmp_path}/got")
        assert done.status == 0, done.err
        assert (tmp_path / "got").read_bytes() == data
        assert server.scp(str(local), server.remote(f"/rt/{label}.scp")).status == 0
        assert server.scp(server.remote(f"/rt/{label}.sftp"), str(tmp_path / "back")).status == 0
        assert (tmp_path / "back").read_bytes() == data
        for way in ("ssh", "sftp", "scp"):
            assert server.ssh(f"cat /rt/{label}.{way}").stdout == data
            digest = server.ok(f"sha256sum /rt/{label}.{way}").split()[0]
            assert digest == hashlib.sha256(data).hexdigest()
    # Only the large content is a blob file, once per object (3 ways in).
    assert blob_files_holding(server, SMALL) == 0
    assert blob_files_holding(server, LARGE) == 3
    assert server.ok("check").endswith("0 problems\n")


def test_sftp_reput_and_sshfs_write_into_an_inline_object(
    server: OmshServer, tmp_path: Path
) -> None:
    """Random access keeps the old bytes around the write, as a file would."""
    server.ok("mkdir /ra")
    server.ok("put /ra/resumed", stdin=b"0123456789")
    local = tmp_path / "longer"
    local.write_bytes(b"abcdefghijklmnopqrstuvwxyz")
    done = server.sftp(f"reput {local} /ra/resumed")
    assert done.status == 0, done.err
    assert server.ok("cat /ra/resumed") == "0123456789klmnopqrstuvwxyz"

    server.ok("put /ra/edited", stdin=b"hello, small world\n")
    need_fuse()
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    options = (
        f"IdentityFile={server.key},UserKnownHostsFile={server.known_hosts()},"
        "StrictHostKeyChecking=yes,BatchMode=yes"
    )
    target = f"{server.user}@127.0.0.1:/ra"
    mounted = run(
        [tool("sshfs", "sshfs"), "-p", str(server.port), "-o", options, target, str(mountpoint)]
    )
    assert mounted.status == 0, mounted.err
    try:
        with open(mountpoint / "edited", "r+b") as stream:  # no truncation: a write in place
            stream.seek(7)
            stream.write(b"SMALL")
        assert (mountpoint / "edited").read_bytes() == b"hello, SMALL world\n"
    finally:
        unmount(mountpoint)
    assert server.ok("cat /ra/edited") == "hello, SMALL world\n"


def test_cdmi_range_reads_and_a_ranged_update_of_an_inline_object(
    cdmi: CdmiClient, box: str
) -> None:
    data = bytes(range(256)) * 4
    assert cdmi.put_plain(f"{box}r", data, "application/octet-stream").status == 201
    reply = cdmi.get(f"{box}r", cdmi=False, headers={"Range": "bytes=10-19"})
    assert (reply.status, reply.body) == (206, data[10:20])
    ranged = cdmi.read(f"{box}r?value:1000-1023")
    assert base64.b64decode(ranged["value"]) == data[1000:1024]
    reply = cdmi.put_plain(
        f"{box}r", b"XYZ", "application/octet-stream", headers={"Content-Range": "bytes 2-4/*"}
    )
    assert reply.status == 204, reply
    assert cdmi.value(f"{box}r") == data[:2] + b"XYZ" + data[5:]
    reply = cdmi.put_plain(
        f"{box}r", b"!", "application/octet-stream", headers={"Content-Range": "bytes 1030-1030/*"}
    )
    assert reply.status == 204, reply
    assert cdmi.value(f"{box}r") == data[:2] + b"XYZ" + data[5:] + bytes(6) + b"!"


def test_restore_cp_and_at_of_an_inline_object(server: OmshServer) -> None:
    server.ok("mkdir /hist")
    server.ok("put /hist/f", stdin=b"version one\n")
    then = last_txn(server, "/hist/f")
    server.ok("put /hist/f", stdin=b"version two\n")
    assert server.ok(f"cat --at {then} /hist/f") == "version one\n"
    server.ok("cp /hist/f /hist/copy")
    assert server.ok(f"restore --at {then} /hist/f").startswith("restored 1 object")
    assert server.ok("cat /hist/f") == "version one\n"
    assert server.ok("cat /hist/copy") == "version two\n"
    assert CdmiClient(server.cdmi_url).value("/hist/f") == b"version one\n"
    assert blob_files_holding(server, b"version one\n") == 0
