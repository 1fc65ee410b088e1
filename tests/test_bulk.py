"""Bulk edits with ``--query``: one transaction, all or nothing, ACL-filtered matches.

In process through the shell (:class:`tests.conftest.ShellDriver`) and
through :mod:`omsh.store.bulk` directly; the SSH and CDMI side is in
``tests/test_bulk_e2e.py``.
"""

from __future__ import annotations

import json

import pytest
from ZODB.POSException import ConflictError

from omsh.store import bulk
from omsh.store.query import parse_query
from omsh.store.view import StoreView


def paths(driver, expression: str, within: str = "/b") -> list[str]:
    """What ``query`` answers, as paths."""
    document = json.loads(driver.ok(f'query "{expression}" --in {within} --json'))
    return [row["path"] for row in document["results"]]


def meta(driver, path: str) -> dict:
    return json.loads(driver.ok(f"meta --json {path}"))["metadata"]


@pytest.fixture
def tree(admin):
    """/b/x/{1,2,3} with kind=photo, /b/y/4 with kind=doc, /b/y/5 without."""
    admin.ok("mkdir -p /b/x /b/y")
    for name in ("1", "2", "3"):
        admin.ok(f"put /b/x/{name} --meta kind=photo --meta n={name}", b"x")
    admin.ok("put /b/y/4 --meta kind=doc", b"y")
    admin.ok("put /b/y/5", b"z")
    return admin


@pytest.fixture
def shared(tree, alice):
    """alice may do everything below /b, except change /b/x/2's metadata or remove it."""
    tree.ok("acl grant /b alice all --inherit")
    tree.ok("acl deny /b/x/2 alice write-metadata,delete")
    return alice


def catalog_is_exact(driver) -> None:
    status, out, err = driver("check")
    assert (status, err) == (0, ""), out
    assert out.endswith(", 0 problems\n")


# -- set-meta --query ---------------------------------------------------------------


def test_set_meta_query_changes_every_match_and_the_catalog_follows(tree) -> None:
    status, out, err = tree("set-meta --query \"kind = 'photo'\" seen=true rating=5")
    assert (status, out, err) == (0, "set 2 keys on 3 objects\n", "")
    assert paths(tree, "seen = true AND rating = 5") == ["/b/x/1", "/b/x/2", "/b/x/3"]
    assert meta(tree, "/b/x/2") == {"kind": "photo", "n": 2, "seen": True, "rating": 5}
    assert meta(tree, "/b/y/4") == {"kind": "doc"}
    catalog_is_exact(tree)


def test_set_meta_query_deletes_keys_and_reports_json(tree) -> None:
    document = json.loads(tree.ok("set-meta --query 'n >= 2' -d n --json"))
    assert document == {"count": 2, "changed": 2}
    assert paths(tree, "n IS NOT NULL") == ["/b/x/1"]
    out = tree.ok("set-meta --query 'n >= 1' x=1 -d n")
    assert out == "set 1 key and deleted 1 key on 1 object\n"
    catalog_is_exact(tree)


def test_set_meta_query_scoped_with_in(tree) -> None:
    assert tree.ok("set-meta --query 'kind IS NOT NULL' --in /b/y tag=y") == (
        "set 1 key on 1 object\n"
    )
    assert paths(tree, "tag = 'y'") == ["/b/y/4"]


def test_dry_run_lists_what_would_change_and_changes_nothing(tree) -> None:
    tree.ok("set-meta /b/x/3 seen=true")
    status, out, err = tree("set-meta --query \"kind = 'photo'\" seen=true --dry-run")
    assert (status, out) == (0, "/b/x/1\n/b/x/2\n")  # /b/x/3 has it already
    assert err == "(2 objects would change; nothing changed)\n"
    lines = tree.ok("set-meta --query \"kind = 'photo'\" seen=true --dry-run --json")
    assert [json.loads(line) for line in lines.splitlines()] == [
        {"path": "/b/x/1"},
        {"path": "/b/x/2"},
    ]
    assert paths(tree, "seen = true") == ["/b/x/3"]


