"""``/.views/NAME`` through real clients: OpenSSH ssh, sftp and scp, rclone and
CDMI over HTTP, against a real ``omsh serve``.

A view is saved over exec, then each client lists and reads its entries
(the objects matching now) and is refused any change there.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e import OmshServer
from tests.reference_sshd import OmshTarget
from tests.test_clients_rclone_e2e import Rclone

pytestmark = pytest.mark.e2e

AREA = "/views-e2e"
RED = {"a.jpg": b"red a\n", "2024/b é.jpg": b"red b" * 10_000}
ENTRIES = {"a.jpg": RED["a.jpg"], "2024%2Fb é.jpg": RED["2024/b é.jpg"]}


@pytest.fixture(scope="module")
def red(server: OmshServer) -> str:
    """Two red objects and a blue one under AREA, and the view "red" over them."""
    server.ok(f"mkdir -p {AREA}/2024")
    for relative, data in RED.items():
        path = shlex.quote(f"{AREA}/{relative}")
        server.ok(f"put {path}", stdin=data)
        server.ok(f"set-meta {path} colour=red")
    server.ok(f"put {AREA}/blue.jpg", stdin=b"blue\n")
    server.ok(f"set-meta {AREA}/blue.jpg colour=blue")
    server.ok(f"view add red \"colour = 'red'\" --in {AREA}")
    return "/.views/red"


def _local_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_exec_lists_and_reads_a_view(server: OmshServer, red: str) -> None:
    assert server.ok(f"ls {red}").splitlines() == sorted(ENTRIES)
    assert server.ok(f"cat {red}/a.jpg") == "red a\n"
    server.ok(f"set-meta {AREA}/blue.jpg colour=red")  # live: matches at once
    assert "blue.jpg" in server.ok(f"ls {red}").split()
    server.ok(f"set-meta {AREA}/blue.jpg colour=blue")
    refused = server.ssh(f"rm {red}/a.jpg")
    assert refused.status == 4 and "views are read-only" in refused.err
    assert server.ok(f"cat {AREA}/a.jpg") == "red a\n"


def test_sftp_and_scp_read_a_view_and_cannot_write_there(
    server: OmshServer, red: str, tmp_path: Path
) -> None:
    done = server.sftp(
        f"""
        ls {red}
        get -r {red} {tmp_path}/got
        -put /etc/hostname {red}/new
        -rm {red}/a.jpg
        """
    )
    assert done.status == 0, done.err
    assert _local_tree(tmp_path / "got") == ENTRIES
    assert done.err.count("Permission denied") == 2, done.err
    copied = server.scp(server.remote(f"{red}/a.jpg"), str(tmp_path / "a"))
    assert copied.status == 0 and (tmp_path / "a").read_bytes() == RED["a.jpg"]


def test_rclone_copies_a_view(server: OmshServer, red: str, tmp_path: Path) -> None:
    rclone = Rclone(tmp_path, (OmshTarget(server, AREA),))
    copied = rclone("copy", f"omsh:{red}", str(tmp_path / "copy"))
    assert copied.status == 0, copied.err
    assert _local_tree(tmp_path / "copy") == ENTRIES


def test_cdmi_lists_and_reads_a_view(cdmi, red: str) -> None:
    listing = cdmi.read(f"{red}/")
    assert sorted(listing["children"]) == sorted(ENTRIES)
    for name, data in ENTRIES.items():
        assert cdmi.value(f"{red}/{quote(name)}") == data
    assert cdmi.put_plain(f"{red}/x", b"x", "text/plain").status == 403
    assert cdmi.delete(f"{red}/a.jpg").status == 403
    assert "red/" in cdmi.read("/.views/")["children"]
