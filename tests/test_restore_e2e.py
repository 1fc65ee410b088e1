"""``restore`` and ``undo`` end to end: OpenSSH ``ssh`` against a real ``omsh serve``.

Transaction ids come from ``history --json``, as a person would take them;
what was restored is read back over SSH and over CDMI (plain GET of the
value, CDMI JSON for metadata), and the blob files on disk show that a
large restore shares the old file instead of copying it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.cdmi_http import CdmiClient
from tests.e2e import OmshServer

pytestmark = pytest.mark.e2e

BIG = 20 << 20


@pytest.fixture(scope="module")
def served(server: OmshServer) -> OmshServer:
    """The module's server, with alice and bob (each with a home)."""
    return server.add_users({"alice": [], "bob": []})


def last_txn(server: OmshServer, path: str) -> str:
    """The newest change of *path*, as ``history`` prints it."""
    return str(json.loads(server.ok(f"history --json -n 1 {path}").splitlines()[0])["txn"])


def test_restore_content_metadata_and_acl_read_back_over_ssh_and_cdmi(served) -> None:
    served.ok("put ~/doc", user="alice", stdin=b"first draft\n")
    served.ok("set-meta ~/doc colour=red", user="alice")
    served.ok("acl grant ~/doc bob r", user="alice")
    then = last_txn(served, "/home/alice/doc")
    served.ok("put ~/doc", user="alice", stdin=b"rewritten completely\n")
    served.ok("set-meta ~/doc colour=blue", user="alice")
    served.ok("acl revoke ~/doc bob", user="alice")
    assert served.ssh("cat /home/alice/doc", user="bob").status == 4

    out = served.ok(f"restore --at {then} ~/doc", user="alice")
    assert out == "restored 1 object, removed 0 added since\n"
    assert served.ok("cat /home/alice/doc", user="bob") == "first draft\n"
    assert "colour=red" in served.ok("meta ~/doc", user="alice")
    assert served.ok("query \"colour = 'red'\"").splitlines()[0] == "/home/alice/doc"
    assert json.loads(served.ok("stat --json ~/doc", user="alice"))["cdmi_owner"] == "alice"

    cdmi = CdmiClient(served.cdmi_url)
    assert cdmi.value("/home/alice/doc") == b"first draft\n"
    assert cdmi.read("/home/alice/doc")["metadata"]["colour"] == "red"


def test_restore_removed_object_and_tree_with_additions(served) -> None:
    served.ok("mkdir -p /tree/a")
    served.ok("put /tree/a/kept", stdin=b"kept")
    served.ok("put /tree/gone", stdin=b"gone")
    then = last_txn(served, "/tree")
    served.ok("rm /tree/gone")
    served.ok("mkdir /tree/new")
    served.ok("put /tree/new/file", stdin=b"n")
    served.ok("put /tree/a/kept", stdin=b"changed")

    dry = served.ok(f"restore -r --dry-run --at {then} /tree")
    assert dry.splitlines() == [
        "would remove /tree/new",
        "would remove /tree/new/file",
        "would restore /tree/a/kept (content)",
        "would recreate /tree/gone",
        "would restore 2 objects, remove 2 added since; nothing changed",
    ]
    assert served.ok("ls /tree").split() == ["a/", "new/"]

    out = served.ok(f"restore -r --at {then} /tree")
    assert out == "restored 2 objects, removed 2 added since\n"
    assert served.ok("ls /tree").split() == ["a/", "gone"]
    assert served.ok("cat /tree/gone /tree/a/kept") == "gonekept"
    check = served.ssh("check")
    assert check.status == 0 and check.out.endswith(" 0 problems\n"), check.out


def test_a_revoked_user_cannot_restore(served) -> None:
    served.ok("put ~/shared", user="alice", stdin=b"for bob then")
    served.ok("acl grant ~/shared bob rwa", user="alice")
    then = last_txn(served, "/home/alice/shared")
    served.ok("put ~/shared", user="alice", stdin=b"private now")
    served.ok("acl revoke ~/shared bob", user="alice")
    served.ok("acl grant ~/shared bob w", user="alice")
    refused = served.ssh(f"restore --at {then} /home/alice/shared", user="bob")
    assert refused.status == 4 and refused.err.count("\n") == 1, refused.err
    assert "Traceback" not in refused.err
    assert served.ok("cat ~/shared", user="alice") == "private now"

    bad = served.ssh("restore --at sometime /home/alice/shared", user="alice")
    assert bad.status == 2 and bad.err.count("\n") == 1
    missing = served.ssh(f"restore --at {then} /home/alice/never", user="alice")
    assert (missing.status, missing.err) == (3, "omsh: restore: /home/alice/never: not found\n")


def test_undo_a_put_and_a_set_meta_and_refusals(served) -> None:
    served.ok("mkdir /undo")
    served.ok("put /undo/target", stdin=b"t")
    put = last_txn(served, "/undo/target")
    for number in range(10):
        served.ok(f"put /undo/later{number}", stdin=b"x")
    served.ok("set-meta /undo/later0 colour=green")
    set_meta = last_txn(served, "/undo/later0")
    served.ok("put /undo/later1", stdin=b"unrelated")

    refused = served.ssh(f"undo {put}", user="alice")
    assert refused.status == 4 and "administrators only" in refused.err

    assert served.ok(f"undo {put}") == f"undid {put}: restored 0 objects, removed 1\n"
    assert "target" not in served.ok("ls /undo").split()
    assert served.ok(f"undo {set_meta}").startswith(f"undid {set_meta}: restored 1 object")
    assert "colour" not in served.ok("meta /undo/later0")

    served.ok("put /undo/later2", stdin=b"v2")
    changed = last_txn(served, "/undo/later2")
    served.ok("put /undo/later2", stdin=b"v3")
    impossible = served.ssh(f"undo {changed}")
    assert impossible.status == 1
    assert impossible.err == (
        f"omsh: undo: cannot undo {changed}: /undo/later2 changed again since (content); "
        "use restore --at\n"
    )
    assert served.ok("cat /undo/later2") == "v3"
    unknown = served.ssh("undo 00000000000000aa")
    assert unknown.status == 3 and "no such transaction" in unknown.err


def _blob_stats(data: Path, size: int) -> list[os.stat_result]:
    """The stat of every blob file of *size* bytes in the server's store."""
    found = []
    for folder, _, names in os.walk(data / "blobs"):
        for name in names:
            if name.endswith(".blob"):
                stat = os.stat(os.path.join(folder, name))
                if stat.st_size == size:
                    found.append(stat)
    return found


def test_a_20_mib_restore_shares_the_old_blob_file(served) -> None:
    big = os.urandom(BIG)
    served.ok("put /big", stdin=big)
    then = last_txn(served, "/big")
    served.ok("put /big", stdin=b"small now")
    [before] = _blob_stats(served.data, BIG)
    assert before.st_nlink == 1

    assert served.ok(f"restore --at {then} /big") == "restored 1 object, removed 0 added since\n"
    after = _blob_stats(served.data, BIG)
    assert len(after) == 2
    assert {stat.st_ino for stat in after} == {before.st_ino}
    assert all(stat.st_nlink == 2 for stat in after)

    digest = hashlib.sha256(big).hexdigest()
    assert served.ok("sha256sum /big").split()[0] == digest
    assert hashlib.sha256(CdmiClient(served.cdmi_url).value("/big")).hexdigest() == digest
