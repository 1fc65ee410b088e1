"""whoami, id, passwd and key."""

from __future__ import annotations

import base64
import json
import logging
import struct

import pytest

from omsh.store.principals import verify_password


def key_line(seed: int, comment: str = "") -> str:
    """A well-formed ssh-ed25519 public key line (not a real key pair)."""
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + bytes([seed]) * 32
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}".rstrip()


def password_ok(store, user: str, password: str) -> bool:
    stored = store.read(lambda root: root.principals.get_user(user).password_hash)
    return verify_password(stored, password)


def keys_of(driver, extra: str = "") -> list[dict]:
    return [json.loads(line) for line in driver.ok(f"key list --json {extra}").splitlines()]


# -- whoami and id ---------------------------------------------------------------


def test_whoami(alice) -> None:
    assert alice.ok("whoami") == "alice\n"
    assert json.loads(alice.ok("whoami --json")) == {"user": "alice"}


def test_id(store, admin, alice) -> None:
    assert admin.ok("id") == "uid=admin groups=admins\n"
    assert alice.ok("id") == "uid=alice groups=\n"
    assert alice.ok("id admin") == "uid=admin groups=admins\n"
    store.run(
        lambda root: (
            root.principals.add_group("staff"),
            root.principals.add_member("staff", "alice"),
        )
    )
    assert alice.ok("id") == "uid=alice groups=staff\n"
    assert json.loads(alice.ok("id --json")) == {
        "user": "alice",
        "groups": ["staff"],
        "admin": False,
    }


def test_id_unknown_user(alice) -> None:
    assert alice("id nobody") == (3, "", "omsh: id: nobody: no such user\n")


# -- passwd ----------------------------------------------------------------------


def test_passwd_from_stdin_in_exec_mode(store, alice) -> None:
    stdin = b"alice-secret\nnew secret\n"  # the current password, then the new one
    assert alice.ok("passwd", stdin=stdin) == "password updated for alice\n"
    assert password_ok(store, "alice", "new secret")
    assert not password_ok(store, "alice", "alice-secret")


def test_passwd_takes_only_the_first_two_lines_and_handles_crlf(store, alice) -> None:
    alice.ok("passwd", stdin=b"alice-secret\r\nfirst\r\nsecond\n")
    assert password_ok(store, "alice", "first")


def test_passwd_keeps_spaces(store, alice) -> None:
    alice.ok("passwd", stdin=b"alice-secret\n  spaced out  ")
    assert password_ok(store, "alice", "  spaced out  ")


def test_passwd_prompts_twice_at_a_terminal(store, alice) -> None:
    alice.session.interactive = True
    alice.secrets = ["alice-secret", "typed secret", "typed secret"]
    status, out, _ = alice("passwd")
    assert status == 0
    assert "typed secret" not in out
    assert password_ok(store, "alice", "typed secret")


def test_passwd_mismatch_changes_nothing(store, alice) -> None:
    alice.session.interactive = True
    alice.secrets = ["alice-secret", "one", "two"]
    assert alice("passwd") == (1, "", "omsh: passwd: passwords do not match; nothing changed\n")
    assert password_ok(store, "alice", "alice-secret")


def test_passwd_interactive_without_a_prompt_is_refused(store, alice) -> None:
    alice.session.interactive = True
    assert alice("passwd", stdin=b"not read\n")[0] == 1
    assert password_ok(store, "alice", "alice-secret")


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"", "current password on the first line"),
        (b"alice-secret\n", "current password on the first line"),
        (b"alice-secret\n\n", "empty password"),
        (b"\nnew\n", "empty password"),
        (b"alice-secret\n\xff\xfe\n", "not valid UTF-8"),
        (b"alice-secret\n" + b"x" * 5000, "longer than"),
    ],
)
def test_passwd_bad_input(store, alice, stdin, message) -> None:
    status, _, err = alice("passwd", stdin=stdin)
    assert status == 1
    assert message in err
    assert password_ok(store, "alice", "alice-secret")


def test_passwd_on_the_command_line_is_refused_without_echo(store, alice) -> None:
    status, out, err = alice("passwd alice hunter2")
    assert status == 2
    assert "hunter2" not in out + err
    assert password_ok(store, "alice", "alice-secret")


