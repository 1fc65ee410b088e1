"""Metadata queries over real SSH: ``query --json`` parsed, ``find``, errors, ACLs, ``omsh check``.

One server for the module, as ``admin`` and as ``carol`` (created with
``omsh user add`` while the server is stopped), who may not read
``/qe/private``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e import OMSH, OmshServer, run

pytestmark = pytest.mark.e2e


def _query(server: OmshServer, arguments: str, *, user: str = "admin") -> dict[str, Any]:
    return json.loads(server.ok(f"query {arguments} --json", user=user))


def _paths(document: dict[str, Any]) -> list[str]:
    return [row["path"] for row in document["results"]]


@pytest.fixture(scope="module")
def catalogued(server: OmshServer) -> OmshServer:
    server.add_users({"carol": ()})
    for command, content in (
        ("mkdir -p /qe/photos/2024 /qe/private", b""),
        ("put /qe/photos/a.jpg --meta n=5 --meta camera=x100", b"aaaa"),
        ("put /qe/photos/2024/b.jpg --meta n=7 --meta ratio=1.5 --meta flag=true", b"b" * 8),
        ("put /qe/photos/c.txt --meta n:str=5", b"c"),
        ("put /qe/private/secret.txt --meta n=6", b"hidden"),
        ("set-meta /qe/photos/a.jpg taken=2024-06-01T12:00:00Z", b""),
        ("acl grant /qe carol read --inherit", b""),  # the store is private
        ("acl deny /qe/private carol read --inherit", b""),
    ):
        server.ok(command, stdin=content)
    return server


def test_query_json_is_typed_complete_and_parseable(catalogued: OmshServer) -> None:
    document = _query(catalogued, "'n = 5' --in /qe --select n,camera,taken,size")
    assert document["results"] == [
        {
            "path": "/qe/photos/a.jpg",
            "n": 5,
            "camera": "x100",
            "taken": document["results"][0]["taken"],
            "cdmi_size": 4,
        }
    ]
    assert document["results"][0]["taken"].startswith("2024-06-01T12:00:00")
    assert document["count"] == 1
    assert len(document["transaction"]) == 16
    int(document["transaction"], 16)
    assert document["complete_as_of"].endswith("Z")

    assert _paths(_query(catalogued, "\"n = '5'\"")) == ["/qe/photos/c.txt"]
    assert _paths(_query(catalogued, "'flag = true AND ratio > 1'")) == ["/qe/photos/2024/b.jpg"]
    assert _paths(_query(catalogued, "\"taken < 2025-01-01 AND camera LIKE 'x%'\"")) == [
        "/qe/photos/a.jpg"
    ]
    ordered = _query(catalogued, "'n >= 5' --in /qe --order-by n --desc --limit 2 --select n")
    assert ordered["results"] == [
        {"path": "/qe/photos/2024/b.jpg", "n": 7},
        {"path": "/qe/private/secret.txt", "n": 6},
    ]
    assert ordered["count"] == 3


def test_plain_output_count_and_footer(catalogued: OmshServer) -> None:
    result = catalogued.ssh("query 'n >= 5' --in /qe")
    assert result.status == 0, result.err
    assert result.out.splitlines() == [
        "/qe/photos/2024/b.jpg",
        "/qe/photos/a.jpg",
        "/qe/private/secret.txt",
    ]
    assert "(3 objects; complete as of transaction " in result.err
    counted = catalogued.ssh("query 'n >= 5' --in /qe --count")
    assert (counted.status, counted.out) == (0, "3\n")


def test_every_change_shows_in_the_next_answer(catalogued: OmshServer) -> None:
    catalogued.ok("mkdir /qe/moving")
    catalogued.ok("put /qe/moving/x --meta stage=1", stdin=b"x")
    first = _query(catalogued, "'stage = 1'")
    assert _paths(first) == ["/qe/moving/x"]
    catalogued.ok("set-meta /qe/moving/x stage=2")
    catalogued.ok("cp /qe/moving/x /qe/moving/y")
    catalogued.ok("mv /qe/moving/x /qe/moving/z")
    second = _query(catalogued, "'stage = 2'")
    assert _paths(second) == ["/qe/moving/y", "/qe/moving/z"]
    assert int(second["transaction"], 16) > int(first["transaction"], 16)
    catalogued.ok("rm -r /qe/moving")
    assert _query(catalogued, "'stage IS NOT NULL'")["count"] == 0


def test_find_by_name_size_and_metadata(catalogued: OmshServer) -> None:
    found = json.loads(catalogued.ok("find /qe/photos --name '*.jpg' --json"))
    assert _paths(found) == ["/qe/photos/2024/b.jpg", "/qe/photos/a.jpg"]
    assert _paths(json.loads(catalogued.ok("find /qe --larger 5 --type object --json"))) == [
        "/qe/photos/2024/b.jpg",
        "/qe/private/secret.txt",
    ]
    assert _paths(json.loads(catalogued.ok("find /qe --meta n=5 --json"))) == ["/qe/photos/a.jpg"]
    assert _paths(json.loads(catalogued.ok("find /qe --meta n:str=5 --json"))) == [
        "/qe/photos/c.txt"
    ]
    plain = catalogued.ssh("find /qe/photos --newer-than 1h --type object")
    assert plain.out.splitlines() == [
        "/qe/photos/2024/b.jpg",
        "/qe/photos/a.jpg",
        "/qe/photos/c.txt",
    ]


@pytest.mark.parametrize(
    ("expression", "fault"),
    [
        ("n > 5 AND AND m = 1", "AND m = 1"),
        ("(n = 1", ""),
        ("n = 'unterminated", "'unterminated"),
        ("n ~ 1", "~ 1"),
        ("n IN ()", ")"),
    ],
)
def test_bad_queries_exit_2_with_a_caret_under_the_fault(
    catalogued: OmshServer, expression: str, fault: str
) -> None:
    result = catalogued.ssh(f'query "{expression}"')
    assert result.status == 2, result.err
    assert result.out == ""
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert lines[0].startswith("omsh: query: syntax error")
    caret = lines[-1].index("^")
    assert lines[-2].strip() == expression
    assert lines[-2][caret:] == fault


@pytest.mark.parametrize(
    ("expression", "message"),
    [("n = 1 OR " * 11_200 + "n = 1", "limit"), ("(" * 200 + "n = 1" + ")" * 200, "deeper")],
)
def test_huge_and_deep_queries_are_refused_quickly(
    catalogued: OmshServer, expression: str, message: str
) -> None:
    assert len(expression) < 128 * 1024  # one argument for ssh
    result = run([*catalogued.ssh_argv(), f'query "{expression}"'], timeout=30)
    assert result.status == 2
    assert message in result.err
    assert "Traceback" not in result.err
    assert len(result.err.splitlines()) == 1


def test_objects_another_user_may_not_read_are_neither_shown_nor_counted(
    catalogued: OmshServer,
) -> None:
    as_carol = _query(catalogued, "'n >= 5' --in /qe", user="carol")
    assert _paths(as_carol) == ["/qe/photos/2024/b.jpg", "/qe/photos/a.jpg"]
    assert as_carol["count"] == 2
    assert catalogued.ok("query 'n >= 5' --in /qe --count", user="carol") == "2\n"
    # Without --in, a query looks below the working container: carol starts at home.
    assert catalogued.ok("pwd; query 'n >= 5' --count", user="carol") == "/home/carol\n0\n"
    assert "/qe/private/secret.txt" not in catalogued.ok("find /qe", user="carol")
    refused = catalogued.ssh("query 'n = 6' --in /qe/private", user="carol")
    assert refused.status == 4
    assert "permission denied" in refused.err
    assert _query(catalogued, "'n = 6' --in /qe/private")["count"] == 1


def test_omsh_check_offline_after_the_server_stops(catalogued: OmshServer) -> None:
    catalogued.stop()
    try:
        checked = run([OMSH, "check", "--data", str(catalogued.data)])
        assert checked.status == 0, checked.out + checked.err
        assert checked.out.splitlines()[-1].endswith(", 0 problems")
        reindexed = run([OMSH, "reindex", "--data", str(catalogued.data)])
        assert reindexed.status == 0, reindexed.err
        assert reindexed.out.startswith("catalog rebuilt: ")
        assert "(100%)" in reindexed.err
    finally:
        catalogued.start()
    assert _paths(_query(catalogued, "'n = 7'")) == ["/qe/photos/2024/b.jpg"]
