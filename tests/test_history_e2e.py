"""``history PATH`` end to end: OpenSSH ``ssh`` and ``sftp`` against a real ``omsh serve``.

Writes come through both paths that commit (an exec ``put``: one
transaction; an SFTP upload: the group commit), by two users, and
``ssh host 'history --json PATH'`` must list them exactly, newest first.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e import OmshServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> OmshServer:
    server = OmshServer(tmp_path_factory.mktemp("omsh-history")).start()
    server.add_users({"alice": [], "bob": []})
    yield server
    server.stop()


def test_history_over_ssh_lists_every_change(served, tmp_path) -> None:
    assert served.ssh("put /home/alice/notes", stdin=b"first", user="alice").status == 0
    local = tmp_path / "notes"
    local.write_bytes(b"second version")
    assert served.sftp(f"put {local} /home/alice/notes", user="alice").status == 0
    assert served.ssh("set-meta /home/alice/notes topic=omsh", user="alice").status == 0
    assert served.ssh("chown bob /home/alice/notes").status == 0

    result = served.ssh("history --json /home/alice/notes")
    assert result.status == 0, result.err
    entries = [json.loads(line) for line in result.out.splitlines()]
    assert [(e["user"], e["changes"]) for e in entries] == [
        ("admin", ["owner alice → bob"]),
        ("alice", ["metadata +topic"]),
        ("alice", ["content 5 B → 14 B"]),
        ("alice", ["created"]),
    ]
    assert all(len(e["txn"]) == 16 for e in entries)
    assert [e["time"] for e in entries] == sorted((e["time"] for e in entries), reverse=True)

    limited = served.ssh("history --json -n 1 /home/alice/notes")
    assert [json.loads(line)["txn"] for line in limited.out.splitlines()] == [entries[0]["txn"]]

    table = served.ssh("history /home/alice").out.splitlines()
    assert table[0].split() == ["Time", "Txn", "User", "Change"]
    assert table[1].split()[2:] == ["alice", "children", "+notes"]


def test_history_refusals_over_ssh(served) -> None:
    missing = served.ssh("history /home/alice/nothing", user="alice")
    assert (missing.status, missing.out) == (3, "")
    assert missing.err == "omsh: history: /home/alice/nothing: not found\n"
    refused = served.ssh("history /home/alice", user="bob")
    assert (refused.status, refused.out) == (4, "")
    assert refused.err == "omsh: history: /home/alice: permission denied\n"