def test_passwd_never_logs_the_password(store, alice, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        alice.ok("passwd", stdin=b"alice-secret\ndo-not-log-me\n")
    assert "do-not-log-me" not in caplog.text


def test_admin_may_set_anyones_password(store, admin) -> None:
    assert admin.ok("passwd bob", stdin=b"reset by admin\n") == "password updated for bob\n"
    assert password_ok(store, "bob", "reset by admin")
    assert admin("passwd nobody", stdin=b"x\n")[0] == 3


def test_others_may_not_set_someone_elses_password(store, alice) -> None:
    assert alice("passwd bob", stdin=b"hijack\n") == (
        4,
        "",
        "omsh: passwd: bob: permission denied\n",
    )
    assert password_ok(store, "bob", "bob-secret")
    # The same answer whether or not the user exists.
    assert alice("passwd nobody", stdin=b"x\n") == (
        4,
        "",
        "omsh: passwd: nobody: permission denied\n",
    )


def test_passwd_refusal_comes_before_the_prompt(alice) -> None:
    alice.session.interactive = True
    alice.secrets = ["never", "asked"]
    assert alice("passwd bob")[0] == 4
    assert alice.secrets == ["never", "asked"]


def test_passwd_json(alice) -> None:
    document = json.loads(alice.ok("passwd --json", stdin=b"alice-secret\npw\n"))
    assert document == {"user": "alice", "password": "updated"}


# -- key -------------------------------------------------------------------------


def test_key_add_list_rm(alice) -> None:
    assert alice.ok("key list") == ""
    out = alice.ok(f"key add --key '{key_line(1, 'laptop')}'")
    assert out.startswith("added SHA256:")
    assert out.endswith(" (ssh-ed25519) laptop\n")
    alice.ok("key add", stdin=(key_line(2, "desktop") + "\n").encode())
    keys = keys_of(alice)
    assert [(k["index"], k["comment"], k["algorithm"]) for k in keys] == [
        (1, "laptop", "ssh-ed25519"),
        (2, "desktop", "ssh-ed25519"),
    ]
    assert all(k["fingerprint"].startswith("SHA256:") for k in keys)
    table = alice.ok("key list").splitlines()
    assert table[0].split() == ["#", "FINGERPRINT", "ALGORITHM", "COMMENT"]
    assert table[1].split()[0] == "1"
    assert table[1].endswith("laptop")

    alice.ok("key rm laptop")
    assert [k["comment"] for k in keys_of(alice)] == ["desktop"]
    alice.ok(f"key rm {keys[1]['fingerprint']}")
    assert keys_of(alice) == []


def test_key_rm_by_index_and_json(alice) -> None:
    alice.ok(f"key add --key '{key_line(1, 'a')}'")
    alice.ok(f"key add --key '{key_line(2, 'b')}'")
    removed = json.loads(alice.ok("key rm --json 2"))
    assert (removed["index"], removed["comment"]) == (2, "b")
    assert [k["comment"] for k in keys_of(alice)] == ["a"]


def test_key_add_several_lines_from_stdin(alice) -> None:
    text = f"# my keys\n  # indented comment\n{key_line(1, 'one')}\n\n{key_line(2, 'two')}\n"
    added = [
        json.loads(line) for line in alice.ok("key add --json", stdin=text.encode()).splitlines()
    ]
    assert [(k["index"], k["comment"]) for k in added] == [(1, "one"), (2, "two")]


def test_key_add_is_all_or_nothing(alice) -> None:
    text = f"{key_line(1, 'good')}\nssh-ed25519 not-base64!\n"
    assert alice("key add", stdin=text.encode())[0] == 1
    assert keys_of(alice) == []


def test_duplicate_key_is_refused(alice) -> None:
    alice.ok(f"key add --key '{key_line(1, 'x')}'")
    status, _, err = alice(f"key add --key '{key_line(1, 'same key, other comment')}'")
    assert status == 5
    assert "key already authorized" in err


def test_ambiguous_comment_removes_nothing(alice) -> None:
    alice.ok(f"key add --key '{key_line(1, 'work')}'")
    alice.ok(f"key add --key '{key_line(2, 'work')}'")
    status, _, err = alice("key rm work")
    assert status == 1
    assert "matches 2 keys" in err
    assert len(keys_of(alice)) == 2


@pytest.mark.parametrize(
    ("line", "stdin", "status"),
    [
        ("key", b"", 2),
        ("key frobnicate", b"", 2),
        ("key rm", b"", 2),
        ("key rm nosuch", b"", 3),
        ("key list extra", b"", 2),
        ("key list --key x", b"", 2),
        ("key add", b"", 1),
        ("key add", b"garbage\n", 1),
        ("key add --key 'ssh-rsa AAAA'", b"", 1),
        ("key add", b"k" * (70 * 1024), 1),
    ],
)
def test_key_errors(alice, line, stdin, status) -> None:
    got, out, err = alice(line, stdin=stdin)
    assert (got, out) == (status, "")
    assert err.count("\n") == 1


def test_key_add_mislabelled_algorithm(alice) -> None:
    line = key_line(1).replace("ssh-ed25519", "ssh-rsa", 1)
    status, _, err = alice(f"key add --key '{line}'")
    assert status == 1
    assert "does not match its algorithm" in err


def test_key_add_from_the_interactive_terminal_is_refused(alice) -> None:
    alice.session.interactive = True
    status, _, err = alice("key add", stdin=key_line(1).encode())
    assert status == 1
    assert "--key" in err
    alice.ok(f"key add --key '{key_line(1)}'")


def test_keys_of_other_users_are_admin_only(admin, alice, bob) -> None:
    bob.ok(f"key add --key '{key_line(9, 'bobs')}'")
    assert alice("key list --user bob")[0] == 4
    assert alice(f"key add --user bob --key '{key_line(3)}'")[0] == 4
    assert alice("key rm --user bob bobs")[0] == 4
    assert [k["comment"] for k in keys_of(admin, "--user bob")] == ["bobs"]
    admin.ok("key rm --user bob bobs")
    assert keys_of(bob) == []


# -- passwd: the current password ---------------------------------------------------


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    """The pauses passwd makes after a wrong current password (not actually taken)."""
    from omsh.commands import identity

    taken: list[float] = []
    monkeypatch.setattr(identity.time, "sleep", taken.append)
    return taken


def audit_actions(store) -> list[tuple[str, str, str]]:
    return store.read(lambda root: [(e.actor, e.action, e.target) for e in root.audit.events()])


def test_a_wrong_current_password_changes_nothing_is_audited_and_slowed(
    store, alice, pauses
) -> None:
    from omsh.commands.identity import WRONG_PASSWORD_DELAY

    status, out, err = alice("passwd", stdin=b"guess\nnew secret\n")
    assert (status, out) == (4, "")
    assert err == "omsh: passwd: alice: current password is incorrect; nothing changed\n"
    assert password_ok(store, "alice", "alice-secret")
    assert audit_actions(store) == [("alice", "passwd-failed", "alice")]
    assert pauses == [WRONG_PASSWORD_DELAY]
    assert WRONG_PASSWORD_DELAY >= 1


def test_the_current_password_is_asked_first_at_a_terminal(store, alice, pauses) -> None:
    alice.session.interactive = True
    alice.secrets = ["wrong", "new secret", "new secret"]
    assert alice("passwd")[0] == 4
    assert alice.prompts == ["Current password: ", "New password: ", "Retype new password: "]
    assert password_ok(store, "alice", "alice-secret")
    alice.secrets = ["alice-secret", "new secret", "new secret"]
    alice.ok("passwd")
    assert password_ok(store, "alice", "new secret")


def test_admins_and_key_only_accounts_give_no_current_password(store, admin, bob) -> None:
    admin.ok("passwd", stdin=b"admin new\n")
    assert password_ok(store, "admin", "admin new")
    admin.ok("passwd bob", stdin=b"bob new\n")
    assert password_ok(store, "bob", "bob new")

    def drop_password(root) -> None:
        root.principals.get_user("bob").password_hash = None

    store.run(drop_password)
    bob.ok("passwd", stdin=b"first password\n")
    assert password_ok(store, "bob", "first password")
