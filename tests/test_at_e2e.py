"""``--at`` over real SSH (OpenSSH ``ssh host 'cat --at TXN PATH'``) against ``omsh serve``.

The transaction ids come from ``query --json``, which reports the
transaction it read.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e import OmshServer

pytestmark = pytest.mark.e2e


def _transaction(server: OmshServer) -> str:
    return str(json.loads(server.ok("query 'size >= 0' --count --json"))["transaction"])


def test_cat_and_ls_at_a_past_transaction(server: OmshServer) -> None:
    server.ok("mkdir -p /at-e2e")
    server.ok("put /at-e2e/f", stdin=b"first version\n")
    first = _transaction(server)
    server.ok("put /at-e2e/f", stdin=b"second version\n")
    server.ok("mv /at-e2e/f /at-e2e/g")

    assert server.ok(f"cat --at {first} /at-e2e/f") == "first version\n"
    assert server.ok("cat /at-e2e/g") == "second version\n"
    assert server.ok(f"ls --at {first} /at-e2e").split() == ["f"]
    assert server.ok("ls /at-e2e").split() == ["g"]

    bad = server.ssh("cat --at soon /at-e2e/g", user="admin")
    assert bad.status == 2 and bad.err.count("\n") == 1 and "soon" in bad.err
    refused = server.ssh(f"acl grant --at {first} /at-e2e admin r", user="admin")
    assert refused.status == 4 and "read-only" in refused.err
    assert "Traceback" not in bad.err + refused.err
