"""The query and find commands, end to end through the shell runtime."""

from __future__ import annotations

import json

import pytest

from omsh.store.acl import AceType, parse_perms, with_entry


@pytest.fixture
def photos(admin):
    admin.ok("mkdir -p /photos/2024 /docs")
    admin.ok("put /photos/a.jpg --meta n=5 --meta camera=x100", b"aaaa")
    admin.ok("put /photos/2024/b.jpg --meta n=7 --meta taken=2024-06-01T12:00:00Z", b"bbbbbbbb")
    admin.ok("put /photos/c.txt --meta n:str=5", b"c")
    admin.ok("put /docs/readme.md --meta n=5.0", b"readme")
    return admin


def _paths(out: str) -> list[str]:
    return [line for line in out.splitlines() if line]


def test_equality_respects_types(photos):
    assert _paths(photos.ok("query 'n = 5'")) == ["/docs/readme.md", "/photos/a.jpg"]
    assert _paths(photos.ok("query \"n = '5'\"")) == ["/photos/c.txt"]


def test_select_order_limit_and_count(photos):
    out = photos.ok("query 'n > 4' --select n,size --order-by n --desc --limit 2")
    rows = out.splitlines()
    assert rows[0].split() == ["path", "n", "cdmi_size"]
    assert rows[1].split()[0] == "/photos/2024/b.jpg"
    assert len(rows) == 3
    assert photos.ok("query 'n >= 5' --count").strip() == "3"


def test_json_document_has_results_count_and_transaction(photos):
    document = json.loads(photos.ok("query 'size > 1' --in /photos --select size --json"))
    assert [row["path"] for row in document["results"]] == ["/photos/2024/b.jpg", "/photos/a.jpg"]
    assert document["results"][0]["cdmi_size"] == 8
    assert document["count"] == 2
    assert len(document["transaction"]) == 16
    assert document["complete_as_of"].endswith("Z")


def test_footer_names_the_transaction_on_stderr(photos):
    status, out, err = photos("query 'n = 7'")
    assert status == 0
    assert out.strip() == "/photos/2024/b.jpg"
    assert "1 object; complete as of transaction" in err


def test_results_follow_every_change(photos):
    photos.ok("set-meta /photos/a.jpg n=6")
    assert _paths(photos.ok("query 'n = 6'")) == ["/photos/a.jpg"]
    photos.ok("mv /photos/a.jpg /docs/a.jpg")
    assert _paths(photos.ok("query 'n = 6'")) == ["/docs/a.jpg"]
    photos.ok("cp /docs/a.jpg /photos/copy.jpg")
    assert _paths(photos.ok("query 'n = 6'")) == ["/docs/a.jpg", "/photos/copy.jpg"]
    photos.ok("rm /docs/a.jpg")
    assert _paths(photos.ok("query 'n = 6'")) == ["/photos/copy.jpg"]
    photos.ok("rm -r /photos")
    assert photos.ok("query 'n = 6' --count").strip() == "0"


def test_results_are_filtered_by_acl(photos, alice):
    photos.ok("acl grant / alice read --inherit")  # a private store opened to alice
    assert alice.ok("query 'n >= 5' --count").strip() == "3"

    def hide_2024(root) -> None:
        container = root.tree.get("photos").get("2024")
        container.acl = with_entry((), AceType.DENY, "alice", parse_perms("r"), inherit=True)

    photos.store.run(hide_2024)
    assert alice.ok("query 'n >= 5' --count").strip() == "2"
    assert "/photos/2024/b.jpg" not in alice.ok("query 'n >= 5'")
    assert "/photos/2024/b.jpg" in photos.ok("query 'n >= 5'")


def test_find_by_name_size_age_type_and_metadata(photos):
    assert _paths(photos.ok("find /photos --name '*.jpg'")) == [
        "/photos/2024/b.jpg",
        "/photos/a.jpg",
    ]
    assert _paths(photos.ok("find / --larger 4")) == ["/docs/readme.md", "/photos/2024/b.jpg"]
    assert _paths(photos.ok("find / --smaller 2 --type object")) == ["/photos/c.txt"]
    assert "/photos/a.jpg" in _paths(photos.ok("find / --newer-than 1h"))
    assert _paths(photos.ok("find / --older-than 1d")) == []
    assert _paths(photos.ok("find / --meta camera=x100")) == ["/photos/a.jpg"]
    assert _paths(photos.ok("find / --meta n:str=5")) == ["/photos/c.txt"]
    assert _paths(photos.ok("find / --meta 'n=5'")) == ["/docs/readme.md", "/photos/a.jpg"]
    assert photos("find / --meta n:int=x")[0] == 2
    assert _paths(photos.ok("find /photos --type container")) == ["/photos/2024"]


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("query 'n = '", 2),
        ("query '(n = 1'", 2),
        ('query "n = \'open"', 2),
        ("query 'n = 1' --limit -1", 2),
        ("query 'n = 1' --desc", 2),
        ("query 'n = 1' --in /nowhere", 3),
        ("query 'n = 1' --in /photos/a.jpg", 1),
        ("find / --larger lots", 2),
        ("find / --newer-than soon", 2),
        ("find / --meta novalue", 2),
        ("find /nowhere", 3),
    ],
)
def test_bad_input(photos, line, status):
    code, _out, err = photos(line)
    assert code == status, err
    assert err.startswith("omsh: ")
    assert "Traceback" not in err


def test_syntax_error_shows_a_caret(photos):
    status, _, err = photos("query 'size > 5 AND AND n = 1'")
    assert status == 2
    lines = err.splitlines()
    assert "column 14" in lines[0]
    assert lines[2].index("^") == lines[1].index("AND AND") + 4


def test_hundred_kilobyte_query_is_refused(photos):
    status, _, err = photos("query '" + "n = 1 OR " * 12_000 + "n = 1'")
    assert status == 2
    assert "limit" in err
