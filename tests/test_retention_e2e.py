"""Retention end to end: the admins' ``pack --keep 0`` over OpenSSH ``ssh`` against a
real ``omsh serve``, then ``history`` and ``--at`` at the horizon it left, and a
snapshot (recorded with the server stopped) that holds the horizon back."""

from __future__ import annotations

import json

import pytest

from omsh.store.content import INLINE_LIMIT
from tests.e2e import OmshServer

pytestmark = pytest.mark.e2e
#: Bytes of content stored as a blob file (small content is kept in the database).
BIG = INLINE_LIMIT + 1


def _newest_txn(server: OmshServer, path: str) -> str:
    return str(json.loads(server.ok(f"history --json -n 1 {path}"))["txn"])


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> OmshServer:
    server = OmshServer(tmp_path_factory.mktemp("omsh-retention")).start()
    server.add_users({"alice": []})
    yield server
    server.stop()


def test_pack_over_ssh_sets_the_horizon_that_history_and_at_report(served) -> None:
    served.ok("mkdir /r")
    # Small versions are kept in the database; each version of /r/big is a blob file.
    served.ok("put /r/big", stdin=b"a" * BIG)
    served.ok("put /r/f", stdin=b"version zero\n")
    zero = _newest_txn(served, "/r/f")
    served.ok("put /r/big", stdin=b"b" * BIG)
    served.ok("put /r/f", stdin=b"version one\n")
    kept = json.loads(served.ok("snapshot create before-edits --json"))["txn"]
    served.ok("put /r/big", stdin=b"c" * BIG)
    served.ok("put /r/f", stdin=b"version two\n")
    served.ok("put /r/f", stdin=b"version three\n")

    refused = served.ssh("pack --keep 0", user="alice")
    assert (refused.status, refused.out) == (4, "")
    assert refused.err == "omsh: pack: permission denied (administrators only)\n"

    planned = served.ok("pack --keep 0 --dry-run").splitlines()
    assert planned[0].endswith("older revisions would be removed (dry run)")
    assert planned[1].endswith("for snapshot before-edits")

    lines = served.ok("pack --keep 0").splitlines()
    assert lines[0].startswith("pack time ") and lines[0].endswith("older revisions are removed")
    assert lines[1].startswith("kept history back to ")
    assert lines[1].endswith(" for snapshot before-edits")
    assert lines[2].startswith("storage size: ")
    assert lines[3] == f"blob files removed: 1 ({BIG:,} B)"  # /r/big's first version
    events = [json.loads(line) for line in served.ok("audit --json -n 5").splitlines()]
    assert [event["actor"] for event in events if event["action"] == "pack"] == ["admin"]

    # The snapshot's state stays readable; what was older than it is gone.
    assert served.ok(f"cat --at {kept} /r/f") == "version one\n"
    assert served.ok("cat /.snapshots/before-edits/r/f") == "version one\n"
    assert served.ok("cat /r/f") == "version three\n"
    gone = served.ssh(f"cat --at {zero} /r/f")
    assert (gone.status, gone.out) == (3, "")
    assert gone.err == f"omsh: cat: --at {zero}: nothing is kept from then\n"
    history = served.ok("history /r/f").splitlines()
    assert history[-2].endswith("oldest kept")
    assert history[-1].startswith("history begins at ")
    assert history[-1].endswith("older changes were packed")
    assert served.ok("check").endswith("0 problems\n")

    # Without the snapshot, --keep 0 keeps only the current state.
    served.ok("snapshot rm before-edits")
    document = json.loads(served.ok("pack --keep 0 --json"))
    assert document["held_by"] is None
    assert document["blob_files_removed"] == 1  # /r/big's second version
    for txn in (zero, kept):
        gone = served.ssh(f"cat --at {txn} /r/f")
        assert (gone.status, gone.err) == (3, f"omsh: cat: --at {txn}: nothing is kept from then\n")
    history = served.ok("history /r/f").splitlines()
    assert len(history) == 3  # the header, the current revision, where history begins
    assert history[-1].startswith("history begins at ")
    assert served.ok("cat /r/f") == "version three\n"
