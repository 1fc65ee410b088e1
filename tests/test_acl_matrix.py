"""The ACL matrix in process: every command family, as four people (see tests/acl_world.py).

Read-only rows share one copy of the tree; each row that changes something
gets a copy of its own, copied from a store built once.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from omsh.commands.registry import default_registry
from omsh.store import admin as administration
from omsh.store.database import Store
from omsh.store.model import DataObject, walk
from omsh.store.view import StoreView
from tests.acl_world import GROUPS, READS, ROOT_SETUP, SETUP, USERS, WRITES, cases
from tests.conftest import ShellDriver

REGISTRY = default_registry()


def drivers(store: Store) -> dict[str, ShellDriver]:
    return {user: ShellDriver(store, REGISTRY, user) for user in USERS}


def build(directory: Path) -> Store:
    """A store with carol, the groups and the tree, built by admin's commands."""
    store = Store.open(data_dir=str(directory / "var"))
    store.bootstrap(admin_password="admin-secret")

    def people(root) -> None:
        view = StoreView.for_user(root, "admin")
        for name in ("alice", "bob", "carol"):
            administration.add_user(view, name)
        for group, members in GROUPS.items():
            administration.add_group(view, group)
            for member in members:
                administration.add_member(view, group, member)

    store.run(people)
    admin = ShellDriver(store, REGISTRY, "admin")
    for line in ROOT_SETUP:
        admin.ok(line)
    for line, stdin in SETUP:
        admin.ok(line, stdin)
    return store


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The tree built once, closed: each test copies it rather than rebuilding it."""
    directory = tmp_path_factory.mktemp("matrix")
    build(directory).close()
    return directory


@pytest.fixture(scope="module")
def world(template, tmp_path_factory) -> Iterator[dict[str, ShellDriver]]:
    """One copy shared by the read-only rows."""
    store = copy_of(template, tmp_path_factory.mktemp("reads"))
    yield drivers(store)
    store.close()


@pytest.fixture
def fresh(template, tmp_path) -> Iterator[dict[str, ShellDriver]]:
    """A copy of its own for each row that changes something."""
    store = copy_of(template, tmp_path)
    yield drivers(store)
    store.close()


def copy_of(template: Path, directory: Path) -> Store:
    shutil.copytree(template / "var", directory / "var", dirs_exist_ok=True)
    return Store.open(data_dir=str(directory / "var"))


def snapshot(store: Store) -> list[tuple]:
    """Everything a command could change: paths, owners, ACLs, metadata, content."""

    def take(root) -> list[tuple]:
        return [
            (
                node.path,
                node.owner,
                tuple(node.acl),
                tuple(sorted(node.metadata.items())),
                node.sha256 if isinstance(node, DataObject) else None,
            )
            for _, node in walk(root.tree)
        ]

    return store.read(take)


def params(rows: list[tuple[str, str]]) -> list:
    return [pytest.param(*case, id=f"{case[1]}: {case[0]}") for case in cases(rows)]


def check(driver: ShellDriver, line: str, expected: int) -> None:
    before = snapshot(driver.store) if expected else None
    status, out, err = driver(line, b"new content\n")
    assert status == expected, f"{driver.session.user}: {line!r} -> {status}: {err}"
    if expected == 4:
        assert out == "", out
        assert err.strip().endswith("permission denied"), err
        assert err.count("\n") == 1
    if expected:
        assert snapshot(driver.store) == before, "a refused command changed the store"


@pytest.mark.parametrize(("line", "user", "expected"), params(READS))
def test_reads(world, line, user, expected):
    driver = world[user]
    driver.session.cwd = "/"
    check(driver, line, expected)


@pytest.mark.parametrize(("line", "user", "expected"), params(WRITES))
def test_writes(fresh, line, user, expected):
    check(fresh[user], line, expected)


# -- what the matrix does not show by exit status alone -------------------------


@pytest.mark.parametrize(
    ("user", "letters"),
    [("admin", "rwdam"), ("alice", "rwdam"), ("bob", "r----"), ("carol", "r----")],
)
def test_acl_check_agrees_with_the_matrix(world, user, letters):
    assert world[user].ok("acl check /org/dept/team/doc").splitlines()[0].split()[1] == letters


def test_listings_show_only_what_the_caller_may_see(world):
    assert world["alice"].ok("ls /org/dept/team").split() == ["doc", "inbox/", "secret/"]
    assert world["bob"].ok("ls /org/dept/team").split() == ["doc", "inbox/"]
    assert "secret" not in world["carol"].ok("ls -R /org")
    assert "plan" not in world["bob"].ok("tree /org")
    assert "plan" in world["alice"].ok("tree /org")


@pytest.mark.parametrize(
    ("user", "hidden"),
    [("alice", set()), ("bob", {"secret", "secret/plan"}), ("carol", {"secret", "secret/plan"})],
)
def test_queries_return_only_what_listings_show(world, user, hidden):
    """bob may read plan's metadata, but plan is in a container he may not list."""
    team = "/org/dept/team"
    everything = {
        f"{team}/{name}" for name in ("doc", "inbox", "inbox/letter", "secret", "secret/plan")
    }
    expected = everything - {f"{team}/{name}" for name in hidden}
    assert set(world[user].ok(f"find {team}").split()) == expected
    found = world[user].ok(f"query \"path LIKE '{team}/%'\" --in /org")
    assert set(found.split()) == expected
    count = world[user].ok(f"query \"path LIKE '{team}/%'\" --in /org --count")
    assert int(count) == len(expected)


