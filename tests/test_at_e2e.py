"""``--at`` over real SSH (OpenSSH ``ssh host 'cat --at TXN PATH'``) against ``omsh serve``.

The transaction ids come from ``query --json``, which reports the
transaction it read.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e import OmshServer

pytestmark = pytest.mark.e2e


def _ok(server: OmshServer, command: str, *, stdin: bytes = b"") -> str:
    result = server.ssh(command, user="admin", stdin=stdin)
    assert result.status == 0, (command, result.err)
    return result.out


def _transaction(server: OmshServer) -> str:
    return str(json.loads(_ok(server, "query 'size >= 0' --count --json"))["transaction"])


def test_cat_and_ls_at_a_past_transaction(server: OmshServer) -> None:
    _ok(server, "mkdir -p /at-e2e")
    _ok(server, "put /at-e2e/f", stdin=b"first version\n")
    first = _transaction(server)
    _ok(server, "put /at-e2e/f", stdin=b"second version\n")
    _ok(server, "mv /at-e2e/f /at-e2e/g")

    assert _ok(server, f"cat --at {first} /at-e2e/f") == "first version\n"
    assert _ok(server, "cat /at-e2e/g") == "second version\n"
    assert _ok(server, f"ls --at {first} /at-e2e").split() == ["f"]
    assert _ok(server, "ls /at-e2e").split() == ["g"]

    bad = server.ssh("cat --at soon /at-e2e/g", user="admin")
    assert bad.status == 2 and bad.err.count("\n") == 1 and "soon" in bad.err
    refused = server.ssh(f"acl grant --at {first} /at-e2e admin r", user="admin")
    assert refused.status == 4 and "read-only" in refused.err
    assert "Traceback" not in bad.err + refused.err
