"""The offline ``omsh`` subcommands: ``user add`` and ``check``."""

from __future__ import annotations

import getpass
import io
import os

import pytest

from omsh.cli import main
from omsh.store.content import ContentUpload
from omsh.store.database import Store
from omsh.store.principals import verify_password
from omsh.store.view import StoreView

KEY_LINE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def _store_object(data_dir: str, path: str, content: bytes) -> str:
    store = Store.open(data_dir=data_dir)
    try:
        store.bootstrap(admin_password="pw")
        upload = ContentUpload(store.temporary_directory())
        upload.write(content)
        try:
            return store.run(
                lambda root: StoreView.for_user(root, "admin").store_data(path, upload).object_id
            )
        finally:
            upload.discard()
    finally:
        store.close()


def _blob_file(data_dir: str, path: str) -> str:
    store = Store.open(data_dir=data_dir)
    try:
        return store.read(
            lambda root: StoreView.for_user(root, "admin").resolve(path).stored_content().filename
        )
    finally:
        store.close()


def test_user_add_with_password_from_stdin_and_key(tmp_path, monkeypatch, capsys):
    key_file = tmp_path / "id.pub"
    key_file.write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        " carol@laptop\n"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("carol-password\n"))
    data = str(tmp_path / "var")
    status = main(
        [
            "user",
            "add",
            "carol",
            "--group",
            "staff",
            "--password-stdin",
            "--key",
            str(key_file),
            "--data",
            data,
        ]
    )
    assert status == 0
    assert "carol" in capsys.readouterr().out
    store = Store.open(data_dir=data)
    try:

        def facts(root):
            user = root.principals.users["carol"]
            return (
                user.password_hash,
                [k.comment for k in user.keys],
                root.principals.groups_of("carol"),
                [(e.actor, e.action, e.target, e.detail) for e in root.audit.events()],
            )

        password_hash, comments, groups, audited = store.read(facts)
    finally:
        store.close()
    assert verify_password(password_hash, "carol-password")
    assert comments == ["carol@laptop"]
    assert groups == {"staff"}
    # Audited as the operating-system user who ran it; no password in it.
    operator = f"omsh-cli:{getpass.getuser()}"
    assert [event[:3] for event in audited] == [
        (operator, "group-add", "staff"),
        (operator, "user-add", "carol"),
    ]
    assert "carol-password" not in repr(audited)


def test_user_add_refuses_duplicates_and_bad_names(tmp_path, capsys):
    data = str(tmp_path / "var")
    assert main(["user", "add", "dave", "--data", data]) == 0
    assert main(["user", "add", "dave", "--data", data]) == 5
    assert "already exists" in capsys.readouterr().err
    assert main(["user", "add", "bad name", "--data", data]) == 1


def test_user_add_reports_a_missing_key_file(tmp_path, capsys):
    status = main(
        [
            "user",
            "add",
            "erin",
            "--key",
            str(tmp_path / "absent.pub"),
            "--data",
            str(tmp_path / "var"),
        ]
    )
    assert status == 1
    assert "absent.pub" in capsys.readouterr().err


def test_check_finds_corrupted_and_missing_content(blobs_only, tmp_path, capsys):
    data = str(tmp_path / "var")
    _store_object(data, "/good", b"fine")
    _store_object(data, "/bad", b"original")
    _store_object(data, "/gone", b"vanishing")
    assert main(["check", "--data", data]) == 0
    assert "checked 3 objects, 0 problems" in capsys.readouterr().out

    bad = _blob_file(data, "/bad")
    os.chmod(bad, 0o644)
    with open(bad, "wb") as stream:
        stream.write(b"tampered")
    os.unlink(_blob_file(data, "/gone"))
    assert main(["check", "--data", data]) == 1
    out = capsys.readouterr().out
    assert "FAILED /bad" in out
    assert "MISSING /gone" in out
    assert "checked 3 objects, 2 problems" in out