def test_a_value_of_another_type_is_a_change(tree) -> None:
    """1, 1.0 and true are equal in Python, not in the store: each is a change."""
    out = tree.ok("set-meta --query 'n = 1' --dry-run n:float=1")
    assert out == "/b/x/1\n"
    assert tree.ok("set-meta --query 'n = 1' --dry-run n=1") == ""
    tree.ok("set-meta --query 'n = 1' n:float=1")
    assert json.loads(tree.ok("meta --json /b/x/1"))["types"]["n"] == "float"
    assert tree.ok("set-meta --query 'n = 1' --dry-run n:bool=true") == "/b/x/1\n"


def test_no_match_is_a_count_of_zero(tree) -> None:
    assert tree("set-meta --query 'n > 100' k=1") == (0, "set 1 key on 0 objects\n", "")
    assert json.loads(tree.ok("rm --query 'n > 100' --json")) == {"count": 0, "changed": 0}


@pytest.mark.parametrize(
    "line",
    [
        "set-meta --query 'n =' k=1",
        "rm --query 'n = = 1'",
        "chown --query '(' alice",
        'acl grant --query "kind = \'photo" alice read',
    ],
)
def test_a_malformed_query_is_one_line_and_exit_2(tree, line: str) -> None:
    status, out, err = tree(line)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "syntax error" in err and "column" in err


def test_refused_on_one_match_changes_nothing_and_names_the_first(tree, shared) -> None:
    status, out, err = shared("set-meta --query 'n >= 1' --in /b k=1")
    assert status == 4 and out == ""
    assert err == (
        "omsh: set-meta: /b/x/2: permission denied (1 of 3 objects refused; nothing changed)\n"
    )
    assert paths(tree, "k = 1") == []
    status, _, err = shared("rm --query 'n >= 1' --in /b")
    assert status == 4 and "/b/x/2: permission denied (1 of 3" in err
    assert paths(tree, "n >= 1") == ["/b/x/1", "/b/x/2", "/b/x/3"]


def test_hidden_objects_are_neither_matched_nor_counted(tree, shared) -> None:
    tree.ok("acl deny /b/y alice read --inherit")
    out = shared.ok("set-meta --query \"kind = 'doc' OR n = 1\" --in /b k=1")
    assert out == "set 1 key on 1 object\n"
    assert paths(tree, "k = 1") == ["/b/x/1"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("set-meta /b/x/1 k=1 --dry-run", "--in and --dry-run go with --query"),
        ("rm /b/x/1 --in /b", "--in and --dry-run go with --query"),
        ("rm --query 'n = 1' /b/x/1", "--query replaces the paths"),
        ("chown --query 'n = 1' alice /b/x/1", "--query replaces the paths"),
        ("set-meta", "usage: set-meta PATH"),
        ("rm", "usage: rm"),
        ("rm -i --query 'n = 1'", "-i does not go with --query"),
        ("acl check --query 'n = 1' /b", "--query goes with acl grant"),
        ("acl grant -R --query 'n = 1' alice read", "--query goes with acl grant"),
    ],
)
def test_query_options_need_query_and_replace_paths(tree, line: str, message: str) -> None:
    status, out, err = tree(line)
    assert (status, out) == (2, "") and message in err


# -- rm --query --------------------------------------------------------------------


def test_rm_query_removes_every_match(tree) -> None:
    assert tree.ok("rm --query \"kind = 'photo'\"") == "removed 3 objects\n"
    assert paths(tree, "type IS NOT NULL") == ["/b/x", "/b/y", "/b/y/4", "/b/y/5"]
    catalog_is_exact(tree)


def test_rm_query_containers_need_r_and_go_whole(tree) -> None:
    tree.ok("set-meta /b/x sweep=true")
    status, _, err = tree("rm --query 'sweep = true'")
    assert status == 1 and "/b/x: container not empty" in err
    assert paths(tree, "type IS NOT NULL", "/b/x") == ["/b/x/1", "/b/x/2", "/b/x/3"]
    tree.ok("set-meta /b/x/1 sweep=true")  # a match inside a matched container
    assert tree.ok("rm -r --query 'sweep = true'") == "removed 2 objects\n"
    assert paths(tree, "type IS NOT NULL") == ["/b/y", "/b/y/4", "/b/y/5"]
    catalog_is_exact(tree)


def test_rm_query_without_r_empties_a_container_deepest_first(tree) -> None:
    tree.ok("set-meta --query 'type IS NOT NULL' --in /b/y gone=true")
    tree.ok("set-meta /b/y gone=true")
    assert tree.ok("rm --query 'gone = true'") == "removed 3 objects\n"
    assert paths(tree, "type IS NOT NULL") == ["/b/x", "/b/x/1", "/b/x/2", "/b/x/3"]


