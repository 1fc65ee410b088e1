"""Administering principals through a :class:`StoreView`: checked and audited.

Creating and removing users and groups and changing memberships are for
administrators; changing a password or keys is for the account's owner or an
administrator (:meth:`StoreView.editable_user`).  Every change is written to
the audit trail in the same transaction, without any secret in it.

Two guards keep a store administrable: the ``admins`` group cannot be
removed, and its last member can be neither removed from it nor deleted.

A user who is not an administrator must give their current password to
change it (:func:`set_password`), so a session left open, or one opened with
a key, cannot take over the password too.

Every user added gets a home, ``/home/NAME``, owned by them and, as the
root's ACL gives owners alone their objects, private to them (and
administrators).  It is made here, so the shell's ``user add`` and the
offline ``omsh user add`` make the same one.  Users added before homes
existed get none retroactively; an administrator can make one with
``mkdir -p /home/NAME`` and ``chown NAME /home/NAME``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from omsh.errors import AlreadyExists, OmshError, PermissionDenied
from omsh.store.access import ADMIN_GROUP, Perm
from omsh.store.acl import ACE, INHERIT, AceType
from omsh.store.audit import AuditEvent
from omsh.store.metadata import format_timestamp
from omsh.store.model import Container
from omsh.store.principals import HOMES, AuthorizedKey, User, home_path, verify_password
from omsh.store.view import StoreView


class LastAdministrator(OmshError):
    def __init__(self, subject: str) -> None:
        super().__init__("cannot remove the last administrator", subject=subject)


class WrongPassword(PermissionDenied):
    """The current password, needed to change one's own, was missing or wrong."""

    def __init__(self, subject: str) -> None:
        super().__init__(subject, "current password is incorrect; nothing changed")


def _admins(view: StoreView) -> set[str]:
    return set(view.root.principals.get_group(ADMIN_GROUP).members)


def add_user(
    view: StoreView,
    name: str,
    *,
    password: str | None = None,
    keys: Iterable[AuthorizedKey] = (),
    groups: Iterable[str] = (),
) -> User:
    view.require_admin(name)
    principals = view.root.principals
    groups = list(groups)
    for group in groups:
        principals.get_group(group)  # all must exist before anything changes
    user = principals.add_user(name)
    if password:
        user.set_password(password)
    for key in keys:
        user.add_key(key)
    for group in groups:
        principals.add_member(group, name)
    home_made = make_home(view, name)
    view.audit("user-add", name, _describe_new_user(user, groups, home_made))
    return user


def make_home(view: StoreView, name: str) -> bool:
    """Give *name* ``/home/NAME``, owned by them and all theirs; False if one exists.

    An existing home (kept when an earlier account of that name was
    removed) is left exactly as it is: its owner is the name, so it is the
    new account's again, as with ``useradd`` and an existing directory.
    ``/home`` itself, when missing, is made owned by the root's owner, so
    only administrators may list it.
    """
    homes = view.lookup(HOMES)
    if homes is None:
        homes = view.make_container(HOMES)
        homes.owner = view.root.tree.owner
        view.root.catalog.index(homes)
    path = home_path(name)
    if view.lookup(path) is not None:
        return False
    home = view.make_container(path)
    home.owner = name
    # Everything in it is theirs, whoever put it there (an administrator, or
    # someone they let write): OWNER@ alone would hide such objects from them.
    home.acl = (ACE(AceType.ALLOW, name, INHERIT, Perm.all()),)
    view.root.catalog.index(home)
    return True


def existing_home(view: StoreView, name: str) -> str | None:
    """The path of *name*'s home if that container exists, else None."""
    path = home_path(name)
    return path if isinstance(view.lookup(path), Container) else None


def start_container(view: StoreView) -> str:
    """Where the caller's sessions start: their home if it exists, else ``/``."""
    return existing_home(view, view.principal.name) or "/"


def _describe_new_user(user: User, groups: list[str], home_made: bool) -> str:
    """The audit detail of ``user-add``: groups, home and which credentials, no secret."""
    facts = [f"groups={','.join(groups)}"] if groups else []
    facts.append(f"home={home_path(user.name)}" + ("" if home_made else " (existing)"))
    if user.password_hash:
        facts.append("password=set")
    facts += [f"key={key.fingerprint}" for key in user.keys]
    return " ".join(facts)


def delete_user(view: StoreView, name: str, *, remove_home: bool = False) -> str | None:
    """Remove a user; objects they own keep ``cdmi_owner`` (like an orphaned uid).

    Their home is kept unless *remove_home* (``user del --remove-home``), so
    nothing is lost by default.  Returns the home's path if there is one
    (kept or removed), for the caller to report.
    """
    view.require_admin(name)
    principals = view.root.principals
    principals.get_user(name)
    if _admins(view) == {name}:
        raise LastAdministrator(name)
    for group in principals.groups.values():
        if name in group.members:
            group.members.remove(name)
    del principals.users[name]
    home = existing_home(view, name)
    if home is not None and remove_home:
        view.remove(home, recursive=True)
    fate = "" if home is None else f"home={home} {'removed' if remove_home else 'kept'}"
    view.audit("user-del", name, fate)
    return home


