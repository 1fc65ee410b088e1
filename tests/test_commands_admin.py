"""user, group, chown and audit; escalation attempts; the audit trail's contents."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from omsh.commands import admin as admin_commands
from omsh.commands.admin import parse_since
from omsh.errors import UsageError
from omsh.store import audit
from tests.test_commands_identity import key_line, password_ok


def members(store, group: str) -> set[str]:
    return store.read(lambda root: set(root.principals.get_group(group).members))


def users(store) -> set[str]:
    return store.read(lambda root: set(root.principals.users))


def trail(driver, extra: str = "") -> list[dict]:
    return [json.loads(line) for line in driver.ok(f"audit --json -n 1000 {extra}").splitlines()]


def actions(driver, extra: str = "") -> list[tuple[str, str, str]]:
    return [(e["actor"], e["action"], e["target"]) for e in trail(driver, extra)]


# -- user add --------------------------------------------------------------------


def test_user_add_with_password_from_stdin_groups_and_a_key(store, admin) -> None:
    admin.ok("group add staff; group add ops")
    line = (
        f"user add carol --group staff,ops --admin --key '{key_line(7, 'laptop')}' --password-stdin"
    )
    assert (
        admin.ok(line, stdin=b"carol pw\n")
        == "user carol created (groups: admins, ops, staff), home /home/carol\n"
    )
    assert password_ok(store, "carol", "carol pw")
    shown = json.loads(admin.ok("user show carol --json"))
    assert shown["groups"] == ["admins", "ops", "staff"]
    assert shown["admin"] is True
    assert shown["password"] is True
    assert [key["comment"] for key in shown["keys"]] == ["laptop"]


def test_user_add_prompts_twice_at_a_terminal(store, admin) -> None:
    admin.session.interactive = True
    admin.secrets = ["typed pw", "typed pw"]
    status, out, err = admin("user add carol --password-prompt")
    assert (status, err) == (0, "")
    assert "typed pw" not in out
    assert password_ok(store, "carol", "typed pw")


def test_user_add_prompt_mismatch_creates_nothing(store, admin) -> None:
    admin.session.interactive = True
    admin.secrets = ["one", "two"]
    assert admin("user add carol --password-prompt")[0] == 1
    assert "carol" not in users(store)


def test_user_add_repeated_group_and_key_options(store, admin) -> None:
    admin.ok("group add staff; group add ops")
    line = f"user add carol --group staff --group ops --key '{key_line(1)}' --key '{key_line(2)}'"
    document = json.loads(admin.ok(line + " --json"))
    assert document["groups"] == ["ops", "staff"]
    assert len(document["keys"]) == 2


def test_user_add_without_credentials_warns(store, admin) -> None:
    status, out, err = admin("user add carol")
    assert (status, out) == (0, "user carol created, home /home/carol\n")
    assert err == "omsh: user: carol has no password and no key yet, so cannot log in\n"


@pytest.mark.parametrize(
    ("line", "status", "message"),
    [
        ("user add alice", 5, "alice: user already exists"),
        ("user add admins", 5, "admins: a group has that name"),
        ("user add 'bad name'", 1, "names are 1-32 letters"),
        ("user add carol --group nosuch", 3, "nosuch: no such group"),
        ("user add", 2, "needs a NAME"),
        ("user add carol --password-stdin --password-prompt", 2, "exclude each other"),
        ("user add carol --key 'ssh-ed25519 garbage'", 1, "not valid base64"),
        ("user list carol", 2, "takes no NAME"),
        ("user del", 2, "needs a NAME"),
        ("user del nobody", 3, "nobody: no such user"),
        ("user show nobody", 3, "nobody: no such user"),
        ("user list --admin", 2, "go with user add"),
        ("user frobnicate", 2, "invalid choice"),
    ],
)
def test_user_errors_change_nothing(store, admin, line, status, message) -> None:
    before = users(store)
    got, out, err = admin(line, stdin=b"never read\n")
    assert (got, out) == (status, "")
    assert message in err
    assert err.count("\n") == 1
    assert users(store) == before


@pytest.mark.parametrize(
    "line",
    [
        "user add carol hunter2",
        "user add carol --password hunter2",
        "user add carol --password=hunter2",
    ],
)
def test_a_password_on_the_command_line_is_refused_without_echo(store, admin, line) -> None:
    status, out, err = admin(line)
    assert status == 2
    assert "hunter2" not in out + err
    assert "--password-stdin" in err
    assert "carol" not in users(store)


def test_user_add_is_refused_before_the_password_is_asked(store, admin) -> None:
    admin.session.interactive = True
    admin.secrets = ["never", "asked"]
    assert admin("user add alice --password-prompt")[0] == 5
    assert admin.secrets == ["never", "asked"]


def test_password_sources_must_fit_the_session(store, admin) -> None:
    # No terminal to prompt on in exec mode; no piped input in the interactive shell.
    assert admin("user add carol --password-prompt")[0] == 1
    admin.session.interactive = True
    status, _, err = admin("user add carol --password-stdin", stdin=b"pw\n")
    assert status == 1
    assert "user add carol --password-stdin" in err
    assert "carol" not in users(store)


# -- user del, list, show --------------------------------------------------------


def test_user_del_removes_the_account_and_its_memberships(store, admin) -> None:
    admin.ok("group add staff; group add-member staff alice bob")
    assert admin.ok("user del alice") == "user alice removed\n"
    assert "alice" not in users(store)
    assert members(store, "staff") == {"bob"}
    assert json.loads(admin.ok("user del bob --json")) == {
        "user": "bob",
        "removed": True,
        "home": None,
        "home_removed": False,
    }


def test_a_removed_users_next_command_is_refused(store, admin, alice) -> None:
    alice.ok("whoami")
    admin.ok("user del alice")
    status, out, err = alice("ls /")
    assert (status, out) == (4, "")
    assert "account no longer exists" in err


def test_the_last_administrator_cannot_be_removed(store, admin) -> None:
    assert admin("user del admin") == (
        1,
        "",
        "omsh: user: admin: cannot remove the last administrator\n",
    )
    assert admin("group rm-member admins admin")[0] == 1
    assert admin("group del admins")[0] == 1
    assert members(store, "admins") == {"admin"}
    # With a second administrator, the first may go.
    admin.ok("group add-member admins alice")
    admin.ok("group rm-member admins admin")
    assert members(store, "admins") == {"alice"}


def test_user_list(admin) -> None:
    table = admin.ok("user list").splitlines()
    assert table[0].split() == ["NAME", "ADMIN", "PASSWORD", "KEYS", "CREATED", "GROUPS"]
    assert [row.split()[0] for row in table[1:]] == ["admin", "alice", "bob"]
    assert table[1].split()[1:4] == ["yes", "set", "0"]
    documents = [json.loads(line) for line in admin.ok("user list --json").splitlines()]
    assert [(d["name"], d["admin"]) for d in documents] == [
        ("admin", True),
        ("alice", False),
        ("bob", False),
    ]


def test_user_show_own_account_and_admins_any(admin, alice) -> None:
    alice.ok(f"key add --key '{key_line(3, 'work')}'")
    shown = alice.ok("user show").splitlines()
    assert shown[:4] == ["name:     alice", "admin:    no", "groups:   -", "password: set"]
    assert shown[-1].endswith("work")
    assert json.loads(admin.ok("user show alice --json"))["keys"][0]["comment"] == "work"


# -- group -----------------------------------------------------------------------


def test_group_add_members_list_and_del(store, admin) -> None:
    assert admin.ok("group add staff") == "group staff created\n"
    assert admin.ok("group add-member staff alice bob") == "alice, bob added to staff\n"
    assert members(store, "staff") == {"alice", "bob"}
    assert admin.ok("group list").splitlines() == [
        "GROUP   MEMBERS",
        "admins  admin",
        "staff   alice,bob",
    ]
    assert json.loads(admin.ok("group rm-member staff bob --json")) == {
        "name": "staff",
        "members": ["alice"],
    }
    assert admin.ok("group del staff") == "group staff removed\n"
    assert json.loads(admin.ok("group list --json")) == {"name": "admins", "members": ["admin"]}


def test_membership_changes_are_all_or_nothing(store, admin) -> None:
    admin.ok("group add staff")
    assert admin("group add-member staff alice nobody")[0] == 3
    assert members(store, "staff") == set()
    admin.ok("group add-member staff alice")
    assert admin("group add-member staff alice")[0] == 5
    assert admin("group rm-member staff bob")[0] == 1
    assert members(store, "staff") == {"alice"}


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("group add alice", 5),  # a user's name
        ("group add admins", 5),
        ("group add 'no good'", 1),
        ("group del nosuch", 3),
        ("group add-member nosuch alice", 3),
        ("group add-member admins", 2),
        ("group list admins", 2),
        ("group add staff alice", 2),
    ],
)
def test_group_errors(store, admin, line, status) -> None:
    got, out, err = admin(line)
    assert (got, out) == (status, "")
    assert err.count("\n") == 1
    assert members(store, "admins") == {"admin"}


# -- chown -----------------------------------------------------------------------


def owners(store, *paths: str) -> list[str]:
    from omsh.store.view import StoreView

    def read(root) -> list[str]:
        view = StoreView.for_user(root, "admin")
        return [view.resolve(path).owner for path in paths]

    return store.read(read)


def test_chown_one_object_or_a_subtree(store, admin, alice) -> None:
    admin.ok("mkdir -p /p/q/r; put /p/q/f", stdin=b"x")
    assert admin.ok("chown alice /p") == ""
    assert owners(store, "/p", "/p/q", "/p/q/f") == ["alice", "admin", "admin"]
    changed = json.loads(admin.ok("chown -R --json bob /p"))
    assert changed == {"path": "/p", "owner": "bob", "changed": 4}
    assert owners(store, "/p", "/p/q", "/p/q/r", "/p/q/f") == ["bob"] * 4


def test_chown_several_paths_and_wildcards(store, admin) -> None:
    admin.ok("mkdir -p /w/a /w/b /w/c")
    admin.ok("chown alice /w/a /w/[bc]")
    assert owners(store, "/w/a", "/w/b", "/w/c") == ["alice"] * 3


def test_chown_errors(store, admin) -> None:
    admin.ok("mkdir /p")
    assert admin("chown nobody /p")[0] == 3
    status, _, err = admin("chown alice /p /nowhere")
    assert status == 3
    assert err == "omsh: chown: /nowhere: not found\n"
    assert owners(store, "/p") == ["alice"]


# -- escalation by someone who is not an administrator --------------------------


@pytest.mark.parametrize(
    ("line", "stdin"),
    [
        ("user add mallory --admin --password-stdin", b"pw\n"),
        ("user add mallory", b""),
        ("user del admin", b""),
        ("user del bob", b""),
        ("user list", b""),
        ("user show admin", b""),
        ("user show nobody", b""),  # the same answer whether or not it exists
        ("group add cabal", b""),
        ("group del admins", b""),
        ("group list", b""),
        ("group add-member admins alice", b""),
        ("group rm-member admins admin", b""),
        ("chown alice /", b""),
        ("chown -R alice /home", b""),
        ("chown alice /no/such/path", b""),
        ("passwd admin", b"new\nnew\n"),
        ("passwd bob", b"new\n"),
        ("key add --user admin", key_line(5).encode()),
        ("key list --user admin", b""),
        ("key rm --user admin 1", b""),
        ("audit", b""),
        ("audit --user alice", b""),
    ],
)
def test_escalation_attempts_are_refused(store, homes, admin, alice, line, stdin) -> None:
    before = (users(store), members(store, "admins"), trail(admin))
    status, out, err = alice(line, stdin=stdin)
    assert (status, out) == (4, "")
    assert "permission denied" in err
    assert err.count("\n") == 1
    assert (users(store), members(store, "admins"), trail(admin)) == before
    assert password_ok(store, "admin", "admin-secret")
    assert owners(store, "/", "/home", "/home/bob") == ["admin", "admin", "bob"]


# -- audit -----------------------------------------------------------------------


def test_administration_is_audited_without_secrets(store, admin, alice) -> None:
    admin.ok("group add staff")
    admin.ok(f"user add carol --group staff --key '{key_line(4)}' --password-stdin", b"c-secret\n")
    admin.ok("group add-member staff alice; group rm-member staff alice")
    admin.ok("passwd bob", stdin=b"b-new-secret\n")
    alice.ok("passwd", stdin=b"alice-secret\na-new-secret\n")
    alice.ok(f"key add --key '{key_line(9, 'k')}'")
    alice.ok("key rm k")
    admin.ok("mkdir /p; chown -R alice /p")
    admin.ok("user del carol; group del staff")
    events = trail(admin)
    assert [(e["actor"], e["action"], e["target"]) for e in events] == [
        ("admin", "group-add", "staff"),
        ("admin", "user-add", "carol"),
        ("admin", "group-add-member", "alice"),
        ("admin", "group-rm-member", "alice"),
        ("admin", "passwd", "bob"),
        ("alice", "passwd", "alice"),
        ("alice", "key-add", "alice"),
        ("alice", "key-rm", "alice"),
        ("admin", "chown", "/p"),
        ("admin", "user-del", "carol"),
        ("admin", "group-del", "staff"),
    ]
    details = {e["action"]: e["detail"] for e in events}
    assert details["user-add"].startswith("groups=staff home=/home/carol password=set key=SHA256:")
    assert details["user-del"] == "home=/home/carol kept"
    assert details["group-add-member"] == "group=staff"
    assert details["chown"] == "owner=alice recursive"
    assert details["key-add"].startswith("SHA256:")
    assert all(e["time"].endswith("Z") for e in events)
    text = admin.ok("audit -n 1000") + json.dumps(events)
    for secret in ("c-secret", "b-new-secret", "a-new-secret", "alice-secret", "$argon2"):
        assert secret not in text


def test_audit_table(admin) -> None:
    admin.ok("group add staff")
    lines = admin.ok("audit").splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "ACTOR", "ACTION", "TARGET", "DETAIL"]
    assert lines[1].split()[2:] == ["admin", "group-add", "staff"]


def test_audit_filters(store, admin) -> None:
    admin.ok("group add staff; group add-member staff alice; group add-member staff bob")
    assert actions(admin, "--user bob") == [("admin", "group-add-member", "bob")]
    assert actions(admin, "--user staff") == [("admin", "group-add", "staff")]
    assert actions(admin, "--user admin") == actions(admin)
    assert len(trail(admin, "-n 2")) == 2
    assert trail(admin, "-n 2") == trail(admin)[-2:]
    assert len(trail(admin, "--since 1h")) == 3
    assert trail(admin, "--since 2999-01-01") == []
    assert trail(admin, "--since 9999-12-31") == []  # beyond the 64-bit keys
    assert len(trail(admin, "--since 0001-01-01")) == 3
    assert len(trail(admin, "--since 2000-01-01T00:00:00Z")) == 3


def test_audit_says_when_it_shows_only_the_newest(admin, monkeypatch) -> None:
    monkeypatch.setattr(admin_commands, "DEFAULT_AUDIT_EVENTS", 2)
    admin.ok("group add a; group add b; group add c")
    status, out, err = admin("audit")
    assert status == 0
    assert len(out.splitlines()) == 3  # a header and two events
    assert err == "omsh: audit: showing the newest 2 of 3 events; use -n N for more\n"
    assert admin("audit -n 3")[2] == ""


@pytest.mark.parametrize("line", ["audit -n 0", "audit -n x", "audit --since soon"])
def test_audit_usage_errors(admin, line) -> None:
    assert admin(line)[0] == 2


def test_audit_trail_is_bounded(store, admin, monkeypatch) -> None:
    monkeypatch.setattr(audit, "MAX_EVENTS", 10)
    monkeypatch.setattr(audit, "TRIM_BATCH", 5)
    for n in range(40):
        admin.ok(f"group add g{n}")
    kept = [e["target"] for e in trail(admin)]
    assert 10 <= len(kept) <= 15
    assert kept[-1] == "g39"
    assert kept == [f"g{n}" for n in range(40 - len(kept), 40)]


def test_control_characters_in_the_trail_are_made_visible(store, admin) -> None:
    admin.ok("mkdir '/a\x1b[2Jb'; chown alice '/a\x1b[2Jb'")
    (event,) = [e for e in trail(admin) if e["action"] == "chown"]
    assert event["target"] == "/a\\x1b[2Jb"


# -- --since ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", 1_000_000 - 30),
        ("2h", 1_000_000 - 7200),
        ("3d", 1_000_000 - 3 * 86400),
        ("1w", 1_000_000 - 7 * 86400),
        ("1d12h", 1_000_000 - 36 * 3600),
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()),
        ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC).timestamp()),
    ],
)
def test_parse_since(text, expected) -> None:
    assert parse_since(text, now=1_000_000) == expected


@pytest.mark.parametrize("text", ["", "h", "2", "2x", "-2h", "yesterday", "2h ago"])
def test_parse_since_refuses(text) -> None:
    with pytest.raises(UsageError):
        parse_since(text, now=1_000_000)


# -- homes -------------------------------------------------------------------------


def test_user_add_makes_a_private_home_the_user_lands_in(store, admin, registry) -> None:
    from tests.conftest import ShellDriver

    admin.ok("user add carol --password-stdin", b"pw\n")
    admin.ok("user add dave --password-stdin", b"pw\n")
    assert admin.ok("ls /home") == "carol/\ndave/\n"
    assert json.loads(admin.ok("stat --json /home"))["cdmi_owner"] == "admin"
    assert json.loads(admin.ok("user show carol --json"))["home"] == "/home/carol"
    carol, dave = ShellDriver(store, registry, "carol"), ShellDriver(store, registry, "dave")
    carol.ok("cd")
    assert carol.ok("pwd") == "/home/carol\n"
    carol.ok("put notes", stdin=b"mine")
    carol.ok("mkdir ~/docs; put ~/docs/a", stdin=b"a")
    assert carol.ok("ls") == "docs/\nnotes\n"
    assert carol.ok("cat ~/notes") == "mine"
    admin.ok("put /home/carol/from-admin", stdin=b"for carol")
    assert carol.ok("cat from-admin") == "for carol"  # all hers, whoever put it there
    carol.ok("cd /; cd ~/docs")
    assert carol.ok("pwd") == "/home/carol/docs\n"
    # Others learn nothing: not the names in /home, not whether a home exists.
    for line in (
        "ls /home",
        "ls /home/carol",
        "cat ~carol/notes",
        "stat /home/carol/docs/a",
        "cd ~carol",
        "ls /home/nobody",
        "cat /home/carol/nothing",
    ):
        status, out, err = dave(line)
        assert (status, out) == (4, ""), line
        assert err.endswith("permission denied\n"), line
    assert dave("find /home --name '*'")[:2] == (4, "")
    assert dave.ok("query \"name = 'notes'\" --count").startswith("0")


def test_an_existing_home_is_kept_as_it_is(store, admin) -> None:
    admin.ok("mkdir -p /home/carol; put /home/carol/old", stdin=b"kept")
    assert admin.ok("user add carol").endswith("home /home/carol\n")
    assert json.loads(admin.ok("stat --json /home/carol"))["cdmi_owner"] == "admin"
    assert admin.ok("cat /home/carol/old") == "kept"


def test_user_del_keeps_the_home_unless_told_to_remove_it(store, admin) -> None:
    admin.ok("user add carol; user add dave")
    admin.ok("put /home/carol/a; put /home/dave/a", stdin=b"x")
    assert admin.ok("user del carol") == "user carol removed, home /home/carol kept\n"
    assert admin.ok("cat /home/carol/a") == "x"
    document = json.loads(admin.ok("user del dave --remove-home --json"))
    assert document == {"user": "dave", "removed": True, "home": "/home/dave", "home_removed": True}
    assert admin("ls /home/dave")[0] == 3
    assert admin.ok("ls /home") == "carol/\n"
    assert admin("user list --remove-home")[0] == 2


def test_tilde_expansion_is_sh_like(store, admin, alice, homes) -> None:
    alice.ok("put ~/a", stdin=b"x")
    assert alice.ok("ls /home/alice") == "a\n"
    assert alice("cd /home")[0] == 4  # alice may not list /home
    alice.ok("put '/home/alice/~'", stdin=b"tilde")
    assert alice.ok("cat /home/alice/'~'") == "tilde"
    alice.ok("cd ~")
    assert alice.ok("cat '~'") == "tilde"  # quoted: a name, not the home
    assert alice.ok("ls ~/*") == "/home/alice/a\n/home/alice/~\n"
    assert admin.ok("ls ~alice/a") == "/home/alice/a\n"
    assert admin("cd ~")[0] == 3  # the bootstrap admin has no home
    admin.ok("cd")
    assert admin.ok("pwd") == "/\n"