def test_wildcards_do_not_reveal_hidden_names(world):
    status, out, err = world["bob"]("ls /org/dept/team/s*")
    assert status == 3 and "secret" not in out + err
    assert world["alice"].ok("ls -d /org/dept/team/s*").split() == ["/org/dept/team/secret/"]


def test_hidden_and_missing_names_are_refused_alike(world):
    bob = world["bob"]
    existing = bob("cat /org/dept/team/secret/plan")
    missing = bob("cat /org/dept/team/secret/nothing")
    assert existing[:2] == missing[:2] == (4, "")
    assert existing[2].replace("plan", "X") == missing[2].replace("nothing", "X")


def test_recursive_refusal_does_not_name_a_hidden_object(fresh):
    admin, bob = fresh["admin"], fresh["bob"]
    admin.ok("acl grant /org/dept/team/inbox bob all --inherit")
    admin.ok("mkdir /org/dept/team/inbox/private")
    admin.ok("put /org/dept/team/inbox/private/x", b"x")
    admin.ok("acl deny /org/dept/team/inbox/private bob rda --inherit")
    for line in ("rm -r /org/dept/team/inbox", "acl grant -R /org/dept/team/inbox alice r"):
        status, _, err = bob(line)
        assert status == 4 and "private" not in err, err
        assert err.endswith("/org/dept/team/inbox: permission denied\n")


def test_a_revoked_grant_takes_effect_on_the_next_command_of_a_session(fresh):
    admin, bob = fresh["admin"], fresh["bob"]
    bob.ok("cd /org/dept/team/inbox")
    bob.ok("put first", b"1")
    admin.ok("acl revoke /org/dept/team/inbox bob")
    assert bob("put second", b"2")[0] == 4
    admin.ok("acl grant /org/dept/team/inbox bob w")
    bob.ok("put second", b"2")


def test_changing_a_group_changes_access_at_once(fresh):
    admin, carol = fresh["admin"], fresh["carol"]
    assert carol("ls /org/dept/team/secret")[0] == 4

    def leave(root) -> None:
        administration.remove_member(StoreView.for_user(root, "admin"), "interns", "carol")

    admin.store.run(leave)
    carol.ok("ls /org/dept/team/secret")


#: The read commands that take ``--at`` (cd and verify do not).
AT_READS = [
    row
    for row in READS
    if row[0].split()[0] in {"ls", "tree", "stat", "cat", "head", "meta", "find", "query", "acl"}
]


@pytest.mark.parametrize(("line", "user", "expected"), params(AT_READS))
def test_reads_as_of_a_past_transaction_follow_the_matrix(world, line, user, expected):
    """Rights then and now are the matrix's, so ``--at`` answers as the read does now."""
    driver = world[user]
    driver.session.cwd = "/"
    tid = driver.store.db.lastTransaction().hex()
    command, _, rest = line.partition(" ")
    check(driver, f"{command} --at {tid} {rest}", expected)
