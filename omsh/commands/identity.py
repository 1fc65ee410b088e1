"""Who am I, and my credentials: ``whoami``, ``id``, ``passwd``, ``key``.

A password never travels on the command line: ``passwd`` prompts without
echo in the interactive shell and reads standard input in an exec session
(``ssh host passwd < file``), and nothing here logs or prints it.  Everyone
manages their own account; administrators may name another (the rule is
:func:`omsh.store.access.may_manage_user`).  A user who is not an
administrator gives their current password first.  Changes go through
:mod:`omsh.store.admin`, so they are checked and audited in the store.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from omsh.commands.arguments import Complete, arg
from omsh.commands.base import Command, Invocation
from omsh.commands.formatting import printable, render_table
from omsh.commands.output import Output
from omsh.commands.passwords import read_passwords
from omsh.commands.streams import read_input, require_piped_input
from omsh.errors import OmshError, UsageError
from omsh.store import admin
from omsh.store.access import ADMIN_GROUP
from omsh.store.metadata import format_timestamp
from omsh.store.principals import AuthorizedKey, parse_authorized_key
from omsh.store.view import StoreView

#: Longest authorized-keys text ``key add`` reads from standard input.
MAX_KEYS_INPUT = 64 * 1024
#: Pause after a wrong current password (as ``pam_faildelay`` does), so an
#: open session cannot be used to guess the password quickly.
WRONG_PASSWORD_DELAY = 2.0


class WhoAmI(Command):
    name = "whoami"
    summary = "print your user name"

    def run(self, inv: Invocation) -> None:
        inv.emit({"user": inv.session.user}, inv.session.user)


class Identity(Command):
    name = "id"
    summary = "print a user's name and groups (yours by default)"
    arguments = (
        arg("user", nargs="?", complete=Complete.USER, help="whose identity (default: yours)"),
    )

    def run(self, inv: Invocation) -> None:
        name = inv.args.user or inv.session.user

        def look(view: StoreView) -> list[str]:
            principals = view.root.principals
            principals.get_user(name)
            return sorted(principals.groups_of(name))

        groups = inv.view(look)
        document = {"user": name, "groups": groups, "admin": ADMIN_GROUP in groups}
        inv.emit(document, f"uid={name} groups={','.join(groups)}")


class ChangePassword(Command):
    name = "passwd"
    summary = "change your password (administrators: anyone's); prompts, or reads stdin"
    arguments = (
        arg(
            "user",
            nargs="?",
            complete=Complete.USER,
            help="whose password (administrators only; default: yours)",
        ),
        # Catches a password typed on the command line, so the error can
        # refuse it without repeating it (argparse would echo it).
        arg("stray", nargs="*", help=argparse.SUPPRESS),
    )

    def run(self, inv: Invocation) -> None:
        if inv.args.stray:
            raise UsageError("a password is never given on the command line; passwd prompts for it")
        target = inv.args.user or inv.session.user
        # Refused before anything is asked; a non-admin gives the current password.
        needs_current = inv.view(
            lambda view: admin.needs_current_password(view, view.editable_user(target))
        )
        current, password = read_passwords(inv, current=needs_current, usage="passwd")
        try:
            inv.view(
                lambda view: admin.set_password(view, target, password, current=current),
                write=True,
            )
        except admin.WrongPassword:
            inv.view(lambda view: admin.record_wrong_password(view, target), write=True)
            time.sleep(WRONG_PASSWORD_DELAY)
            raise
        inv.emit({"user": target, "password": "updated"}, f"password updated for {target}")


def parse_key_lines(text: str) -> list[AuthorizedKey]:
    """Every public key in authorized_keys-style *text*; comments and blanks skipped.

    All lines are parsed before any key is stored, so one bad line adds none.
    """
    lines = [line for line in text.splitlines() if line.strip() and line.lstrip()[0] != "#"]
    if not lines:
        raise OmshError("no public key given")
    return [parse_authorized_key(line) for line in lines]


def render_key_table(out: Output, keys: list[dict[str, Any]]) -> None:
    """Keys as ``key list`` shows them, numbered from 1 (the index ``key rm`` takes)."""
    if not keys:
        return
    rows = [
        [str(index), key["fingerprint"], key["algorithm"], printable(key["comment"])]
        for index, key in enumerate(keys, start=1)
    ]
    render_table(
        out,
        rows,
        headers=("#", "FINGERPRINT", "ALGORITHM", "COMMENT"),
        right_aligned=frozenset({0}),
    )


def key_document(index: int, key: AuthorizedKey) -> dict[str, Any]:
    return {
        "index": index,
        "fingerprint": key.fingerprint,
        "algorithm": key.algorithm,
        "comment": key.comment,
        "added": format_timestamp(key.added),
    }


class Keys(Command):
    name = "key"
    summary = "your SSH public keys: key add [--key LINE] | key list | key rm SELECTOR"
    arguments = (
        arg("action", choices=("add", "list", "rm"), help="what to do"),
        arg(
            "selector",
            nargs="?",
            metavar="SELECTOR",
            help="for rm: the fingerprint, comment or index shown by 'key list'",
        ),
        arg(
            "--key",
            metavar="LINE",
            help="for add: the OpenSSH public key line (default: read standard input)",
        ),
        arg("--user", complete=Complete.USER, help="another user's keys (administrators only)"),
    )

    def run(self, inv: Invocation) -> None:
        actions: dict[str, Callable[[Invocation, str], None]] = {
            "add": self.add_keys,
            "list": self.list_keys,
            "rm": self.remove_key,
        }
        if inv.args.action != "rm" and inv.args.selector is not None:
            raise UsageError(f"key {inv.args.action} takes no SELECTOR")
        if inv.args.action != "add" and inv.args.key is not None:
            raise UsageError("--key goes with key add")
        actions[inv.args.action](inv, inv.args.user or inv.session.user)

    def add_keys(self, inv: Invocation, target: str) -> None:
        if inv.args.key is not None:
            text = str(inv.args.key)
        else:
            require_piped_input(inv, "key add", "key add --key 'LINE'")
            text = read_input(inv, MAX_KEYS_INPUT).decode("utf-8", "replace")
        keys = parse_key_lines(text)

        def store(view: StoreView) -> list[dict[str, Any]]:
            admin.add_keys(view, target, keys)
            first = len(view.editable_user(target).keys) - len(keys) + 1
            return [key_document(first + offset, key) for offset, key in enumerate(keys)]

        for document in inv.view(store, write=True):
            inv.emit(document, f"added {_describe_key(document)}")

    def list_keys(self, inv: Invocation, target: str) -> None:
        def read(view: StoreView) -> list[dict[str, Any]]:
            keys = view.editable_user(target).keys
            return [key_document(index, key) for index, key in enumerate(keys, start=1)]

        documents = inv.view(read)
        if inv.json:
            for document in documents:
                inv.out.json(document)
        else:
            render_key_table(inv.out, documents)

    def remove_key(self, inv: Invocation, target: str) -> None:
        selector = inv.args.selector
        if selector is None:
            raise UsageError("key rm needs a SELECTOR (fingerprint, comment or index)")

        def drop(view: StoreView) -> dict[str, Any]:
            before = view.editable_user(target).keys
            removed = admin.remove_key(view, target, selector)
            return key_document(before.index(removed) + 1, removed)

        document = inv.view(drop, write=True)
        inv.emit(document, f"removed {_describe_key(document)}")


def _describe_key(document: dict[str, Any]) -> str:
    comment = f" {printable(document['comment'])}" if document["comment"] else ""
    return f"{document['fingerprint']} ({document['algorithm']}){comment}"


COMMANDS = (WhoAmI, Identity, ChangePassword, Keys)