def test_rm_query_on_a_terminal_asks_first(tree) -> None:
    tree.terminal = True
    tree.answers = ["n"]
    status, _, err = tree("rm --query \"kind = 'photo'\"")
    assert status == 1 and "cancelled, nothing changed" in err
    assert tree.prompts == ["remove 3 objects matching the query? [y/N] "]
    assert len(paths(tree, "kind = 'photo'")) == 3
    tree.answers = ["y"]
    assert "removed 3 objects" in tree.ok("rm --query \"kind = 'photo'\"")
    assert paths(tree, "kind = 'photo'") == []
    tree.prompts.clear()
    tree.ok("rm -f --query \"kind = 'doc'\"")  # -f never asks
    assert tree.prompts == []


# -- chown --query and acl --query ---------------------------------------------------


def test_chown_query_is_for_administrators(tree, alice) -> None:
    assert tree.ok("chown --query \"kind = 'photo'\" alice") == "gave 3 objects to alice\n"
    assert paths(tree, "owner = 'alice'") == ["/b/x/1", "/b/x/2", "/b/x/3"]
    status, _, err = alice("chown --query \"kind = 'photo'\" bob")
    assert status == 4 and "administrators only" in err
    document = json.loads(tree.ok("chown -r --query \"name = 'y'\" --in /b bob --json"))
    assert document == {"count": 1, "changed": 3}  # /b/y and its two objects
    assert paths(tree, "owner = 'bob'") == ["/b/y", "/b/y/4", "/b/y/5"]
    assert "chown" in tree.ok("audit")
    catalog_is_exact(tree)


def test_acl_grant_and_revoke_query(tree, alice) -> None:
    out = tree.ok("acl grant --query \"kind = 'photo'\" --in /b alice read,read-metadata")
    assert out == "granted on 3 objects\n"
    listing = json.loads(tree.ok("acl --json /b/x/2"))
    assert any(ace["identifier"] == "alice" for ace in listing["cdmi_acl"])
    events = [line for line in tree.ok("audit").splitlines() if "query kind" in line]
    assert len(events) == 1  # one event for the whole change
    assert tree.ok("acl revoke --query \"kind = 'photo'\" alice") == "revoked on 3 objects\n"
    listing = json.loads(tree.ok("acl --json /b/x/2"))
    assert not any(ace["identifier"] == "alice" for ace in listing["cdmi_acl"])


def test_acl_query_refused_on_one_changes_none(tree, shared) -> None:
    tree.ok("acl deny /b/x/3 alice write-acl")
    status, _, err = shared("acl grant --query 'n >= 1' --in /b bob read")
    assert status == 4 and "/b/x/3: permission denied (1 of 3 objects refused" in err
    listing = json.loads(tree.ok("acl --json /b/x/1"))
    assert not any(ace["identifier"] == "bob" for ace in listing["cdmi_acl"])


# -- the store module ---------------------------------------------------------------


def test_a_conflict_reruns_the_whole_edit(store, tree) -> None:
    counts: list[int] = []

    def work(root) -> bulk.Outcome:
        view = StoreView.for_user(root, "admin")
        change = bulk.SetMetadata({"v": len(counts)})
        outcome = bulk.edit_matches(view, parse_query("kind = 'photo'"), None, "/", change)
        counts.append(outcome.changed)
        if len(counts) == 1:
            raise ConflictError()  # as if another writer committed first
        return outcome

    outcome = store.run(work)
    assert counts == [3, 3] and outcome.count == 3
    assert paths(tree, "v = 1") == ["/b/x/1", "/b/x/2", "/b/x/3"]
    assert paths(tree, "v = 0") == []


def test_expected_count_refuses_when_matches_changed(store, tree) -> None:
    def work(root) -> bulk.Outcome:
        view = StoreView.for_user(root, "admin")
        node = parse_query("kind = 'photo'")
        return bulk.edit_matches(view, node, None, "/", bulk.Remove(), expected=2)

    with pytest.raises(Exception, match="3 objects match now, not the 2 confirmed"):
        store.run(work)
    assert len(paths(tree, "kind = 'photo'")) == 3
