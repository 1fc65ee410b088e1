"""Administering principals through a :class:`StoreView`: checked and audited.

Creating and removing users and groups and changing memberships are for
administrators; changing a password or keys is for the account's owner or an
administrator (:meth:`StoreView.editable_user`).  Every change is written to
the audit trail in the same transaction, without any secret in it.

Two guards keep a store administrable: the ``admins`` group cannot be
removed, and its last member can be neither removed from it nor deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from omsh.errors import OmshError
from omsh.store.access import ADMIN_GROUP
from omsh.store.principals import AuthorizedKey, User
from omsh.store.view import StoreView


class LastAdministrator(OmshError):
    def __init__(self, subject: str) -> None:
        super().__init__("cannot remove the last administrator", subject=subject)


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
    view.audit("user-add", name, f"groups={','.join(groups)}" if groups else "")
    return user


def delete_user(view: StoreView, name: str) -> None:
    """Remove a user; objects they own keep ``cdmi_owner`` (like an orphaned uid)."""
    view.require_admin(name)
    principals = view.root.principals
    principals.get_user(name)
    if _admins(view) == {name}:
        raise LastAdministrator(name)
    for group in principals.groups.values():
        if name in group.members:
            group.members.remove(name)
    del principals.users[name]
    view.audit("user-del", name)


def describe_user(view: StoreView, name: str | None = None) -> dict[str, Any]:
    """An account as ``user show`` prints it: the caller's own, or any for an admin."""
    user = view.editable_user(name)
    from omsh.store.metadata import format_timestamp

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
    }


def list_users(view: StoreView) -> list[dict[str, Any]]:
    view.require_admin()
    return [describe_user(view, name) for name in view.root.principals.users]


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
    view.require_admin(group)
    view.root.principals.add_member(group, user)
    view.audit("group-add-member", group, f"user={user}")


def remove_member(view: StoreView, group: str, user: str) -> None:
    view.require_admin(group)
    members = view.root.principals.get_group(group).members
    if user not in members:
        raise OmshError(f"{user} is not a member", subject=group)
    if group == ADMIN_GROUP and set(members) == {user}:
        raise LastAdministrator(user)
    members.remove(user)
    view.audit("group-rm-member", group, f"user={user}")


def set_password(view: StoreView, user_name: str | None, password: str) -> None:
    user = view.editable_user(user_name)
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