@pytest.mark.parametrize("argv", [["serve", "--ssh-port", "x"], ["nope"]])
def test_bad_cli_arguments_exit_2(argv):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2


def _facts(data: str, work):
    store = Store.open(data_dir=data)
    try:
        return store.read(work)
    finally:
        store.close()


def test_user_add_admin_on_a_fresh_store_is_its_first_start(tmp_path, monkeypatch, capsys):
    """The deploy script's first step: that admin, that password and key, nothing generated."""
    key_file = tmp_path / "id.pub"
    key_file.write_text(KEY_LINE + " ops@deploy\n")
    monkeypatch.delenv("OMSH_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("chosen-pw\n"))
    data = str(tmp_path / "new" / "var")
    argv = ["user", "add", "admin", "--admin", "--password-stdin", "--key", str(key_file)]
    assert main([*argv, "--data", data]) == 0
    out = capsys.readouterr().out
    assert out == "omsh: user admin created (groups: admins), home /home/admin\n"

    def facts(root):
        admin = root.principals.users["admin"]
        home = root.tree.get("home").get("admin")
        return (
            admin.password_hash,
            [k.comment for k in admin.keys],
            sorted(root.principals.users),
            root.principals.groups_of("admin"),
            (root.tree.owner, root.tree.get("home").owner, home.owner),
        )

    password_hash, comments, users, groups, owners = _facts(data, facts)
    assert verify_password(password_hash, "chosen-pw")
    assert (comments, users, groups) == (["ops@deploy"], ["admin"], {"admins"})
    assert owners == ("admin", "admin", "admin")
    # The first `omsh serve` finds the store made: no second, unknown password.
    store = Store.open(data_dir=data)
    try:
        assert store.bootstrap(admin_password="other", admin_keys=[KEY_LINE]) is None
        assert store.read(
            lambda root: verify_password(root.principals.users["admin"].password_hash, "chosen-pw")
        )
    finally:
        store.close()


def test_a_first_admin_of_another_name_owns_the_root(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("root-pw\n"))
    data = str(tmp_path / "var")
    assert main(["user", "add", "ops", "--admin", "--password-stdin", "--data", data]) == 0
    assert "password:" not in capsys.readouterr().out
    users, owner = _facts(data, lambda root: (sorted(root.principals.users), root.tree.owner))
    assert (users, owner) == (["ops"], "ops")


def test_a_first_user_who_is_not_an_admin_comes_with_a_shown_admin(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OMSH_ADMIN_PASSWORD", raising=False)
    data = str(tmp_path / "var")
    assert main(["user", "add", "dave", "--data", data]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "omsh: user dave created, home /home/dave"
    assert lines[1].startswith("omsh: created user admin with password: ")
    shown = lines[1].rsplit(" ", 1)[1]
    admin_hash = _facts(data, lambda root: root.principals.users["admin"].password_hash)
    assert verify_password(admin_hash, shown)


def test_user_add_admin_without_admin_on_a_fresh_store_is_refused(tmp_path, capsys):
    data = tmp_path / "var"
    assert main(["user", "add", "admin", "--data", str(data)]) == 2
    assert "add --admin" in capsys.readouterr().err


def test_check_warns_about_a_root_every_account_may_read(tmp_path, capsys):
    from omsh.store.acl import READ_WORD, AceType, with_entry

    data = str(tmp_path / "var")
    _store_object(data, "/good", b"fine")
    assert "WARNING" not in capsys.readouterr().out

    def open_up(root) -> None:
        root.tree.acl = with_entry(
            root.tree.acl, AceType.ALLOW, "AUTHENTICATED@", READ_WORD, inherit=True
        )

    store = Store.open(data_dir=data)
    try:
        store.run(open_up)
    finally:
        store.close()
    assert main(["check", "--data", data]) == 0  # advice, not damage
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "WARNING / is readable by AUTHENTICATED@, inherited by every object: "
        "to make the store private: acl revoke / AUTHENTICATED@",
        "checked 1 objects, 0 problems, 1 warning",
    ]
