"""Administration: ``user``, ``group``, ``chown`` and ``audit``.

Every check and every audit entry happens in the store
(:mod:`omsh.store.admin`, :meth:`StoreView.change_owner`), so these commands
only parse, ask for secrets and print.  Most of it is for members of
``admins``; anyone else is refused with "permission denied" (exit status 4)
before anything is asked or changed.  ``user show`` without a name is open
to everyone, for their own account.

A password is never an argument: ``user add`` reads it from standard input
(``--password-stdin``) or asks for it without echo (``--password-prompt``),
through :mod:`omsh.commands.passwords`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from omsh.commands.arguments import Complete, arg, at_least, paths_arg, recursive_arg, repeated
from omsh.commands.base import Command, Invocation
from omsh.commands.bulk import check_query_usage, plural, query_arguments, run_bulk
from omsh.commands.formatting import short_time
from omsh.commands.identity import parse_key_lines, render_key_table
from omsh.commands.passwords import Source, read_passwords
from omsh.errors import UsageError
from omsh.store import admin
from omsh.store import bulk as bulk_edits
from omsh.store.access import ADMIN_GROUP
from omsh.store.asof import parse_moment
from omsh.store.principals import AuthorizedKey
from omsh.store.view import StoreView

#: ``audit`` shows this many of the newest matching events unless told ``-n``.
DEFAULT_AUDIT_EVENTS = 100

_PASSWORD_ON_COMMAND_LINE = (
    "a password is never given on the command line; use --password-stdin or --password-prompt"
)


def _check_action_arguments(inv: Invocation, needs_name: bool | None) -> None:
    """Usage errors for a NAME that is missing (*needs_name* True) or not wanted (False)."""
    name = inv.args.name
    if needs_name and name is None:
        raise UsageError(f"{inv.name} {inv.args.action} needs a NAME")
    if needs_name is False and name is not None:
        raise UsageError(f"{inv.name} {inv.args.action} takes no NAME")


def _dispatch(inv: Invocation, actions: dict[str, Callable[[Invocation], None]]) -> None:
    actions[inv.args.action](inv)


class Users(Command):
    name = "user"
    summary = "accounts (administrators): user add NAME | del NAME | list | show [NAME]"
    details = """
        forms:
          user add NAME [--admin] [--group G]... [--key 'LINE']...
                        [--password-stdin | --password-prompt]
          user del NAME [--remove-home]
                             its open sessions are refused from their next command;
                             its home /home/NAME is kept unless --remove-home

        user add also makes the user's home, /home/NAME, owned by them and
        private to them (and administrators); an existing one is kept as it is.
          user list
          user show [NAME]   your own account without NAME

        A password is never an argument: --password-stdin reads the first line
        of standard input (ssh host 'user add bob --password-stdin' < file),
        --password-prompt asks twice without echo in the interactive shell.
        """
    arguments = (
        arg("action", choices=("add", "del", "list", "show"), help="what to do"),
        arg("name", nargs="?", metavar="NAME", complete=Complete.USER, help="the user"),
        # A password typed after the name lands here and is refused unrepeated.
        arg("stray", nargs="*", help=argparse.SUPPRESS),
        arg("--admin", action="store_true", help="add: make the user an administrator"),
        repeated(
            "--group",
            metavar="G",
            complete=Complete.GROUP,
            help="add: also a member of group G (repeatable, or G1,G2)",
        ),
        arg(
            "--password-stdin",
            action="store_true",
            help="add: read the password from the first line of standard input",
        ),
        arg(
            "--password-prompt",
            action="store_true",
            help="add: ask for the password at the terminal, without echo",
        ),
        repeated(
            "--key", metavar="LINE", help="add: authorize this OpenSSH public key line (repeatable)"
        ),
        arg(
            "--remove-home",
            action="store_true",
            help="del: also remove the user's home and everything in it",
        ),
        arg("--password", metavar="NEVER", help=argparse.SUPPRESS),
    )

    def run(self, inv: Invocation) -> None:
        args = inv.args
        if args.stray or args.password is not None:
            raise UsageError(_PASSWORD_ON_COMMAND_LINE)
        adding_only = args.admin or args.group or args.key or args.password_stdin
        if args.action != "add" and (adding_only or args.password_prompt):
            raise UsageError(f"--admin, --group, --key and --password-* go with {inv.name} add")
        if args.remove_home and args.action != "del":
            raise UsageError(f"--remove-home goes with {inv.name} del")
        _dispatch(
            inv, {"add": self.add, "del": self.delete, "list": self.list_all, "show": self.show}
        )

    def add(self, inv: Invocation) -> None:
        _check_action_arguments(inv, needs_name=True)
        args = inv.args
        name = str(args.name)
        if args.password_stdin and args.password_prompt:
            raise UsageError("--password-stdin and --password-prompt exclude each other")
        groups = [group for value in args.group for group in str(value).split(",") if group]
        if args.admin and ADMIN_GROUP not in groups:
            groups.append(ADMIN_GROUP)
        keys: list[AuthorizedKey] = [key for line in args.key for key in parse_key_lines(line)]
        # A rehearsal in a transaction that is rolled back: refusals, a taken
        # name or a missing group are reported before a password is asked for.
        inv.view(lambda view: admin.add_user(view, name, keys=keys, groups=groups))
        password = None
        if args.password_stdin or args.password_prompt:
            source = Source.STDIN if args.password_stdin else Source.PROMPT
            usage = f"user add {name} --password-stdin"
            _, password = read_passwords(inv, source=source, usage=usage)

        def create(view: StoreView) -> dict[str, Any]:
            admin.add_user(view, name, password=password, keys=keys, groups=groups)
            return admin.describe_user(view, name)

        document = inv.view(create, write=True)
        joined = f" (groups: {', '.join(document['groups'])})" if document["groups"] else ""
        inv.emit(document, f"user {name} created{joined}, home {document['home']}")
        if password is None and not keys:
            inv.warn(f"{name} has no password and no key yet, so cannot log in")

    def delete(self, inv: Invocation) -> None:
        _check_action_arguments(inv, needs_name=True)
        name = str(inv.args.name)
        remove_home = inv.args.remove_home
        home = inv.view(
            lambda view: admin.delete_user(view, name, remove_home=remove_home), write=True
        )
        document = {
            "user": name,
            "removed": True,
            "home": home,
            "home_removed": bool(home) and remove_home,
        }
        text = f"user {name} removed"
        if home is not None:
            text += f", home {home} " + ("removed" if remove_home else "kept")
        inv.emit(document, text)

    def list_all(self, inv: Invocation) -> None:
        _check_action_arguments(inv, needs_name=False)
        inv.listing(
            inv.view(admin.list_users),
            ("NAME", "ADMIN", "PASSWORD", "KEYS", "CREATED", "GROUPS"),
            lambda d: [
                d["name"],
                "yes" if d["admin"] else "no",
                "set" if d["password"] else "-",
                str(len(d["keys"])),
                short_time(_epoch(d["created"])),
                ",".join(d["groups"]),
            ],
            right_aligned=frozenset({3}),
        )

    def show(self, inv: Invocation) -> None:
        name = inv.args.name
        document = inv.view(lambda view: admin.describe_user(view, name))
        if inv.json:
            inv.out.json(document)
            return
        fields = [
            ("name", document["name"]),
            ("admin", "yes" if document["admin"] else "no"),
            ("groups", ",".join(document["groups"]) or "-"),
            ("password", "set" if document["password"] else "not set"),
            ("created", document["created"]),
            ("keys", str(len(document["keys"]))),
        ]
        for label, value in fields:
            inv.out.line(f"{label + ':':<10}{value}")
        if document["keys"]:
            inv.out.line()
            render_key_table(inv.out, document["keys"])


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


class Groups(Command):
    name = "group"
    summary = (
        "groups (administrators): group add NAME | del NAME | list"
        " | add-member GROUP USER... | rm-member GROUP USER..."
    )
    details = """
        Changing several memberships at once is all or nothing.  The admins
        group cannot be removed, nor its last member.
        """
    arguments = (
        arg(
            "action",
            choices=("add", "del", "list", "add-member", "rm-member"),
            help="what to do",
        ),
        arg("name", nargs="?", metavar="GROUP", complete=Complete.GROUP, help="the group"),
        arg(
            "users",
            nargs="*",
            metavar="USER",
            complete=Complete.USER,
            help="for add-member and rm-member: the users",
        ),
    )

    def run(self, inv: Invocation) -> None:
        membership = inv.args.action in ("add-member", "rm-member")
        if membership and not inv.args.users:
            raise UsageError(f"group {inv.args.action} needs a GROUP and at least one USER")
        if not membership and inv.args.users:
            raise UsageError(f"group {inv.args.action} takes no USER")
        _dispatch(
            inv,
            {
                "add": self.add,
                "del": self.delete,
                "list": self.list_all,
                "add-member": self.add_members,
                "rm-member": self.remove_members,
            },
        )

    def add(self, inv: Invocation) -> None:
        self._change(inv, admin.add_group, "created")

    def delete(self, inv: Invocation) -> None:
        self._change(inv, admin.delete_group, "removed")

    def _change(self, inv: Invocation, change: Callable[[StoreView, str], None], done: str) -> None:
        _check_action_arguments(inv, needs_name=True)
        name = str(inv.args.name)
        inv.view(lambda view: change(view, name), write=True)
        inv.emit({"group": name, done: True}, f"group {name} {done}")

    def list_all(self, inv: Invocation) -> None:
        _check_action_arguments(inv, needs_name=False)
        inv.listing(
            inv.view(admin.list_groups),
            ("GROUP", "MEMBERS"),
            lambda d: [d["name"], ",".join(d["members"])],
        )

    def add_members(self, inv: Invocation) -> None:
        self._members(inv, admin.add_member, "added to")

    def remove_members(self, inv: Invocation) -> None:
        self._members(inv, admin.remove_member, "removed from")

    def _members(
        self, inv: Invocation, change: Callable[[StoreView, str, str], None], done: str
    ) -> None:
        """Change every named membership in one transaction: all of them or none."""
        group, users = str(inv.args.name), [str(user) for user in inv.args.users]

        def apply(view: StoreView) -> list[str]:
            for user in users:
                change(view, group, user)
            return sorted(view.root.principals.get_group(group).members)

        members = inv.view(apply, write=True)
        inv.emit({"name": group, "members": members}, f"{', '.join(users)} {done} {group}")


class ChangeOwner(Command):
    name = "chown"
    summary = "give objects to another user (administrators)"
    arguments = (
        recursive_arg("also everything below the named containers"),
        arg("owner", metavar="USER", complete=Complete.USER, help="the new owner"),
        paths_arg("objects to give away (wildcards allowed)", optional=True),
        *query_arguments("give away"),
    )
    details = """
        chown --query EXPR [--in PATH] [-r] USER gives every object the query
        matches in one transaction.  --json: {"count", "changed"} (objects
        whose owner changed, below the matches too with -r).
    """

    def run(self, inv: Invocation) -> int | None:
        owner, cwd, recursive = str(inv.args.owner), inv.session.cwd, inv.args.recursive
        if check_query_usage(inv, bool(inv.args.paths), "chown --query EXPR [-r] USER"):
            change = bulk_edits.ChangeOwner(owner, recursive, f"query {inv.args.query}")
            run_bulk(
                inv,
                lambda view: change,
                lambda outcome: f"gave {plural(outcome.count)} to {owner}",
            )
            return None
        if not inv.args.paths:
            raise UsageError("usage: chown [-r] USER PATH…, or chown --query EXPR USER")

        def one(path: str) -> None:
            def change(view: StoreView) -> tuple[str, int]:
                view.require_admin(path)  # before resolving: a refusal reveals nothing
                obj = view.resolve(path, cwd)
                return obj.path, view.change_owner(obj, path, owner, recursive)

            absolute, changed = inv.view(change, write=True)
            if inv.json:
                inv.out.json({"path": absolute, "owner": owner, "changed": changed})

        return inv.each(inv.args.paths, one)


def parse_since(text: str, now: float | None = None) -> float:
    """``--since``: an ISO timestamp (UTC unless it names a zone) or an age (``2h``, ``1d12h``)."""
    return parse_moment(text, "--since", now)


class Audit(Command):
    name = "audit"
    summary = "the audit trail: logins, failed logins, user, group, key and ACL changes"
    details = """
        Oldest first.  Actions: login, login-failed (actor ANONYMOUS@), passwd,
        passwd-failed, key-add, key-rm, user-add, user-del, group-add, group-del,
        group-add-member, group-rm-member, chown, and the ACL edits.  No event
        holds a password.  --json prints one line per event:
          {"time": ..., "actor": ..., "action": ..., "target": ..., "detail": ...}
        """
    arguments = (
        arg("--user", complete=Complete.USER, help="only events by or about this user"),
        arg("--since", metavar="T", help="only events since T: ISO time, or an age like 2h, 3d"),
        arg(
            "-n",
            dest="count",
            type=at_least(1),
            metavar="N",
            help=f"the newest N events (default {DEFAULT_AUDIT_EVENTS})",
        ),
    )

    def run(self, inv: Invocation) -> None:
        args = inv.args
        since = parse_since(args.since) if args.since is not None else None
        user = str(args.user) if args.user is not None else None
        found = inv.view(lambda view: admin.audit_events(view, user=user, since=since))
        count = args.count or DEFAULT_AUDIT_EVENTS
        inv.listing(
            [event.to_json() for event in found[-count:]],
            ("TIME (UTC)", "ACTOR", "ACTION", "TARGET", "DETAIL"),
            # The CDMI timestamp to the second: 2024-05-01T12:00:03.123456Z
            lambda d: [
                d["time"][:19].replace("T", " "),
                d["actor"],
                d["action"],
                d["target"],
                d["detail"],
            ],
        )
        if args.count is None and len(found) > count:
            inv.out.flush()
            inv.warn(f"showing the newest {count} of {len(found)} events; use -n N for more")


COMMANDS = (Users, Groups, ChangeOwner, Audit)