def describe_user(view: StoreView, name: str | None = None) -> dict[str, Any]:
    """An account as ``user show`` prints it: the caller's own, or any for an admin."""
    user = view.editable_user(name)
    return {
        "name": user.name,
        "groups": sorted(view.root.principals.groups_of(user.name)),
        "admin": user.name in _admins(view),
        "password": user.password_hash is not None,
        "keys": [
            {"fingerprint": key.fingerprint, "algorithm": key.algorithm, "comment": key.comment}
            for key in user.keys
        ],
        "created": format_timestamp(user.created),
        "home": existing_home(view, user.name),
    }


def list_users(view: StoreView) -> list[dict[str, Any]]:
    view.require_admin()
    return [describe_user(view, name) for name in view.root.principals.users]


def known_principals(view: StoreView, prefix: str, *, groups: bool, limit: int) -> list[str]:
    """User (with *groups*, group) names starting with *prefix* the caller may know of.

    Listing users and groups is an administrator's right (``user list``,
    ``group list``), so anyone else learns only their own name and groups.
    Sorted; at most *limit* names.
    """
    principal = view.principal
    if not principal.is_admin:
        own = principal.groups if groups else {principal.name}
        return sorted(name for name in own if name.startswith(prefix))[:limit]
    directory = view.root.principals.groups if groups else view.root.principals.users
    names: list[str] = []
    for name in directory.keys(min=prefix):
        if not name.startswith(prefix) or len(names) >= limit:
            break
        names.append(name)
    return names


def add_group(view: StoreView, name: str) -> None:
    view.require_admin(name)
    view.root.principals.add_group(name)
    view.audit("group-add", name)


def delete_group(view: StoreView, name: str) -> None:
    view.require_admin(name)
    principals = view.root.principals
    principals.get_group(name)
    if name == ADMIN_GROUP:
        raise OmshError("the admins group cannot be removed", subject=name)
    del principals.groups[name]
    view.audit("group-del", name)


def list_groups(view: StoreView) -> list[dict[str, Any]]:
    view.require_admin()
    return [
        {"name": name, "members": sorted(group.members)}
        for name, group in view.root.principals.groups.items()
    ]


def add_member(view: StoreView, group: str, user: str) -> None:
    """Audited as a change to *user* (``audit --user`` shows who was made admin)."""
    view.require_admin(group)
    principals = view.root.principals
    if user in principals.get_group(group).members:
        raise AlreadyExists(group, f"{user} is already a member")
    principals.add_member(group, user)
    view.audit("group-add-member", user, f"group={group}")


def remove_member(view: StoreView, group: str, user: str) -> None:
    view.require_admin(group)
    members = view.root.principals.get_group(group).members
    if user not in members:
        raise OmshError(f"{user} is not a member", subject=group)
    if group == ADMIN_GROUP and set(members) == {user}:
        raise LastAdministrator(user)
    members.remove(user)
    view.audit("group-rm-member", user, f"group={group}")


def needs_current_password(view: StoreView, user: User) -> bool:
    """Whether changing *user*'s password takes the current one.

    Everyone but an administrator does, when there is a password to give (a
    key-only account sets its first password without one).  A non-admin can
    only ever reach their own account (:meth:`StoreView.editable_user`).
    """
    return not view.principal.is_admin and user.password_hash is not None


def set_password(
    view: StoreView, user_name: str | None, password: str, *, current: str | None = None
) -> None:
    """Set a password; *current* is checked when :func:`needs_current_password`.

    A wrong *current* raises :class:`WrongPassword`, and nothing changes.
    """
    user = view.editable_user(user_name)
    if needs_current_password(view, user) and not (
        current is not None and verify_password(user.password_hash, current)
    ):
        raise WrongPassword(user.name)
    user.set_password(password)
    view.audit("passwd", user.name)


def add_keys(view: StoreView, user_name: str | None, keys: Iterable[AuthorizedKey]) -> None:
    user = view.editable_user(user_name)
    for key in keys:
        user.add_key(key)
        view.audit("key-add", user.name, key.fingerprint)


def remove_key(view: StoreView, user_name: str | None, selector: str) -> AuthorizedKey:
    user = view.editable_user(user_name)
    removed = user.remove_key(selector)
    view.audit("key-rm", user.name, removed.fingerprint)
    return removed


def record_wrong_password(view: StoreView, user_name: str) -> None:
    """Audit a refused password change in a transaction of its own.

    The change's transaction was rolled back, and its audit entry with it;
    a guess at the current password is worth recording all the same.
    """
    view.audit("passwd-failed", user_name, "wrong current password")


def audit_events(
    view: StoreView,
    *,
    user: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> list[AuditEvent]:
    """The audit trail, oldest first (administrators only); see :meth:`AuditLog.events`."""
    view.require_admin()
    return view.root.audit.events(user=user, since=since, limit=limit)
